"""What a page tells the person (errors, notices, field errors) and what it refuses before any service runs."""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx

from services.platform.errors import DomainError

logger = logging.getLogger(__name__)

NOT_OFFERED = "この操作はこの画面では選べません。ページを再読み込みしてからやり直してください。"


class NotOffered(DomainError):
    """An event for something the page never offered (no pending action, a record not on the page)."""


def require_offered(offered: bool, what: str) -> None:
    """Refuse, before any service is called, an event the page did not offer (logged: a forged client)."""
    if not offered:
        logger.warning("refused an event the page did not offer: %s", what)
        raise NotOffered(NOT_OFFERED)


def int_param(value: Any) -> int:
    """A whole number from a URL or an event argument (0 when it is not one)."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


class MessagesMixin(rx.State, mixin=True):
    """Error and notice vars that guarded handlers fill."""

    error: str = ""
    notice: str = ""
    field_errors: dict[str, str] = {}
