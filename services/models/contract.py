"""Contracts (契約) and the options on them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.models.base import status_check, utcnow


class ContractStatus(StrEnum):
    DRAFT = "draft"
    APPLIED = "applied"
    ACTIVE = "active"
    CANCELLATION_REQUESTED = "cancellation_requested"
    TERMINATED = "terminated"


class ContractEvent(StrEnum):
    APPLY = "apply"
    ACTIVATE = "activate"
    REQUEST_CANCELLATION = "request_cancellation"
    WITHDRAW_CANCELLATION = "withdraw_cancellation"
    TERMINATE = "terminate"
    DISCARD = "discard"


class Contract(SQLModel, table=True):
    """An agreement between the operator and a customer for lines on a plan."""

    __tablename__ = "contract"
    __table_args__ = (status_check("status", ContractStatus, "ck_contract_status"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    rate_plan_id: int = Field(foreign_key="rate_plan.id")
    status: str = Field(default=ContractStatus.DRAFT.value, max_length=32)
    start_date: date | None = None
    end_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ContractOption(SQLModel, table=True):
    """An option on a contract for a span of days: from `valid_from` (inclusive) to `valid_to` (inclusive;
    None while it runs). Removing an option ends its span; adding it again starts a new one."""

    __tablename__ = "contract_option"
    __table_args__ = (CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_contract_option_span"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    rate_option_id: int = Field(foreign_key="rate_option.id")
    added_at: datetime = Field(default_factory=utcnow)
    valid_from: date
    valid_to: date | None = None


class ContractPlanPeriod(SQLModel, table=True):
    """Which plan a contract is on, day by day: one row per span (from `valid_from` to `valid_to`,
    inclusive; None = until changed). Spans never overlap, so each day is billed on exactly one plan;
    a change for next month is a span that starts on the 1st (the carrier is told on that day)."""

    __tablename__ = "contract_plan_period"
    __table_args__ = (
        UniqueConstraint("contract_id", "valid_from", name="uq_contract_plan_period"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_contract_plan_period_span"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    rate_plan_id: int = Field(foreign_key="rate_plan.id")
    valid_from: date
    valid_to: date | None = None
    carrier_told_at: datetime | None = None  # when the carrier was asked to move the lines to this plan
    created_at: datetime = Field(default_factory=utcnow)


class InstalmentPlan(SQLModel, table=True):
    """A device bought in instalments (分割): `total` yen over `months` bills from `first_period` (YYYY-MM);
    each bill carries total // months, the first one also the remainder. Ending the contract early bills
    what is left at once."""

    __tablename__ = "instalment_plan"
    __table_args__ = (
        CheckConstraint("total > 0 AND months BETWEEN 1 AND 60", name="ck_instalment_plan"),
        CheckConstraint("tax_rate_percent IN (10, 8)", name="ck_instalment_plan_tax"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="line.id")
    description: str = Field(max_length=100)
    total: int
    months: int
    first_period: str = Field(max_length=7)
    tax_rate_percent: int = 10
    created_at: datetime = Field(default_factory=utcnow)


class PendingCharge(SQLModel, table=True):
    """A charge waiting for the next bill (未請求): a one-off fee, an add-on data purchase, a discount
    (negative) or an adjustment. The billing run puts it on the contract's invoice and links it."""

    __tablename__ = "pending_charge"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_pending_charge_quantity"),
        CheckConstraint("tax_rate_percent IN (10, 8)", name="ck_pending_charge_tax"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="line.id")
    code: str = Field(max_length=32)
    description: str = Field(max_length=200)
    quantity: int = 1
    unit_price: int
    tax_rate_percent: int = 10
    occurred_on: date
    invoice_item_id: int | None = Field(default=None, foreign_key="invoice_item.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    # the key the page sent with a customer's purchase (add-on data): a double submit buys once
    request_key: str | None = Field(default=None, max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
