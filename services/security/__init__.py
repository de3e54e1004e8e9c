"""Who may come in and what they may see: staff sign-in and sessions, single sign-on, masking, the audit log for auditors, staff administration."""
