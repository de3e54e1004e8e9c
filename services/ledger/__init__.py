"""The ledger's own business: customers, contracts, lines, SIMs and devices, tickets, identity checks and their records, shipments, notifications, provisioning at the carrier, usage and data caps."""
