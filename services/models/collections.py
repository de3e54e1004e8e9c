"""Collecting money: 口座振替 mandates and the withdrawal files sent to the bank, and dunning (督促)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.models.base import status_check, utcnow, values_check

MANDATE_STATUSES = ("active", "revoked")
ACCOUNT_TYPES = (1, 2, 9)  # 預金種目: 普通, 当座, その他


class DebitBatchStatus(StrEnum):
    CREATED = "created"
    SUBMITTED = "submitted"
    RESULT_IMPORTED = "result_imported"
    CANCELLED = "cancelled"


class DebitBatchEvent(StrEnum):
    SUBMIT = "submit"
    IMPORT_RESULT = "import_result"
    CANCEL = "cancel"


class DunningStatus(StrEnum):
    OPEN = "open"
    SUSPENDED = "suspended"
    PAID = "paid"
    CLOSED = "closed"


class DunningEvent(StrEnum):
    SUSPEND = "suspend"
    PAY = "pay"
    CLOSE = "close"


class DirectDebitMandate(SQLModel, table=True):
    """A customer's 口座振替 authority (預金口座振替依頼書): the account the bank withdraws from, by codes —
    bank (4 digits), branch (3), account type, account number (7, encrypted) — and the holder's name in
    half-width katakana as the bank knows it."""

    __tablename__ = "direct_debit_mandate"
    __table_args__ = (
        values_check("status", MANDATE_STATUSES, "ck_direct_debit_mandate_status"),
        CheckConstraint("account_type IN (1, 2, 9)", name="ck_direct_debit_mandate_account_type"),
        CheckConstraint("length(bank_code) = 4 AND length(branch_code) = 3", name="ck_direct_debit_mandate_codes"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    bank_code: str = Field(max_length=4)
    branch_code: str = Field(max_length=3)
    account_type: int = 1
    account_number_enc: str = Field(max_length=500)
    account_number_last4: str = Field(max_length=4)
    holder_kana: str = Field(max_length=30)
    customer_number: str = Field(max_length=20, unique=True)  # 顧客番号 in the file: how a result line finds us
    status: str = Field(default="active", max_length=16)
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class DirectDebitBatch(SQLModel, table=True):
    """One withdrawal-request file (口座振替依頼データ, 全銀 種別91) for one withdrawal day, and its result."""

    __tablename__ = "direct_debit_batch"
    __table_args__ = (status_check("status", DebitBatchStatus, "ck_direct_debit_batch_status"),)

    id: int | None = Field(default=None, primary_key=True)
    withdrawal_date: date = Field(index=True)
    status: str = Field(default=DebitBatchStatus.CREATED.value, max_length=24)
    item_count: int = 0
    total_amount: int = 0
    request_sha256: str = Field(max_length=64)
    request_file: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    bank_ref: str | None = Field(default=None, max_length=64)
    result_sha256: str | None = Field(default=None, max_length=64, unique=True)
    collected_count: int = 0
    collected_amount: int = 0
    failed_count: int = 0
    failed_amount: int = 0
    created_by: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None
    result_imported_at: datetime | None = None


class DirectDebitItem(SQLModel, table=True):
    """One invoice in a withdrawal file and what the bank said (振替結果コード; 0 = 振替済)."""

    __tablename__ = "direct_debit_item"
    __table_args__ = (
        UniqueConstraint("batch_id", "invoice_id", name="uq_direct_debit_item"),
        CheckConstraint("amount > 0", name="ck_direct_debit_item_amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="direct_debit_batch.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    mandate_id: int = Field(foreign_key="direct_debit_mandate.id")
    amount: int
    result_code: int | None = None
    payment_id: int | None = Field(default=None, foreign_key="payment.id")


class DunningCase(SQLModel, table=True):
    """Chasing one unpaid invoice (督促) through the policy's steps, to suspension and back.

    `step` is the last step taken (0 = none yet) and `next_step_at` when the next one is due; paying in
    full closes the case and resumes what was suspended for non-payment (the time it took is kept).
    """

    __tablename__ = "dunning_case"
    __table_args__ = (status_check("status", DunningStatus, "ck_dunning_case_status"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    status: str = Field(default=DunningStatus.OPEN.value, max_length=16)
    reason: str = Field(max_length=32)  # unpaid | debit_failed | card_failed
    step: int = 0
    started_on: date
    next_step_at: datetime | None = Field(default=None, index=True)
    suspended_at: datetime | None = None
    suspended_line_ids: str | None = Field(default=None, max_length=2000)  # "12,15": resumed on payment
    paid_at: datetime | None = None
    resumed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
