"""本人確認記録: the record a confirmed identity check leaves, as 携帯電話不正利用防止法 asks.

A record is written once, in the transaction that confirms a customer's identity (the approved
`customers.set_kyc_status(..., "verified")`): who checked the document (the request's maker), who
approved, when, how (eKYC, in person, or by 本人限定受取郵便 with its tracking number), the document
type and number (encrypted), and the person's name, birth date and address as checked. Nothing
changes it; a new check makes a new record. It is kept until 3 years after the customer's last
contract ended, and `purge_expired` (a daily job) deletes only records past that date, each with an
audit entry that says what was deleted.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.models import Contract, Customer, KycRecord, ReviewItem, StaffUser
from services.models.base import utcnow
from services.models.contract import ContractStatus
from services.models.customer import KYC_METHODS
from services.platform import crypto
from services.platform.audit import mutating_service, record
from services.platform.clock import TOKYO
from services.platform.db import write_session
from services.platform.errors import ValidationFailed
from services.platform.permissions import SYSTEM, Actor, require
from services.workflow.approval_gate import executing_request

RETENTION_YEARS = 3
DOCUMENTS_WITHOUT_NUMBER = ("my_number_card",)  # 番号法: the individual number is never recorded
_TRACKING = re.compile(r"^[0-9A-Za-z\-]{8,32}$")


def check_method(method: str | None, tracking_number: str | None) -> tuple[str, str | None]:
    """The confirmation method and mail tracking number, or ValidationFailed naming the field."""
    method = (method or "").strip()
    tracking = (tracking_number or "").strip() or None
    if method not in KYC_METHODS:
        raise ValidationFailed({"method": "本人確認の方法を選んでください（eKYC・対面・郵送）。"})
    if method == "mail" and (tracking is None or not _TRACKING.match(tracking)):
        raise ValidationFailed({"tracking_number": "本人限定受取郵便の追跡番号（英数字8〜32文字）を入力してください。"})
    return method, tracking if method == "mail" else None


def write_record(session: Session, customer: Customer, *, actor: Actor, method: str,
                 tracking_number: str | None = None) -> KycRecord:
    """Write the 本人確認記録 of a confirmation, in the caller's transaction (customers.set_kyc_status).

    The customer's registered identity document is what was checked: its type is required, and its
    number too unless the document is one whose number must not be recorded. The maker and the
    approver come from the approved request being executed (the approver alone outside one).
    """
    method, tracking = check_method(method, tracking_number)
    number = crypto.decrypt(customer.id_document_number_enc)
    if not customer.id_document_type or (customer.id_document_type not in DOCUMENTS_WITHOUT_NUMBER and not number):
        raise ValidationFailed({"id_document_type": "確認した本人確認書類の種類と番号を顧客情報に登録してから確定してください。"})
    request = executing_request()
    maker = session.get(StaffUser, request.requested_by) if request and request.requested_by else None
    row = KycRecord(
        customer_id=customer.id, confirmed_at=utcnow(),
        checked_by=maker.id if maker else actor.id,
        checked_by_label=f"{maker.display_name} <{maker.email}>" if maker else actor.label,
        approved_by=actor.id, approved_by_label=actor.label,
        approval_request_id=request.id if request else None, method=method,
        document_type=customer.id_document_type, document_number_enc=crypto.encrypt(number),
        mail_tracking_number=tracking, provider_check_id=_latest_provider_check(session, customer.id),
        name=customer.name, birth_date=customer.birth_date, address=customer.address,
    )
    session.add(row)
    session.flush()
    return row


def _latest_provider_check(session: Session, customer_id: int) -> str | None:
    """The check id of the KYC provider's latest approving result for the customer, if any."""
    key = session.exec(select(ReviewItem.subject_key).where(
        ReviewItem.customer_id == customer_id, ReviewItem.kind == "kyc.check.approved")
        .order_by(col(ReviewItem.id).desc())).first()
    return key.removeprefix("kyc.check:") if key else None


def retention_date(session: Session, customer_id: int) -> date | None:
    """The last day the customer's records must be kept, or None while a contract is not over.

    3 years after the latest contract end date (a customer who never contracted: 3 years after
    the latest confirmation).
    """
    live = session.exec(select(func.count()).select_from(Contract).where(
        Contract.customer_id == customer_id, Contract.status != ContractStatus.TERMINATED)).one()
    if live:
        return None
    ended = session.exec(select(func.max(Contract.end_date)).where(Contract.customer_id == customer_id)).one()
    if ended is None:
        confirmed = session.exec(select(func.max(KycRecord.confirmed_at)).where(
            KycRecord.customer_id == customer_id)).one()
        if confirmed is None:
            return None
        ended = confirmed.astimezone(TOKYO).date() if confirmed.tzinfo else confirmed.date()
    try:
        return ended.replace(year=ended.year + RETENTION_YEARS)
    except ValueError:  # 29 February
        return ended.replace(year=ended.year + RETENTION_YEARS, day=28)


@mutating_service
def purge_expired(*, actor: Actor = SYSTEM, today: date | None = None) -> list[int]:
    """Delete the 本人確認記録 kept past their date (a daily system job); returns the deleted ids.

    Only records whose customer has no contract still running and whose retention date (3 years
    after the last contract ended) is before `today` (Tokyo) go. Each deletion writes one audit entry
    "kyc_record.purge" that says which record, of which customer, confirmed when and how — never the number.
    """
    require(actor, "kyc_record.purge")
    today = today or utcnow().astimezone(TOKYO).date()
    deleted: list[int] = []
    with write_session() as session:
        customer_ids = session.exec(select(KycRecord.customer_id).distinct()).all()
        for customer_id in customer_ids:
            until = retention_date(session, customer_id)
            if until is None or until >= today:
                continue
            for row in session.exec(select(KycRecord).where(KycRecord.customer_id == customer_id)).all():
                record(session, actor, "kyc_record.purge", row, before={
                    "customer_id": customer_id, "confirmed_at": row.confirmed_at.isoformat(),
                    "method": row.method, "document_type": row.document_type, "kept_until": until.isoformat()},
                       after={}, reason=f"保存期間（契約終了から{RETENTION_YEARS}年）の経過による削除")
                session.delete(row)
                deleted.append(row.id)
    return deleted
