"""The payment gateway's API: card charges and refunds under an idempotency key, look-up, settlement report.

Answers are classified as for every provider (services.integrations.http): 2xx succeeded; 4xx the
gateway said no — a 402 card_declined / insufficient_funds is a business "no" (failed), as is a 409
refund the charge cannot carry; 5xx, 408, 425, 429, a timeout or a broken connection unknown.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import httpx

from services.integrations.http import CallResult, HttpProvider, unsupported
from services.platform.config import settings

DECLINED = 402  # the card was refused (card_declined, insufficient_funds): the gateway's final "no"
SETTLEMENT_COLUMNS = ("date", "type", "id", "charge_id", "customer_ref", "idempotency_key", "amount", "fee", "net",
                      "created_at")


class PaymentUnreachable(Exception):
    """The gateway did not give a usable answer to a query."""


class PaymentClient(HttpProvider):
    """The payment gateway API client (thread-safe)."""

    def __init__(self, base_url: str | None = None, *, connect_timeout: float | None = None,
                 read_timeout: float | None = None, transport: httpx.BaseTransport | None = None):
        super().__init__(base_url or settings.payment_url, connect_timeout=connect_timeout,
                         read_timeout=read_timeout, transport=transport)

    def call(self, operation: Mapping[str, Any]) -> CallResult:
        """Send one charge or refund (provider, operation, idempotency_key, payload) and classify the answer.

        charge: POST /charges with the payload as stored (a decline's error names its failure code). refund: POST /charges/{charge_id}/refunds,
        the payload's `charge_id` naming the charge and the rest (amount, reason) as the body. checkout: POST
        /checkout/sessions (the answer names the hosted page's url); expire_checkout: POST
        /checkout/sessions/{session_id}/expire; card_setup: POST /setup/sessions (the page in setup mode that
        registers a card for later charges).
        """
        payload = dict(operation.get("payload") or {})
        key = operation["idempotency_key"]
        if operation.get("operation") == "charge":
            result = self.post("/charges", payload, key)
            code = result.json().get("failure_code") if result.status_code == DECLINED else None
            return replace(result, error=f"HTTP {DECLINED} {code}") if code else result
        if operation.get("operation") == "refund":
            charge_id = str(payload.pop("charge_id", "") or "")
            if not charge_id:
                return unsupported(operation, "a refund needs the charge_id")
            return self.post(f"/charges/{charge_id}/refunds", payload, key)
        if operation.get("operation") == "checkout":
            return self.post("/checkout/sessions", payload, key)
        if operation.get("operation") == "card_setup":
            return self.post("/setup/sessions", payload, key)
        if operation.get("operation") == "expire_checkout":
            session_id = str(payload.pop("session_id", "") or "")
            if not session_id:
                return unsupported(operation, "closing a checkout needs the session_id")
            return self.post(f"/checkout/sessions/{session_id}/expire", payload, key)
        return unsupported(operation, "unsupported payment operation")

    def lookup(self, idempotency_key: str) -> str:
        """Did the gateway carry out the charge / refund sent under this key? applied, not_applied or unreachable.

        A charge the gateway declined is "not_applied": sending it again under the same key replays
        the decline, which settles the operation as failed.
        """
        pages = {"payment-checkout-": "/checkout/sessions", "payment-card_setup-": "/setup/sessions"}
        path = "/refunds" if idempotency_key.startswith("payment-refund-") else next(
            (found for prefix, found in pages.items() if idempotency_key.startswith(prefix)), "/charges")
        try:
            response = self.http.get(path, params={"idempotency_key": idempotency_key})
            if response.status_code != 200:
                return "unreachable"
            found = [row for row in response.json().get("data", [])
                     if isinstance(row, dict) and row.get("idempotency_key") == idempotency_key]
        except (httpx.HTTPError, ValueError, AttributeError):
            return "unreachable"
        if path in pages.values():  # a page the gateway opened (whatever became of it since)
            return "applied" if found else "not_applied"
        return "applied" if any(row.get("status") == "succeeded" for row in found) else "not_applied"

    def settlement_report(self, day: date) -> list[dict[str, str]]:
        """The gateway's settlement report of one Tokyo day: its succeeded charges and refunds (CSV rows).

        Refund amounts are negative. Raises PaymentUnreachable when the report cannot be fetched or read.
        """
        try:
            response = self.http.get("/reports/settlement", params={"date": day.isoformat()})
        except httpx.HTTPError as exc:
            raise PaymentUnreachable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise PaymentUnreachable(f"HTTP {response.status_code}")
        reader = csv.DictReader(io.StringIO(response.text))
        missing = set(SETTLEMENT_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise PaymentUnreachable(f"the settlement report lacks columns {sorted(missing)}")
        return list(reader)


_default: PaymentClient | None = None
_default_lock = threading.Lock()


def default_client() -> PaymentClient:
    """The process-wide client for the configured payment gateway URL."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PaymentClient()
        return _default
