"""Customers: registration, contact details, KYC status, and the name index for search."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import delete
from sqlmodel import Session, select

from services.audit import mutating_service, record, snapshot
from services.db import write_session
from services.errors import NotFound, ValidationFailed
from services.models import Customer, CustomerNameGram
from services.models.base import utcnow
from services.models.customer import CUSTOMER_KINDS, KYC_STATUSES
from services.permissions import Actor, require
from services.text import bigrams

_KANA = re.compile(r"^[\u30A0-\u30FF\u3040-\u309F\uFF65-\uFF9F\s　ー・]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_POSTAL = re.compile(r"^\d{3}-?\d{4}$")


def customer_code(customer_id: int) -> str:
    """The customer number shown to people: K-000123."""
    return f"K-{customer_id:06d}"


def index_customer_name(session: Session, customer: Customer) -> None:
    """Rebuild the bigram index rows of one customer's name and kana."""
    session.exec(delete(CustomerNameGram).where(CustomerNameGram.customer_id == customer.id))
    for gram in bigrams(customer.name) | bigrams(customer.name_kana):
        session.add(CustomerNameGram(gram=gram, customer_id=customer.id))


def _validate(kind: str, name: str, name_kana: str, email: str | None, postal_code: str | None) -> None:
    errors: dict[str, str] = {}
    if kind not in CUSTOMER_KINDS:
        errors["kind"] = "個人か法人を選んでください。"
    if not name.strip():
        errors["name"] = "氏名・法人名を入力してください。"
    elif len(name) > 200:
        errors["name"] = "氏名・法人名は200文字以内で入力してください。"
    if not name_kana.strip():
        errors["name_kana"] = "フリガナを入力してください。"
    elif not _KANA.match(name_kana):
        errors["name_kana"] = "フリガナはカタカナで入力してください。"
    if email and not _EMAIL.match(email):
        errors["email"] = "メールアドレスの形式が正しくありません。"
    if postal_code and not _POSTAL.match(postal_code):
        errors["postal_code"] = "郵便番号は 123-4567 の形式で入力してください。"
    if errors:
        raise ValidationFailed(errors)


@mutating_service
def create_customer(
    *,
    actor: Actor,
    kind: str,
    name: str,
    name_kana: str,
    email: str | None = None,
    phone: str | None = None,
    postal_code: str | None = None,
    address: str | None = None,
    birth_date: date | None = None,
    reason: str | None = None,
) -> Customer:
    """Register a customer (sales, admin). Writes the customer, its name index and one audit entry."""
    require(actor, "customer.create")
    _validate(kind, name, name_kana, email, postal_code)
    with write_session() as session:
        customer = Customer(
            kind=kind, name=name.strip(), name_kana=name_kana.strip(), email=email or None,
            phone=phone or None, postal_code=postal_code or None, address=address or None,
            birth_date=birth_date,
        )
        session.add(customer)
        session.flush()
        index_customer_name(session, customer)
        record(session, actor, "customer.create", customer, reason=reason)
    return customer


@mutating_service
def update_customer_contact(
    customer_id: int,
    *,
    actor: Actor,
    name: str,
    name_kana: str,
    email: str | None,
    phone: str | None,
    postal_code: str | None,
    address: str | None,
    reason: str,
) -> Customer:
    """Change a customer's name and contact details (sales, support, admin); audited with before/after."""
    with write_session() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("顧客が見つかりません。")
        require(actor, "customer.update", customer)
        _validate(customer.kind, name, name_kana, email, postal_code)
        before = snapshot(customer)
        customer.name, customer.name_kana = name.strip(), name_kana.strip()
        customer.email, customer.phone = email or None, phone or None
        customer.postal_code, customer.address = postal_code or None, address or None
        customer.updated_at = utcnow()
        session.add(customer)
        index_customer_name(session, customer)
        record(session, actor, "customer.update", customer, before=before, reason=reason)
    return customer


@mutating_service
def set_kyc_status(customer_id: int, *, actor: Actor, status: str, reason: str) -> Customer:
    """Record the identity-verification (本人確認) result (support, admin)."""
    if status not in KYC_STATUSES:
        raise ValidationFailed({"kyc_status": "本人確認の状態が正しくありません。"})
    with write_session() as session:
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFound("顧客が見つかりません。")
        require(actor, "customer.kyc", customer)
        if customer.kyc_status == status:
            return customer
        before = snapshot(customer)
        customer.kyc_status = status
        customer.updated_at = utcnow()
        session.add(customer)
        record(session, actor, "customer.kyc", customer, before=before, reason=reason)
    return customer


def get_customer(session: Session, customer_id: int) -> Customer:
    """Load a customer or raise NotFound."""
    customer = session.exec(select(Customer).where(Customer.id == customer_id)).first()
    if customer is None:
        raise NotFound("顧客が見つかりません。")
    return customer
