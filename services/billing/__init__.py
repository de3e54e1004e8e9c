"""Money: invoices, payments and their allocation (消込), card charges, bank transfers, settlement reports."""
