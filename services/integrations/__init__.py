"""Clients of the external providers (httpx, explicit timeouts) and their webhook signatures."""
