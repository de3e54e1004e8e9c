"""Signed webhook delivery shared by the sandbox providers.

Every event is a JSON object ``{"id", "type", "provider", "created_at", "timestamp", "subject",
"sequence", "data"}``: `id` is unique per event (a duplicate delivery repeats it), `sequence` counts
the events of one subject (an MSISDN, a charge, a shipment...) from 1, so a receiver can see that
events arrived out of order. The raw body is signed with HMAC-SHA256 under the shared secret:

    X-Sandbox-Signature: sha256=<hex digest of the body>
    X-Sandbox-Event-Id: <id>        X-Sandbox-Timestamp: <unix seconds>    X-Sandbox-Provider: <name>

A delivery that fails (connection error or non-2xx) is retried with exponential back-off. The
provider's fault settings can duplicate or re-order deliveries.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import httpx

from sandbox.faults import Faults

SIGNATURE_HEADER = "X-Sandbox-Signature"
MAX_ATTEMPTS = 5
RETRY_BASE_SECONDS = 0.5
DELIVERY_TIMEOUT_SECONDS = 5.0
CONCURRENT_DELIVERIES = 16  # more would queue inside httpx's pool, whose bookkeeping grows with the queue
DUPLICATE_GAP_SECONDS = (0.02, 0.15)
REORDER_GAP_SECONDS = 0.03


def sign(secret: str, body: bytes) -> str:
    """The X-Sandbox-Signature value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """True when `signature` is the X-Sandbox-Signature of `body` under `secret`."""
    return bool(signature) and hmac.compare_digest(sign(secret, body), signature)


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


Spawn = Callable[[Coroutine[Any, Any, Any]], asyncio.Task]


class WebhookSender:
    """Builds, signs and delivers one provider's events; keeps the events and every delivery attempt."""

    def __init__(self, provider: str, secret: str, faults: Faults, spawn: Spawn):
        self.provider = provider
        self.secret = secret
        self.faults = faults
        self.spawn = spawn
        self.client: httpx.AsyncClient | None = None
        self.slots: asyncio.Semaphore | None = None
        self.reset()

    def reset(self) -> None:
        """Forget events, deliveries, sequences and held (re-ordered) deliveries."""
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self.sequences: dict[str, int] = defaultdict(int)
        self.held: list[tuple[bytes, dict[str, Any], str, int]] = []
        self.flush_scheduled = False

    async def close(self) -> None:
        """Close the HTTP client."""
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    def emit(self, event_type: str, subject: str, data: dict[str, Any], urls: list[str | None]) -> dict[str, Any]:
        """Create one event for `subject` and deliver it to each URL (None entries are skipped)."""
        self.sequences[subject] += 1
        now = time.time()
        event = {
            "id": "evt_" + secrets.token_hex(12),
            "type": event_type,
            "provider": self.provider,
            "created_at": utc_now(),
            "timestamp": int(now),
            "subject": subject,
            "sequence": self.sequences[subject],
            "data": data,
        }
        targets = list(dict.fromkeys(u for u in urls if u))
        self.events.append(event | {"delivered_to": targets})
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
        settings = self.faults.settings
        copies = 2 if settings.duplicate_webhooks else 1
        for url in targets:
            for copy in range(1, copies + 1):
                if settings.reorder_webhooks:
                    self._hold(body, event, url, copy)
                else:
                    delay = 0.0 if copy == 1 else self.faults.webhook_rng.uniform(*DUPLICATE_GAP_SECONDS)
                    self.spawn(self._deliver(body, event, url, copy, delay))
        return event

    def _hold(self, body: bytes, event: dict[str, Any], url: str, copy: int) -> None:
        self.held.append((body, event, url, copy))
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.spawn(self._flush_held())

    async def _flush_held(self) -> None:
        await asyncio.sleep(self.faults.settings.reorder_window_ms / 1000)
        batch, self.held, self.flush_scheduled = self.held, [], False
        shuffled = list(batch)
        self.faults.webhook_rng.shuffle(shuffled)
        if len(batch) > 1 and shuffled == batch:
            shuffled.reverse()  # always out of order when there is an order to break
        # Spaced so they arrive in the shuffled order, the whole batch within one more window.
        gap = min(REORDER_GAP_SECONDS, self.faults.settings.reorder_window_ms / 1000 / max(1, len(shuffled)))
        for index, (body, event, url, copy) in enumerate(shuffled):
            self.spawn(self._deliver(body, event, url, copy, index * gap))

    async def _deliver(self, body: bytes, event: dict[str, Any], url: str, copy: int, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_SECONDS, trust_env=False, limits=httpx.Limits(
                max_connections=CONCURRENT_DELIVERIES, max_keepalive_connections=CONCURRENT_DELIVERIES))
            self.slots = asyncio.Semaphore(CONCURRENT_DELIVERIES)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret, body),
            "X-Sandbox-Event-Id": event["id"],
            "X-Sandbox-Timestamp": str(event["timestamp"]),
            "X-Sandbox-Provider": self.provider,
        }
        for attempt in range(1, MAX_ATTEMPTS + 1):
            record = {"event_id": event["id"], "type": event["type"], "url": url, "copy": copy,
                      "attempt": attempt, "at": utc_now(), "status_code": None, "error": None}
            try:
                async with self.slots:
                    record["at"] = utc_now()
                    self.deliveries.append(record)
                    response = await self.client.post(url, content=body, headers=headers)
                record["status_code"] = response.status_code
                if response.is_success:
                    return
            except httpx.HTTPError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
            if attempt < MAX_ATTEMPTS:
                await asyncio.sleep(RETRY_BASE_SECONDS * 2 ** (attempt - 1))
