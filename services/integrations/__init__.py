"""Clients of the external providers (httpx, explicit timeouts) and their webhook signatures; they know no domain.

Every client has `call(operation)` and `lookup(idempotency_key)` (services.integrations.http.ProviderClient);
the outbox (services.workflow.outbox) calls the one each provider registers.
"""
