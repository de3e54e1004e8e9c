"""State of the customer app (/my): every handler guarded for the customer audience or deliberately public."""
