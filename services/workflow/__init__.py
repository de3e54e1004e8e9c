"""Generic engines that domains register with: approvals and their policies, the outbox and its providers, inbound webhooks, the review queue, report runs, task dispatch by name."""
