"""The customer app's pages (/my): phone first, Japanese by default."""
