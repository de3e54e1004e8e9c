"""The identity-verification (本人確認) provider's API: submit a check under an idempotency key, look it up.

The provider answers 202 at once and decides later; the result comes by a signed `check.completed`
webhook (services.ledger.kyc_checks.kyc_event). Answers are classified as for every provider
(services.integrations.http): 2xx succeeded, 4xx the provider said no, 5xx / timeout unknown.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import httpx

from services.integrations.http import CallResult, HttpProvider, unsupported
from services.platform.config import settings

# The ledger's identity-document types (services.ledger.customers.ID_DOCUMENT_TYPES) -> the provider's words.
DOCUMENT_TYPES = {"drivers_license": "drivers_license", "passport": "passport", "residence_card": "residence_card",
                  "health_insurance": "health_insurance_card", "my_number_card": "my_number_card"}
# What the provider receives of a submit payload (the rest is the ledger's own bookkeeping).
SUBMIT_FIELDS = ("applicant_ref", "name", "birth_date", "document_type")


class KycClient(HttpProvider):
    """The KYC provider client (thread-safe)."""

    def __init__(self, base_url: str | None = None, *, connect_timeout: float | None = None,
                 read_timeout: float | None = None, transport: httpx.BaseTransport | None = None):
        super().__init__(base_url or settings.kyc_url, connect_timeout=connect_timeout,
                         read_timeout=read_timeout, transport=transport)

    def call(self, operation: Mapping[str, Any]) -> CallResult:
        """Send one KYC operation ("submit" -> POST /checks) and classify the answer.

        The body is built from the payload's applicant_ref, name, birth_date and document_type,
        identical on every retry so the provider recognises the key.
        """
        if operation.get("operation") != "submit":
            return unsupported(operation, "unsupported kyc operation")
        payload = dict(operation.get("payload") or {})
        body = {name: payload[name] for name in SUBMIT_FIELDS if payload.get(name) is not None}
        if "document_type" in body:
            body["document_type"] = DOCUMENT_TYPES.get(body["document_type"], body["document_type"])
        if not body.get("applicant_ref") or not body.get("name"):
            return unsupported(operation, "applicant_ref and name are required")
        return self.post("/checks", body, operation["idempotency_key"])

    def lookup(self, idempotency_key: str) -> str:
        """Was a check submitted under this key? "applied", "not_applied" or "unreachable"."""
        return self.find_by_key("/checks", idempotency_key, list_field="data")


_default: KycClient | None = None
_default_lock = threading.Lock()


def default_client() -> KycClient:
    """The process-wide client for the configured KYC URL."""
    global _default
    with _default_lock:
        if _default is None:
            _default = KycClient()
        return _default
