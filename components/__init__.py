"""Reusable UI pieces: the shell, status badges, tables, form fields, confirmation dialogs."""
