"""The bank's API: the daily 入出金取引明細 statement file of the operator's receiving account, and 口座振替.

Incoming transfers reach the product as signed `transfer.received` webhooks (services.billing.bank_transfers).
The product sends the bank 口座振替 request files (services.integrations.direct_debit_file); the bank keeps
one batch per file content, so sending the same file again is safe and answers the same batch.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Mapping
from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from services.integrations.http import (
    IDEMPOTENCY_HEADER,
    CallResult,
    HttpProvider,
    elapsed_ms,
    result_of,
    unsupported,
)
from services.platform.config import settings


class BankUnreachable(Exception):
    """The bank did not give a usable answer to a query."""


class BankClient(HttpProvider):
    """The bank API client (thread-safe)."""

    def __init__(self, base_url: str | None = None, *, connect_timeout: float | None = None,
                 read_timeout: float | None = None, transport: httpx.BaseTransport | None = None):
        super().__init__(base_url or settings.bank_url, connect_timeout=connect_timeout,
                         read_timeout=read_timeout, transport=transport)

    def statement(self, day: date) -> bytes:
        """The raw Zengin 入出金取引明細 file of one Tokyo day (read it with services.integrations.zengin).

        Raises BankUnreachable when the file cannot be fetched.
        """
        try:
            response = self.http.get("/statements", params={"date": day.isoformat()})
        except httpx.HTTPError as exc:
            raise BankUnreachable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise BankUnreachable(f"HTTP {response.status_code}")
        return response.content

    def submit_debit_file(self, content: bytes) -> dict[str, Any]:
        """Send a 口座振替 request file: the bank's {"id", "count", "amount", "withdrawal_date"} for it.

        The same file sent again answers the same id. Raises BankUnreachable on a transport error or a
        non-2xx answer (with the bank's message, e.g. the byte it refused).
        """
        try:
            response = self.http.post("/debits", content=content,
                                      headers={"Content-Type": "application/octet-stream"})
        except httpx.HTTPError as exc:
            raise BankUnreachable(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise BankUnreachable(f"HTTP {response.status_code}: {response.text[:300]}")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise BankUnreachable(f"HTTP {response.status_code} without a batch id")
        return answer

    def call(self, operation: Mapping[str, Any]) -> CallResult:
        """Carry out one outbox operation: "submit_debits" sends the payload's file (base64) under the operation's
        idempotency key; the bank keeps one batch per file content, so a retry answers the same batch."""
        if operation.get("operation") != "submit_debits":
            return unsupported(operation, "unsupported bank operation")
        content = base64.b64decode(str((operation.get("payload") or {}).get("file", "")))
        request = {"method": "POST", "path": "/debits", "idempotency_key": operation["idempotency_key"],
                   "bytes": len(content)}
        started = time.monotonic()
        try:
            response = self.http.post("/debits", content=content, headers={
                "Content-Type": "application/octet-stream", IDEMPOTENCY_HEADER: operation["idempotency_key"]})
        except httpx.HTTPError as exc:
            return CallResult("unknown", None, "", f"{type(exc).__name__}: {exc}"[:500], elapsed_ms(started), request)
        return result_of(response, started, request)

    def lookup(self, idempotency_key: str) -> str:
        """Did the bank take the file sent under this key? "applied", "not_applied" or "unreachable"."""
        return self.find_by_key("/debits", idempotency_key, list_field="debits")

    def debit_result(self, debit_id: str) -> bytes:
        """The raw 口座振替 result file of a submitted batch (read it with direct_debit_file.read_result).

        Raises BankUnreachable when the file cannot be fetched.
        """
        try:
            response = self.http.get(f"/debits/{quote(debit_id, safe='')}/result")
        except httpx.HTTPError as exc:
            raise BankUnreachable(f"{type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise BankUnreachable(f"HTTP {response.status_code}")
        return response.content


_default: BankClient | None = None
_default_lock = threading.Lock()


def default_client() -> BankClient:
    """The process-wide client for the configured bank URL."""
    global _default
    with _default_lock:
        if _default is None:
            _default = BankClient()
        return _default
