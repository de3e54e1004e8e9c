"""The bank's API: the daily 入出金取引明細 statement file of the operator's receiving account.

Incoming transfers reach the product as signed `transfer.received` webhooks (services.billing.bank_transfers);
the product sends the bank nothing, so this client has no outbox operations.
"""

from __future__ import annotations

import threading
from datetime import date

import httpx

from services.integrations.http import HttpProvider
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


_default: BankClient | None = None
_default_lock = threading.Lock()


def default_client() -> BankClient:
    """The process-wide client for the configured bank URL."""
    global _default
    with _default_lock:
        if _default is None:
            _default = BankClient()
        return _default
