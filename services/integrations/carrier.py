"""The carrier's API: line operations under an idempotency key, operation look-up, line state, webhooks.

An answer is classified for the ledger: 2xx -> succeeded (the carrier accepted and applies it),
4xx -> failed (the carrier said no: invalid transition, unknown line, bad request), 5xx, 408, 429,
timeout or a broken connection -> unknown (it may have happened; retrying with the same key is safe).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.config import settings

SIGNATURE_HEADER = "X-Sandbox-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# The ledger's operation name -> the carrier's path segment.
OPERATION_PATHS = {"activate": "activate", "suspend": "suspend", "resume": "resume", "terminate": "terminate"}
# 4xx answers that mean "not now" rather than "no": the request was not carried out, retry later.
TRANSIENT_CLIENT_ERRORS = frozenset({408, 425, 429})
BODY_KEPT_CHARS = 4000


class CarrierUnreachable(Exception):
    """The carrier did not give a usable answer to a query."""


@dataclass(frozen=True)
class CallResult:
    """One call's outcome for the ledger, with what was sent and what came back."""

    outcome: str  # "succeeded" | "failed" | "unknown"
    status_code: int | None
    body: str
    error: str | None
    duration_ms: int
    request: dict[str, Any] = field(default_factory=dict)

    def message(self) -> str:
        """The carrier's own words (its JSON `message` or `error`), else the transport error."""
        try:
            data = json.loads(self.body) if self.body else {}
        except ValueError:
            data = {}
        if isinstance(data, dict) and (data.get("message") or data.get("error")):
            return str(data.get("message") or data.get("error"))
        return self.error or (f"HTTP {self.status_code}" if self.status_code else "no answer")


def classify(status_code: int) -> str:
    """The outcome an HTTP status means for an operation that was sent."""
    if 200 <= status_code < 300:
        return "succeeded"
    if status_code in TRANSIENT_CLIENT_ERRORS or status_code >= 500:
        return "unknown"
    return "failed"


def sign(body: bytes, secret: str) -> str:
    """The signature header value of `body`: sha256=<HMAC-SHA256 hex digest>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    """True when `header` is the signature of `body` under `secret` (constant-time comparison)."""
    return bool(header) and hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())


class CarrierClient:
    """An httpx client of the carrier API with explicit connect and read timeouts (thread-safe)."""

    def __init__(self, base_url: str | None = None, *, connect_timeout: float | None = None,
                 read_timeout: float | None = None, transport: httpx.BaseTransport | None = None):
        read = settings.carrier_read_timeout_seconds if read_timeout is None else read_timeout
        connect = settings.carrier_connect_timeout_seconds if connect_timeout is None else connect_timeout
        self.http = httpx.Client(
            base_url=(base_url or settings.carrier_url).rstrip("/"), transport=transport, trust_env=False,
            timeout=httpx.Timeout(read, connect=connect, pool=connect),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def call(self, operation: Mapping[str, Any]) -> CallResult:
        """Send one line operation (provider, operation, idempotency_key, payload) and classify the answer.

        The payload's `msisdn` (digits, no "+") names the line; the rest is the request body,
        identical on every retry so the carrier recognises the key.
        """
        payload = dict(operation.get("payload") or {})
        msisdn = str(payload.pop("msisdn", "")).lstrip("+")
        segment = OPERATION_PATHS.get(str(operation.get("operation")))
        path = f"/lines/{msisdn}/{segment}"
        request = {"method": "POST", "path": path, "idempotency_key": operation["idempotency_key"], "json": payload}
        if segment is None or not msisdn:
            return CallResult("failed", None, "", f"unsupported carrier operation {operation.get('operation')!r}"
                              " or no msisdn", 0, request)
        started = time.monotonic()
        try:
            response = self.http.post(path, json=payload,
                                      headers={IDEMPOTENCY_HEADER: operation["idempotency_key"]})
        except httpx.HTTPError as exc:
            return CallResult("unknown", None, "", f"{type(exc).__name__}: {exc}"[:500], _ms(started), request)
        body = response.text[:BODY_KEPT_CHARS]
        outcome = classify(response.status_code)
        error = None if outcome == "succeeded" else f"HTTP {response.status_code}"
        return CallResult(outcome, response.status_code, body, error, _ms(started), request)

    def lookup(self, idempotency_key: str) -> str:
        """Did the carrier apply the operation sent under this key? "applied", "not_applied" or "unreachable"."""
        try:
            response = self.http.get("/operations", params={"idempotency_key": idempotency_key})
            if response.status_code != 200:
                return "unreachable"
            found = [op for op in response.json().get("operations", [])
                     if op.get("idempotency_key") == idempotency_key]
        except (httpx.HTTPError, ValueError, AttributeError):
            return "unreachable"
        return "applied" if found else "not_applied"

    def line(self, msisdn: str) -> dict[str, Any] | None:
        """The line as the carrier sees it (state, plan...), None when the carrier has no such line.

        Raises CarrierUnreachable when the carrier gives no usable answer.
        """
        try:
            response = self.http.get(f"/lines/{msisdn.lstrip('+')}")
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise CarrierUnreachable(f"HTTP {response.status_code}")
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise CarrierUnreachable(f"{type(exc).__name__}: {exc}") from exc


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


_default: CarrierClient | None = None
_default_lock = threading.Lock()


def default_client() -> CarrierClient:
    """The process-wide client for the configured carrier URL."""
    global _default
    with _default_lock:
        if _default is None:
            _default = CarrierClient()
        return _default
