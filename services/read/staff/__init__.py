"""Read models of the staff back office."""
