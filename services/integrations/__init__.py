"""Clients of the external providers (httpx, explicit timeouts) and their webhook signatures.

`client_for(provider)` is the process-wide client the outbox calls for an operation of that
provider; every client has `call(operation)` and `lookup(idempotency_key)`
(services.integrations.http.ProviderClient).
"""

from __future__ import annotations

import importlib

from services.integrations.http import ProviderClient

# provider -> the module whose default_client() returns its client
CLIENT_MODULES = {
    "carrier": "services.integrations.carrier",
    "kyc": "services.integrations.kyc",
    "logistics": "services.integrations.logistics",
    "messaging": "services.integrations.messaging",
    "payment": "services.integrations.payment",
}


def client_for(provider: str) -> ProviderClient:
    """The process-wide client of `provider` (KeyError for a provider the product does not know)."""
    return importlib.import_module(CLIENT_MODULES[provider]).default_client()
