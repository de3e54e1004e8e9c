"""Identity verification (本人確認) through the KYC provider; the result is confirmed by staff.

`request_kyc_check` sends the customer's check to the provider through the outbox and marks the
customer 確認待ち. The provider decides later and says so by a `check.completed` webhook
(`kyc_event`): the result is kept as evidence in a review item (要確認) for staff, who confirm it
with the approved `services.ledger.customers.set_kyc_status`. A submission the provider refuses puts the
customer's KYC status back to what it was.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from services.integrations import kyc
from services.ledger import kyc_notices
from services.ledger.customers import ID_DOCUMENT_TYPES, customer_snapshot
from services.models import Customer, ExternalOperation, ReviewItem
from services.models.base import utcnow
from services.models.workflow import ExternalOperationStatus
from services.platform.audit import mutating_service, record
from services.platform.db import write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.identifiers import customer_code
from services.platform.labels import label
from services.platform.permissions import SYSTEM, Actor, require
from services.workflow import outbox
from services.workflow.outbox import Provider
from services.workflow.reconciliation import FINAL, settle_operation

RESULTS = ("approved", "rejected")
LIVE_OPERATION_STATUSES = (ExternalOperationStatus.PENDING.value, ExternalOperationStatus.IN_FLIGHT.value,
                           ExternalOperationStatus.UNKNOWN.value)


def _live_submission(session: Session, customer_id: int) -> int | None:
    """The id of a KYC submission of this customer still under way (pending, in flight or unknown)."""
    return session.exec(select(ExternalOperation.id).where(
        ExternalOperation.customer_id == customer_id, ExternalOperation.provider == "kyc",
        ExternalOperation.operation == "submit",
        col(ExternalOperation.status).in_(LIVE_OPERATION_STATUSES))).first()


@mutating_service
def request_kyc_check(customer_id: int, *, actor: Actor, document_type: str | None = None,
                      reason: str | None = None) -> Customer:
    """Send the customer's identity check to the KYC provider (support, admin).

    `document_type` defaults to the customer's registered identity document. The customer needs
    a name, a document type and, for an individual, a date of birth. Writes kyc_status 確認待ち,
    one KYC "submit" outbox operation and one audit entry "customer.kyc_request". A check that is
    already under way or waiting for its result, or a customer already verified, is a Conflict.
    """
    with write_session() as session:
        customer = session.exec(select(Customer).where(Customer.id == customer_id).with_for_update()).first()
        if customer is None:
            raise NotFound("顧客が見つかりません。")
        require(actor, "customer.kyc", customer)
        live = _live_submission(session, customer.id)
        if live is not None:
            raise Conflict(f"本人確認の依頼を処理中です（外部連携処理 #{live}）。重ねて依頼することはできません。")
        if customer.kyc_status == "submitted":
            raise Conflict("本人確認の結果を待っています。結果が届くと要確認の一覧に表示されます。")
        if customer.kyc_status == "verified":
            raise Conflict("この顧客の本人確認は確認済です。")
        document = document_type or customer.id_document_type
        errors: dict[str, str] = {}
        if document not in ID_DOCUMENT_TYPES:
            errors["id_document_type"] = "本人確認書類の種類を顧客情報に登録するか、選んでください。"
        if customer.kind == "individual" and customer.birth_date is None:
            errors["birth_date"] = "生年月日を顧客情報に登録してください。"
        if errors:
            raise ValidationFailed(errors)
        before = customer_snapshot(customer)
        previous = customer.kyc_status
        customer.kyc_status = "submitted"
        customer.updated_at = utcnow()
        session.add(customer)
        outbox.enqueue(session, provider="kyc", operation="submit", subject=f"customer{customer.id}", payload={
            "applicant_ref": customer_code(customer.id), "name": customer.name,
            "birth_date": customer.birth_date.isoformat() if customer.birth_date else None,
            "document_type": document, "previous_kyc_status": previous,
        }, customer_id=customer.id)
        record(session, actor, "customer.kyc_request", customer, before=before, after=customer_snapshot(customer),
               reason=reason)
    return customer


def apply_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str, evidence: dict[str, Any]
                  ) -> None:
    """Apply a settled KYC submission (called by services.workflow.outbox.settle, same transaction).

    succeeded -> the customer is told that the documents were received (mail, LINE, in-app); failed -> the KYC
    status goes back to what it was before the request (audited as system), unless staff changed
    it meanwhile; unknown changes nothing (the outbox opens the review item).
    """
    customer = session.get(Customer, op.customer_id) if op.customer_id else None
    if customer is None or op.operation != "submit":
        return
    if outcome == "succeeded":
        kyc_notices.tell_received(session, customer)
    elif outcome == "failed" and customer.kyc_status == "submitted":
        before = customer_snapshot(customer)
        customer.kyc_status = json.loads(op.payload_json).get("previous_kyc_status") or "not_started"
        customer.updated_at = utcnow()
        session.add(customer)
        record(session, SYSTEM, "customer.kyc", customer, before=before, after=customer_snapshot(customer),
               reason=f"本人確認の依頼が受け付けられませんでした（外部連携処理 #{op.id}）: {detail}"[:500])


def _customer_of(session: Session, applicant_ref: Any) -> Customer | None:
    """The customer an applicant reference (customer number K-000123) names."""
    digits = str(applicant_ref or "").removeprefix("K-")
    return session.get(Customer, int(digits)) if digits.isdigit() else None


def kyc_event(session: Session, event: dict[str, Any]) -> str:
    """check.completed: keep the provider's result as evidence in a review item for staff to confirm.

    The KYC status itself is not changed (staff confirm it with the approved set_kyc_status). The
    submission, if still waiting for its answer, is settled as succeeded. One review item per check,
    however often or late the event arrives; audited as system ("customer.kyc_result").
    """
    if event.get("type") != "check.completed":
        return f"ignored: {event.get('type')}"
    data = event.get("data") or {}
    check_id, result = str(data.get("check_id") or ""), data.get("result")
    if not check_id or result not in RESULTS:
        return "ignored: no check id or result"
    subject_key = f"kyc.check:{check_id}"[:128]
    if session.exec(select(ReviewItem.id).where(ReviewItem.subject_key == subject_key)).first() is not None:
        return f"check {check_id} already recorded"
    op = session.exec(select(ExternalOperation).where(
        ExternalOperation.provider == "kyc", ExternalOperation.provider_ref == check_id)).first()
    customer = session.get(Customer, op.customer_id) if op is not None and op.customer_id else \
        _customer_of(session, data.get("applicant_ref"))
    if customer is None:
        return "no matching customer"
    if op is None:
        op = session.exec(select(ExternalOperation).where(
            ExternalOperation.customer_id == customer.id, ExternalOperation.provider == "kyc",
            ExternalOperation.operation == "submit").order_by(col(ExternalOperation.id).desc())).first()
    if op is not None and op.status not in FINAL:
        op.provider_ref = op.provider_ref or check_id[:128]
        session.add(op)
        settle_operation(op.id, "succeeded", detail=f"本人確認の結果通知（{event.get('id')}）で受付を確認",
                         evidence={"source": "webhook", "event_id": event.get("id"), "type": event.get("type"),
                                   "data": data})
    evidence = {"check_id": check_id, "result": result, "reasons": data.get("reasons") or [],
                "completed_at": data.get("completed_at"), "event_id": event.get("id"),
                "external_operation_id": op.id if op is not None else None,
                "kyc_status_at_arrival": customer.kyc_status}
    result_label = label("kyc_result", result)
    # not linked by external_operation_id: settling the submission closes the items linked to it
    item = ReviewItem(kind=f"kyc.check.{result}", customer_id=customer.id, subject_key=subject_key,
                      reason=f"本人確認の結果（{result_label}）が届きました。内容を確認し、本人確認の確定を申請してください。",
                      evidence_json=json.dumps(evidence, ensure_ascii=False, default=str))
    session.add(item)
    session.flush()
    record(session, SYSTEM, "customer.kyc_result", customer, after={**evidence, "review_item_id": item.id},
           reason=f"本人確認の結果（{result_label}）を受信しました（確認項目 #{item.id}）。")
    return f"check {check_id} {result}: review item #{item.id}"


KYC_PROVIDER = Provider("kyc", client=kyc.default_client, apply_outcome=apply_outcome)
