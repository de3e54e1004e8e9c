"""What every provider client shares: httpx with explicit timeouts, idempotency keys, answer classification.

An answer is classified for the ledger: 2xx -> succeeded (the provider accepted and applies it),
4xx -> failed (the provider said no), 5xx, 408, 425, 429, a timeout or a broken connection ->
unknown (it may have happened; retrying with the same key is safe). Webhooks from every provider
are signed the same way (HMAC-SHA256 of the body).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from services.platform.config import settings

SIGNATURE_HEADER = "X-Sandbox-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# 4xx answers that mean "not now" rather than "no": the request was not carried out, retry later.
TRANSIENT_CLIENT_ERRORS = frozenset({408, 425, 429})
BODY_KEPT_CHARS = 4000
LOOKUP_ANSWERS = ("applied", "not_applied", "unreachable")


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
        """The provider's own words (its JSON `message` or `error`), else the transport error."""
        data = self.json()
        if data.get("message") or data.get("error"):
            return str(data.get("message") or data.get("error"))
        return self.error or (f"HTTP {self.status_code}" if self.status_code else "no answer")

    def json(self) -> dict[str, Any]:
        """The answer's JSON object, {} when there is none."""
        try:
            data = json.loads(self.body) if self.body else {}
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


class ProviderClient(Protocol):
    """What the outbox needs from a provider: carry out one operation, and look one up by its key."""

    def call(self, operation: Mapping[str, Any]) -> CallResult:
        """Send one operation (provider, operation, idempotency_key, payload) and classify the answer."""

    def lookup(self, idempotency_key: str) -> str:
        """Did the provider apply the operation sent under this key? One of LOOKUP_ANSWERS."""


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
    """True when `header` is the signature of `body` under `secret` (constant-time; never with an empty secret)."""
    return bool(header) and bool(secret) and hmac.compare_digest(sign(body, secret).encode(), header.strip().encode())


def unsupported(operation: Mapping[str, Any], why: str) -> CallResult:
    """The result of an operation this client cannot send (a bug or bad payload: failed, never retried)."""
    return CallResult("failed", None, "", f"{operation.get('provider')}.{operation.get('operation')}: {why}", 0,
                      {"operation": operation.get("operation")})


class HttpProvider:
    """An httpx client of one provider's API with explicit connect and read timeouts (thread-safe)."""

    def __init__(self, base_url: str, *, connect_timeout: float | None = None, read_timeout: float | None = None,
                 transport: httpx.BaseTransport | None = None, headers: Mapping[str, str] | None = None):
        read = settings.carrier_read_timeout_seconds if read_timeout is None else read_timeout
        connect = settings.carrier_connect_timeout_seconds if connect_timeout is None else connect_timeout
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), transport=transport, trust_env=False, headers=dict(headers or {}),
            timeout=httpx.Timeout(read, connect=connect, pool=connect),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def post(self, path: str, payload: Mapping[str, Any], key: str, *,
             headers: Mapping[str, str] | None = None) -> CallResult:
        """POST `payload` under the idempotency key and classify the answer (never raises for HTTP trouble)."""
        request = {"method": "POST", "path": path, "idempotency_key": key, "json": dict(payload)}
        started = time.monotonic()
        try:
            response = self.http.post(path, json=dict(payload), headers={IDEMPOTENCY_HEADER: key, **(headers or {})})
        except httpx.HTTPError as exc:
            return CallResult("unknown", None, "", f"{type(exc).__name__}: {exc}"[:500], elapsed_ms(started), request)
        return result_of(response, started, request)

    def find_by_key(self, path: str, idempotency_key: str, *, key_field: str = "idempotency_key",
                    list_field: str = "data") -> str:
        """Look an operation up with GET path?idempotency_key=K: applied, not_applied or unreachable."""
        try:
            response = self.http.get(path, params={"idempotency_key": idempotency_key})
            if response.status_code != 200:
                return "unreachable"
            found = [row for row in response.json().get(list_field, [])
                     if isinstance(row, dict) and row.get(key_field) == idempotency_key]
        except (httpx.HTTPError, ValueError, AttributeError):
            return "unreachable"
        return "applied" if found else "not_applied"


def result_of(response: httpx.Response, started: float, request: dict[str, Any],
              outcome: str | None = None) -> CallResult:
    """A CallResult from an HTTP answer (outcome from the status unless given)."""
    outcome = outcome or classify(response.status_code)
    error = None if outcome == "succeeded" else f"HTTP {response.status_code}"
    return CallResult(outcome, response.status_code, response.text[:BODY_KEPT_CHARS], error, elapsed_ms(started),
                      request)


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started` (time.monotonic())."""
    return int((time.monotonic() - started) * 1000)
