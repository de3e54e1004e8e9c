"""Read models per audience: what each screen shows, filtered and masked for its reader; search."""
