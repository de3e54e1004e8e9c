"""Contracts (契約) and the options on them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
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
    """An option added to a contract."""

    __tablename__ = "contract_option"
    __table_args__ = (UniqueConstraint("contract_id", "rate_option_id", name="uq_contract_option"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    rate_option_id: int = Field(foreign_key="rate_option.id")
    added_at: datetime = Field(default_factory=utcnow)
