"""The kernel: knows no domain. Settings, database sessions, errors, permissions, the audit trail, the lifecycle mechanism, time and money formatting, encryption, text and identifiers."""
