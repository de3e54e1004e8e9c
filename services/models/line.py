"""Lines (回線): one subscription per phone number, and its daily usage."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.models.base import status_check, utcnow


class LineStatus(StrEnum):
    APPLYING = "applying"
    ACTIVATING = "activating"
    ACTIVE = "active"
    SUSPENDING = "suspending"
    SUSPENDED = "suspended"
    RESUMING = "resuming"
    TERMINATED = "terminated"
    PENDING = "pending"
    NEEDS_REVIEW = "needs_review"


class LineEvent(StrEnum):
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    RESUME = "resume"
    TERMINATE = "terminate"
    HOLD = "hold"
    FLAG_FOR_REVIEW = "flag_for_review"
    CONFIRM_ACTIVE = "confirm_active"
    CONFIRM_SUSPENDED = "confirm_suspended"
    CONFIRM_TERMINATED = "confirm_terminated"
    CARRIER_CONFIRMED = "carrier_confirmed"
    CARRIER_REJECTED = "carrier_rejected"
    OUTCOME_UNKNOWN = "outcome_unknown"


class Line(SQLModel, table=True):
    """A subscription identified by its MSISDN (stored in E.164, e.g. +819012345678)."""

    __tablename__ = "line"
    __table_args__ = (
        status_check("status", LineStatus, "ck_line_status"),
        CheckConstraint("msisdn LIKE '+%'", name="ck_line_msisdn_e164"),
    )

    id: int | None = Field(default=None, primary_key=True)
    msisdn: str = Field(max_length=16, unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    sim_card_id: int | None = Field(default=None, foreign_key="sim_card.id", unique=True)
    device_id: int | None = Field(default=None, foreign_key="device.id", unique=True)
    status: str = Field(default=LineStatus.APPLYING.value, max_length=16)
    throttled: bool = False  # 速度制限中, as the carrier confirmed it
    activated_at: datetime | None = None
    terminated_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class UsageRecord(SQLModel, table=True):
    """Data used by one line on one day."""

    __tablename__ = "usage_record"
    __table_args__ = (
        UniqueConstraint("line_id", "day", name="uq_usage_record_line_day"),
        CheckConstraint("used_mb >= 0", name="ck_usage_record_nonnegative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    day: date
    used_mb: int
