"""Invoices (請求書), their items (明細), payments (入金) and allocations (消込)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, LargeBinary, UniqueConstraint
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


PAYMENT_METHODS = ("bank_transfer", "direct_debit", "card", "credit_note")  # credit_note: settled by a 適格返還請求書
INVOICE_KINDS = ("invoice", "credit_note")  # 請求書（適格請求書） | 適格返還請求書
ITEM_KINDS = ("plan", "option", "charge", "levy", "instalment", "discount", "adjustment")


class BillingRunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DRAFTED = "drafted"
    REVIEWED = "reviewed"
    ISSUING = "issuing"
    ISSUED = "issued"
    FAILED = "failed"


class BillingRunEvent(StrEnum):
    START = "start"
    FINISH_DRAFTS = "finish_drafts"
    FAIL = "fail"
    RESUME = "resume"
    REVIEW = "review"
    REOPEN = "reopen"
    START_ISSUE = "start_issue"
    FINISH_ISSUE = "finish_issue"


class Invoice(SQLModel, table=True):
    """A bill for one customer and one billing period (yen, tax rounded once per rate)."""

    __tablename__ = "invoice"
    __table_args__ = (
        status_check("status", InvoiceStatus, "ck_invoice_status"),
        values_check("kind", INVOICE_KINDS, "ck_invoice_kind"),
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
    kind: str = Field(default="invoice", max_length=16)
    billing_run_id: int | None = Field(default=None, foreign_key="billing_run.id", index=True)
    period_start: date | None = None  # the transaction period the bill covers (取引年月日)
    period_end: date | None = None
    # a credit note names the invoice it returns; a reissued invoice the one it replaces
    corrects_invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    replaces_invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    correction_reason: str | None = Field(default=None, max_length=500)
    # fixed when issued: who issued it under which 登録番号, to whom
    issuer_name: str | None = Field(default=None, max_length=200)
    issuer_registration_number: str | None = Field(default=None, max_length=14)
    issuer_address: str | None = Field(default=None, max_length=300)
    recipient_name: str | None = Field(default=None, max_length=200)


class InvoiceItem(SQLModel, table=True):
    """One line of an invoice: what, for which days, how it was computed (note), and its tax rate."""

    __tablename__ = "invoice_item"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="ck_invoice_item_quantity"),
        CheckConstraint("tax_rate_percent IN (10, 8)", name="ck_invoice_item_tax"),
        values_check("kind", ITEM_KINDS, "ck_invoice_item_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="line.id")
    description: str = Field(max_length=200)
    quantity: int = 1
    unit_price: int
    amount: int
    tax_rate_percent: int = 10
    kind: str = Field(default="charge", max_length=16)
    service_from: date | None = None
    service_to: date | None = None
    note: str | None = Field(default=None, max_length=200)  # e.g. 日割り 15日/31日


class InvoiceNumberSeries(SQLModel, table=True):
    """The last number given in one series (INV-202605, CN-202605): numbers are taken in the same
    transaction as the invoice, so they have no gaps (a voided invoice keeps its number)."""

    __tablename__ = "invoice_number_series"

    series: str = Field(primary_key=True, max_length=16)
    last_number: int = 0


class InvoiceDocument(SQLModel, table=True):
    """The PDF of an issued invoice or credit note, made once and never changed (SHA-256 kept beside it)."""

    __tablename__ = "invoice_document"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", unique=True)
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class BillingRun(SQLModel, table=True):
    """One month's billing (請求締め): drafts for every billable contract, reviewed, then issued.

    One run per period. A worker makes the drafts (progress in done / total); running it again creates
    nothing new, and a run that stopped half-way resumes where it stopped. Issuing is a person's decision.
    """

    __tablename__ = "billing_run"
    __table_args__ = (
        status_check("status", BillingRunStatus, "ck_billing_run_status"),
        CheckConstraint("length(period) = 7", name="ck_billing_run_period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7, unique=True)
    status: str = Field(default=BillingRunStatus.QUEUED.value, max_length=16)
    total_contracts: int = 0
    done_contracts: int = 0
    issued_invoices: int = 0
    invoice_count: int = 0
    total_amount: int = 0
    previous_total_amount: int = 0
    anomaly_count: int = 0
    error: str | None = Field(default=None, max_length=1000)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    reviewed_by: int | None = Field(default=None, foreign_key="staff_user.id")
    issued_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    drafted_at: datetime | None = None
    reviewed_at: datetime | None = None
    issued_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class BillingAnomaly(SQLModel, table=True):
    """Something about a draft invoice a person should look at before the run is issued
    (±50% against the customer's last bill, a zero bill on an active line …)."""

    __tablename__ = "billing_anomaly"

    id: int | None = Field(default=None, primary_key=True)
    billing_run_id: int = Field(foreign_key="billing_run.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    contract_id: int = Field(foreign_key="contract.id")
    kind: str = Field(max_length=32)
    message: str = Field(max_length=500)
    acknowledged_by: int | None = Field(default=None, foreign_key="staff_user.id")
    acknowledged_at: datetime | None = None
    note: str | None = Field(default=None, max_length=500)


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
