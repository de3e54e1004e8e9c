"""Pieces of the customer app (/my): its phone-first shell."""
