"""Demo data and demo accounts for trying the product on one machine (never for production)."""
