"""The logistics provider's API: ship a SIM or device, request its return, look a request up by its key.

Tracking (picked up, in transit, delivered, return steps) comes by signed `shipment.<status>` webhooks
(services.ledger.shipments.logistics_event). Answers are classified as for every provider
(services.integrations.http): 2xx succeeded, 4xx the provider said no, 5xx / timeout unknown.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import httpx

from services.integrations.http import CallResult, HttpProvider, unsupported
from services.platform.config import settings

SHIP_FIELDS = ("order_ref", "item_type", "item_id", "recipient")


class LogisticsClient(HttpProvider):
    """The logistics provider client (thread-safe)."""

    def __init__(self, base_url: str | None = None, *, connect_timeout: float | None = None,
                 read_timeout: float | None = None, transport: httpx.BaseTransport | None = None):
        super().__init__(base_url or settings.logistics_url, connect_timeout=connect_timeout,
                         read_timeout=read_timeout, transport=transport)

    def call(self, operation: Mapping[str, Any]) -> CallResult:
        """Send one logistics operation and classify the answer.

        "ship" -> POST /shipments (order_ref, item_type, item_id, recipient); "return" -> POST
        /shipments/{provider_shipment_id}/return (reason). The body is identical on every retry.
        """
        payload = dict(operation.get("payload") or {})
        key = operation["idempotency_key"]
        if operation.get("operation") == "ship":
            return self.post("/shipments", {name: payload.get(name) for name in SHIP_FIELDS}, key)
        if operation.get("operation") == "return":
            shipment_id = str(payload.get("provider_shipment_id") or "")
            if not shipment_id:
                return unsupported(operation, "no provider_shipment_id")
            return self.post(f"/shipments/{shipment_id}/return", {"reason": payload.get("reason") or ""}, key)
        return unsupported(operation, "unsupported logistics operation")

    def lookup(self, idempotency_key: str) -> str:
        """Did the provider accept a shipment or return under this key? "applied", "not_applied" or "unreachable"."""
        try:
            response = self.http.get("/shipments", params={"idempotency_key": idempotency_key})
            if response.status_code != 200:
                return "unreachable"
            rows = response.json().get("data", [])
            found = [row for row in rows if isinstance(row, dict) and idempotency_key in (
                row.get("idempotency_key"), row.get("return_idempotency_key"))]
        except (httpx.HTTPError, ValueError, AttributeError):
            return "unreachable"
        return "applied" if found else "not_applied"


_default: LogisticsClient | None = None
_default_lock = threading.Lock()


def default_client() -> LogisticsClient:
    """The process-wide client for the configured logistics URL."""
    global _default
    with _default_lock:
        if _default is None:
            _default = LogisticsClient()
        return _default
