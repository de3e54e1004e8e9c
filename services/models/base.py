"""Shared column helpers for the ledger tables."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint


def utcnow() -> datetime:
    """Current time, timezone-aware in UTC (the ledger stores UTC; screens show Asia/Tokyo)."""
    return datetime.now(UTC)


def status_check(column: str, states: type[StrEnum], name: str) -> CheckConstraint:
    """A CHECK constraint that keeps `column` inside the lifecycle's states."""
    values = ", ".join(f"'{s.value}'" for s in states)
    return CheckConstraint(f"{column} IN ({values})", name=name)


def values_check(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    """A CHECK constraint that keeps `column` inside a fixed list of values."""
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)
