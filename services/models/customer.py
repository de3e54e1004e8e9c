"""Customers (顧客) and the people who sign in for them (利用者 / 法人管理者)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index
from sqlmodel import Field, SQLModel

from services.models.base import utcnow, values_check

CUSTOMER_KINDS = ("individual", "corporate")
KYC_STATUSES = ("not_started", "submitted", "verified", "rejected")
CUSTOMER_USER_ROLES = ("customer_admin", "user")


class Customer(SQLModel, table=True):
    """The contracting party: an individual or a corporation."""

    __tablename__ = "customer"
    __table_args__ = (
        values_check("kind", CUSTOMER_KINDS, "ck_customer_kind"),
        values_check("kyc_status", KYC_STATUSES, "ck_customer_kyc_status"),
        CheckConstraint("length(name) > 0", name="ck_customer_name_nonempty"),
        Index("ix_customer_name_kana", "name_kana"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    name: str = Field(max_length=200)
    name_kana: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=20)
    postal_code: str | None = Field(default=None, max_length=8)
    address: str | None = Field(default=None, max_length=300)
    birth_date: date | None = None
    id_document_type: str | None = Field(default=None, max_length=32)
    id_document_number_enc: str | None = Field(default=None, max_length=512)
    bank_account_enc: str | None = Field(default=None, max_length=1024)
    kyc_status: str = Field(default="not_started", max_length=16)
    line_user_id: str | None = Field(default=None, max_length=64)  # LINE 公式アカウントの友だち (push 通知先)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CustomerUser(SQLModel, table=True):
    """A person who signs in to the self-service app for a customer."""

    __tablename__ = "customer_user"
    __table_args__ = (values_check("role", CUSTOMER_USER_ROLES, "ck_customer_user_role"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    role: str = Field(default="user", max_length=16)
    password_hash: str | None = Field(default=None, max_length=255)
    totp_secret: str | None = Field(default=None, max_length=512)  # encrypted at rest
    mfa_enrolled_at: datetime | None = None
    last_totp_step: int | None = None
    can_view_bills: bool = False  # a 利用者 sees bills only when the 法人管理者 allows it
    can_request: bool = False  # a 利用者 asks for suspension or plan changes only when allowed
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


KYC_METHODS = ("ekyc", "in_person", "mail")


class KycRecord(SQLModel, table=True):
    """本人確認記録: one confirmed identity check, written once and never changed.

    携帯電話不正利用防止法 asks for who checked, when, how, the document and its number (the
    tracking number of 本人限定受取郵便 where used) and the person's identifying details, kept
    until 3 years after the contract ends (services.ledger.kyc_records deletes it only then).
    """

    __tablename__ = "kyc_record"
    __table_args__ = (values_check("method", KYC_METHODS, "ck_kyc_record_method"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    confirmed_at: datetime = Field(default_factory=utcnow)
    checked_by: int | None = None          # the staff member who checked the document (the request's maker)
    checked_by_label: str = Field(max_length=200)
    approved_by: int | None = None         # the second person who approved the confirmation
    approved_by_label: str = Field(max_length=200)
    approval_request_id: int | None = None
    method: str = Field(max_length=16)
    document_type: str = Field(max_length=32)
    document_number_enc: str | None = Field(default=None, max_length=512)  # encrypted at rest
    mail_tracking_number: str | None = Field(default=None, max_length=32)
    provider_check_id: str | None = Field(default=None, max_length=128)
    name: str = Field(max_length=200)
    birth_date: date | None = None
    address: str | None = Field(default=None, max_length=300)
