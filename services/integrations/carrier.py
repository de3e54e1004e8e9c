"""The carrier's API: line operations under an idempotency key (with MNP 転出 reservations), operation look-up,
line state, daily report.

Answers are classified as for every provider (services.integrations.http): 2xx succeeded, 4xx the
carrier said no (invalid transition, unknown line), 5xx / timeout / broken connection unknown.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx

from services.integrations.http import CallResult, HttpProvider, unsupported
from services.platform.config import settings

# The ledger's operation name -> the carrier's path segment (the speed limit's body says {"enabled": ...}).
# An MNP 転出 reservation (mnp_reserve) answers with the 予約番号 and its last valid day:
# {"reservation_number": "1234567890", "expires_on": "YYYY-MM-DD"}.
OPERATION_PATHS = {"activate": "activate", "suspend": "suspend", "resume": "resume", "terminate": "terminate",
                   "throttle_on": "throttle", "throttle_off": "throttle", "change_plan": "plan",
                   "mnp_reserve": "mnp"}


class CarrierUnreachable(Exception):
    """The carrier did not give a usable answer to a query."""


class CarrierClient(HttpProvider):
    """The carrier API client (thread-safe)."""

    def __init__(self, base_url: str | None = None, *, connect_timeout: float | None = None,
                 read_timeout: float | None = None, transport: httpx.BaseTransport | None = None):
        super().__init__(base_url or settings.carrier_url, connect_timeout=connect_timeout,
                         read_timeout=read_timeout, transport=transport)

    def call(self, operation: Mapping[str, Any]) -> CallResult:
        """Send one line operation (provider, operation, idempotency_key, payload) and classify the answer.

        The payload's `msisdn` (digits, no "+") names the line; the rest is the request body,
        identical on every retry so the carrier recognises the key.
        """
        payload = dict(operation.get("payload") or {})
        msisdn = str(payload.pop("msisdn", "")).lstrip("+")
        segment = OPERATION_PATHS.get(str(operation.get("operation")))
        if segment is None or not msisdn:
            return unsupported(operation, "unsupported carrier operation or no msisdn")
        return self.post(f"/lines/{msisdn}/{segment}", payload, operation["idempotency_key"])

    def lookup(self, idempotency_key: str) -> str:
        """Did the carrier apply the operation sent under this key? "applied", "not_applied" or "unreachable"."""
        return self.find_by_key("/operations", idempotency_key, list_field="operations")

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

    @contextmanager
    def line_report(self, day: date) -> Iterator[Iterator[dict[str, str]]]:
        """The carrier's daily line report, streamed: its CSV rows (every line's state at the end of the
        Tokyo day, usage MB), read as they arrive so a million lines never sit in memory at once.

        Raises CarrierUnreachable when the report cannot be fetched or its download breaks off.
        """
        try:
            with self.http.stream("GET", "/reports/lines", params={"date": day.isoformat()}) as response:
                if response.status_code != 200:
                    raise CarrierUnreachable(f"HTTP {response.status_code}")
                yield csv.DictReader(response.iter_lines())
        except httpx.HTTPError as exc:
            raise CarrierUnreachable(f"{type(exc).__name__}: {exc}") from exc


_default: CarrierClient | None = None
_default_lock = threading.Lock()


def default_client() -> CarrierClient:
    """The process-wide client for the configured carrier URL."""
    global _default
    with _default_lock:
        if _default is None:
            _default = CarrierClient()
        return _default
