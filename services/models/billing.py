"""Invoices (請求書), their items (明細), payments (入金) and allocations (消込)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.models.base import status_check, utcnow, values_check


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    VOID = "void"


class InvoiceEvent(StrEnum):
    ISSUE = "issue"
    VOID = "void"


class PaymentStatus(StrEnum):
    RECEIVED = "received"
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    REFUNDED = "refunded"


class PaymentEvent(StrEnum):
    MATCH = "match"
    MARK_UNMATCHED = "mark_unmatched"
    REFUND = "refund"


PAYMENT_METHODS = ("bank_transfer", "direct_debit", "card")


class Invoice(SQLModel, table=True):
    """A bill for one customer and one billing period (yen, tax rounded once per rate)."""

    __tablename__ = "invoice"
    __table_args__ = (
        status_check("status", InvoiceStatus, "ck_invoice_status"),
        CheckConstraint("subtotal >= 0 AND tax >= 0 AND total = subtotal + tax", name="ck_invoice_amounts"),
        CheckConstraint("length(period) = 7", name="ck_invoice_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_no: str = Field(max_length=32, unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    period: str = Field(max_length=7)
    status: str = Field(default=InvoiceStatus.DRAFT.value, max_length=16)
    issue_date: date | None = None
    due_date: date | None = None
    subtotal: int = 0
    tax: int = 0
    total: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class InvoiceItem(SQLModel, table=True):
    """One line of an invoice."""

    __tablename__ = "invoice_item"
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_invoice_item_quantity"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="line.id")
    description: str = Field(max_length=200)
    quantity: int = 1
    unit_price: int
    amount: int
    tax_rate_percent: int = 10


class Payment(SQLModel, table=True):
    """Money received; unmatched payments have no customer yet."""

    __tablename__ = "payment"
    __table_args__ = (
        status_check("status", PaymentStatus, "ck_payment_status"),
        values_check("method", PAYMENT_METHODS, "ck_payment_method"),
        CheckConstraint("amount > 0", name="ck_payment_amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    amount: int
    method: str = Field(max_length=16)
    payer_name: str = Field(max_length=200)
    reference: str | None = Field(default=None, max_length=64)
    # the provider's id of this money (gateway charge id, bank transaction id): recorded once
    external_ref: str | None = Field(default=None, max_length=128, unique=True)
    bank_inquiry_number: int | None = None  # 照会番号: how the bank's statement names a transfer
    status: str = Field(default=PaymentStatus.RECEIVED.value, max_length=16)
    received_at: datetime = Field(default_factory=utcnow)


class PaymentAllocation(SQLModel, table=True):
    """The part of a payment assigned to one invoice."""

    __tablename__ = "payment_allocation"
    __table_args__ = (
        UniqueConstraint("payment_id", "invoice_id", name="uq_payment_allocation"),
        CheckConstraint("amount > 0", name="ck_payment_allocation_amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount: int
    created_at: datetime = Field(default_factory=utcnow)
