"""The domain: ledger models, lifecycles, permissions, audit and every business operation.

Nothing in this package imports the UI (reflex, state, components, telecom_app) or the sandbox.
"""
