"""Maker-checker approvals (承認申請) for dangerous operations.

One policy table says which operations need a second person, who may ask and who may approve.
A request stores the operation, its parameters and their hash, the requester and a reason,
and expires (72 h by default, TELECOM_APPROVAL_EXPIRY_HOURS). A different person with an
approver role approves it; approving executes the operation exactly once, inside the same
transaction as the decision (the gated service joins it), and refuses a payload changed since
the request. The gated services themselves refuse to run outside an approved execution
(services.workflow.approval_gate).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.billing import allocation, invoices, payments
from services.billing.invoices import INVOICE
from services.billing.payments import PAYMENT
from services.ledger import contracts, customers, kyc_records, lines
from services.ledger.contracts import CONTRACT, contract_code
from services.ledger.customers import customer_code
from services.ledger.lines import LINE
from services.models import (
    ApprovalRequest,
    Contract,
    Customer,
    Invoice,
    Line,
    Payment,
    ReviewItem,
    StaffUser,
)
from services.models.base import utcnow
from services.models.billing import InvoiceEvent, PaymentEvent
from services.models.contract import ContractEvent
from services.models.line import LineEvent
from services.models.workflow import ApprovalEvent, ApprovalStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from services.platform.formatting import tokyo_time, yen
from services.platform.identifiers import format_msisdn
from services.platform.labels import state_label
from services.platform.lifecycle import Lifecycle
from services.platform.permissions import SYSTEM, Actor, Role, require
from services.security import masking
from services.workflow.approval_gate import ExecutingRequest, approved

A, AE = ApprovalStatus, ApprovalEvent
APPROVAL = Lifecycle("approval", A, AE, {
    (A.PENDING, AE.APPROVE): A.APPROVED,
    (A.PENDING, AE.REJECT): A.REJECTED,
    (A.PENDING, AE.EXPIRE): A.EXPIRED,
    (A.APPROVED, AE.EXECUTE): A.EXECUTED,
    (A.APPROVED, AE.FAIL): A.FAILED,
})


RECENT_MINUTES = 10


def expiry_hours() -> int:
    """How long a request waits for a decision before it expires (TELECOM_APPROVAL_EXPIRY_HOURS)."""
    return int(os.environ.get("TELECOM_APPROVAL_EXPIRY_HOURS", "72"))


@dataclass(frozen=True)
class Preview:
    """What an operation will change, in words and as before -> after rows."""

    summary: str
    changes: list[tuple[str, str, str]]
    target_key: str
    customer_id: int | None = None
    contract_id: int | None = None
    line_id: int | None = None
    confirm_word: str | None = None  # typed by the requester for irreversible operations


@dataclass(frozen=True)
class Policy:
    """One row of the approval policy table."""

    operation: str
    label_ja: str
    request_permission: str
    approver_roles: frozenset[Role]
    describe: Callable[[Session, dict], Preview]
    execute: Callable[[dict, Actor, str], None]
    irreversible: bool = False
    required_params: tuple[str, ...] = field(default=())
    check_request: Callable[[dict], None] | None = None  # what a request needs beyond the preview's params


# ---- previews and executions, one pair per operation ------------------------------------------

def _get(session: Session, model, record_id: Any, what: str):
    try:
        obj = session.get(model, int(record_id))
    except (TypeError, ValueError):
        obj = None
    if obj is None:
        raise NotFound(f"{what}が見つかりません。")
    return obj


def _line_preview(event: LineEvent) -> Callable[[Session, dict], Preview]:
    def describe(session: Session, params: dict) -> Preview:
        line = _get(session, Line, params.get("line_id"), "回線")
        after = LINE.next_state(line.status, event)
        customer = session.get(Customer, line.customer_id)
        verb = {LineEvent.SUSPEND: "停止", LineEvent.RESUME: "再開"}[event]
        final = LINE.next_state(after, LineEvent.CARRIER_CONFIRMED)
        return Preview(
            summary=f"回線 {format_msisdn(line.msisdn)}（契約 {contract_code(line.contract_id)}、{customer.name}）を{verb}します。",
            changes=[("状態", state_label("line", line.status),
                      f"{state_label('line', after)}（キャリア完了後: {state_label('line', final)}）")],
            target_key=f"line:{line.id}", customer_id=line.customer_id, contract_id=line.contract_id,
            line_id=line.id,
        )
    return describe


def _line_execute(event: LineEvent) -> Callable[[dict, Actor, str], None]:
    def execute(params: dict, actor: Actor, reason: str) -> None:
        lines.change_line_status(int(params["line_id"]), actor=actor, event=event, reason=reason)
    return execute


def _describe_contract_termination(session: Session, params: dict) -> Preview:
    contract = _get(session, Contract, params.get("contract_id"), "契約")
    after = CONTRACT.next_state(contract.status, ContractEvent.TERMINATE)
    customer = session.get(Customer, contract.customer_id)
    open_lines = session.exec(select(Line).where(Line.contract_id == contract.id, Line.status != "terminated")).all()
    code = contract_code(contract.id)
    changes = [("契約の状態", state_label("contract", contract.status), state_label("contract", after))]
    changes += [(f"回線 {format_msisdn(ln.msisdn)}", state_label("line", ln.status), "解約済") for ln in open_lines]
    return Preview(
        summary=f"契約 {code}（{customer.name}）を解約します。回線 {len(open_lines)} 件も解約されます。この操作は取り消せません。",
        changes=changes, target_key=f"contract:{contract.id}", customer_id=contract.customer_id,
        contract_id=contract.id, confirm_word=code,
    )


def _execute_contract_termination(params: dict, actor: Actor, reason: str) -> None:
    contract_id = int(params["contract_id"])
    with read_session() as session:
        line_ids = session.exec(select(Line.id).where(Line.contract_id == contract_id,
                                                      Line.status != "terminated")).all()
    with approved("line.terminate"):  # the approved contract termination listed each of its lines
        for line_id in line_ids:
            lines.change_line_status(line_id, actor=actor, event=LineEvent.TERMINATE, reason=reason)
    contracts.change_contract_status(contract_id, actor=actor, event=ContractEvent.TERMINATE, reason=reason)


def _describe_line_termination(session: Session, params: dict) -> Preview:
    line = _get(session, Line, params.get("line_id"), "回線")
    after = LINE.next_state(line.status, LineEvent.TERMINATE)
    customer = session.get(Customer, line.customer_id)
    number = format_msisdn(line.msisdn)
    return Preview(
        summary=f"回線 {number}（契約 {contract_code(line.contract_id)}、{customer.name}）を解約します。"
                "キャリアに解約を依頼し、SIM は返却扱いになります。この操作は取り消せません。",
        changes=[("状態", state_label("line", line.status), state_label("line", after))],
        target_key=f"line:{line.id}", customer_id=line.customer_id, contract_id=line.contract_id, line_id=line.id,
        confirm_word=number,
    )


def _describe_invoice_void(session: Session, params: dict) -> Preview:
    invoice = _get(session, Invoice, params.get("invoice_id"), "請求書")
    after = INVOICE.next_state(invoice.status, InvoiceEvent.VOID)
    if invoice.status != "issued":
        raise ValidationFailed({"invoice_id": "承認が必要なのは発行済の請求書の取消だけです。"})
    allocated = allocation.allocated_amounts(session, [invoice.id])[invoice.id]
    if allocated:
        raise Conflict(f"この請求書には{allocated:,}円の入金が消込済みです。先に入金を返金してください。")
    customer = session.get(Customer, invoice.customer_id)
    return Preview(
        summary=f"請求書 {invoice.invoice_no}（{customer.name}、{invoice.period}、{yen(invoice.total)}）を取り消します（赤伝）。この操作は取り消せません。",
        changes=[("状態", state_label("invoice", invoice.status), state_label("invoice", after)),
                 ("請求額", yen(invoice.total), "￥0（取消）")],
        target_key=f"invoice:{invoice.id}", customer_id=invoice.customer_id, contract_id=invoice.contract_id,
        confirm_word=invoice.invoice_no,
    )


def _execute_invoice_void(params: dict, actor: Actor, reason: str) -> None:
    invoices.void_invoice(int(params["invoice_id"]), actor=actor, reason=reason)


def _describe_refund(session: Session, params: dict) -> Preview:
    payment = _get(session, Payment, params.get("payment_id"), "入金")
    after = PAYMENT.next_state(payment.status, PaymentEvent.REFUND)
    return Preview(
        summary=f"入金 {yen(payment.amount)}（名義 {payment.payer_name}、{tokyo_time(payment.received_at)}）を返金済にします。",
        changes=[("状態", state_label("payment", payment.status), state_label("payment", after))],
        target_key=f"payment:{payment.id}", customer_id=payment.customer_id,
    )


def _execute_refund(params: dict, actor: Actor, reason: str) -> None:
    payments.refund_payment(int(params["payment_id"]), actor=actor, reason=reason)


_KYC_LABELS = {"not_started": "未提出", "submitted": "確認待ち", "verified": "確認済", "rejected": "否認"}


def _describe_kyc(session: Session, params: dict) -> Preview:
    customer = _get(session, Customer, params.get("customer_id"), "顧客")
    status = params.get("status")
    if status not in customers.KYC_CONFIRMED_STATUSES:
        raise ValidationFailed({"status": "本人確認の結果は「確認済」か「否認」を選んでください。"})
    if customer.kyc_status == status:
        raise Conflict("本人確認は既にその状態です。")
    changes = [("本人確認", _KYC_LABELS.get(customer.kyc_status, customer.kyc_status), _KYC_LABELS[status])]
    summary = f"顧客 {customer_code(customer.id)} {customer.name} の本人確認を「{_KYC_LABELS[status]}」として確定します。"
    if status == "verified":
        summary += "本人確認記録（確認者・承認者・日時・方法・書類）を作成し、契約終了から3年間保存します。"
        if params.get("method"):  # the request names it (_check_kyc_request); the dialog's preview not yet
            method, tracking = kyc_records.check_method(params.get("method"), params.get("tracking_number"))
            label = kyc_records.METHOD_LABELS_JA[method]
            changes.append(("確認方法", "", f"{label}（追跡番号 {tracking}）" if tracking else label))
    return Preview(summary=summary, changes=changes, target_key=f"customer:{customer.id}", customer_id=customer.id)


def _check_kyc_request(params: dict) -> None:
    if params.get("status") == "verified":
        kyc_records.check_method(params.get("method"), params.get("tracking_number"))


def _execute_kyc(params: dict, actor: Actor, reason: str) -> None:
    customers.set_kyc_status(int(params["customer_id"]), actor=actor, status=params["status"], reason=reason,
                             method=params.get("method"), tracking_number=params.get("tracking_number"))


def _describe_mfa_reset(session: Session, params: dict) -> Preview:
    from services.security import staff_admin

    user = _get(session, StaffUser, params.get("staff_user_id"), "担当者")
    described = staff_admin.describe_mfa_reset(session, user.id)
    before, after = described.get("before", {}), described.get("after", {})
    changes = [(str(k), str(before.get(k, "")), str(after.get(k, ""))) for k in dict.fromkeys([*before, *after])]
    return Preview(summary=described["summary"], changes=changes, target_key=f"staff:{user.id}")


def _execute_mfa_reset(params: dict, actor: Actor, reason: str) -> None:
    from services.security import staff_admin

    with write_session() as session:  # joins the approval's transaction
        user = _get(session, StaffUser, params["staff_user_id"], "担当者")
        before = snapshot(user, exclude={"password_hash", "totp_secret"})
        staff_admin.reset_staff_mfa_in(session, user.id, actor=actor, reason=reason)
        record(session, actor, "staff.mfa_reset", user, before=before, reason=reason,
               exclude={"password_hash", "totp_secret"})


# The states a person may confirm for a line in 要確認 / 保留, and the line event that sets each.
RESOLVE_LINE_EVENTS: dict[str, LineEvent] = {
    "active": LineEvent.CONFIRM_ACTIVE, "suspended": LineEvent.CONFIRM_SUSPENDED,
    "terminated": LineEvent.CONFIRM_TERMINATED,
}


def _describe_line_resolve(session: Session, params: dict) -> Preview:
    line = _get(session, Line, params.get("line_id"), "回線")
    item = _get(session, ReviewItem, params.get("review_item_id"), "要確認の項目")
    event = RESOLVE_LINE_EVENTS.get(params.get("line_state") or "")
    if event is None:
        raise ValidationFailed({"line_state": "確定する回線の状態を選んでください。"})
    if item.line_id != line.id:
        raise ValidationFailed({"review_item_id": "要確認の項目とこの回線は一致しません。"})
    if item.status != "open":
        raise Conflict("この要確認の項目は既に解消されています。")
    after = LINE.next_state(line.status, event)
    customer = session.get(Customer, line.customer_id)
    return Preview(
        summary=f"回線 {format_msisdn(line.msisdn)}（契約 {contract_code(line.contract_id)}、{customer.name}）の状態を"
                f"「{state_label('line', after)}」として確定します（要確認の解消）。",
        changes=[("状態", state_label("line", line.status), state_label("line", after)),
                 (f"要確認 #{item.id}", "未対応", "解消済")],
        target_key=f"line:{line.id}", customer_id=line.customer_id, contract_id=line.contract_id,
        line_id=line.id,
    )


def _execute_line_resolve(params: dict, actor: Actor, reason: str) -> None:
    from services.operations import recovery  # services.operations.recovery imports this module

    lines.change_line_status(int(params["line_id"]), actor=actor, event=RESOLVE_LINE_EVENTS[params["line_state"]],
                             reason=reason)
    recovery.resolve_confirmed_review_item(int(params["review_item_id"]), actor=actor, reason=reason)


_SUPPORT_CHECKERS = frozenset({Role.SUPPORT, Role.ADMIN})
_ACCOUNTING_CHECKERS = frozenset({Role.ACCOUNTING, Role.ADMIN})

# The one approval policy table.
POLICIES: dict[str, Policy] = {p.operation: p for p in (
    Policy("line.suspend", "回線の停止", "line.suspend", _SUPPORT_CHECKERS,
           _line_preview(LineEvent.SUSPEND), _line_execute(LineEvent.SUSPEND), required_params=("line_id",)),
    Policy("line.resume", "回線の再開", "line.resume", _SUPPORT_CHECKERS,
           _line_preview(LineEvent.RESUME), _line_execute(LineEvent.RESUME), required_params=("line_id",)),
    Policy("line.terminate", "回線の解約", "line.terminate", _SUPPORT_CHECKERS,
           _describe_line_termination, _line_execute(LineEvent.TERMINATE), irreversible=True,
           required_params=("line_id",)),
    Policy("line.resolve", "回線状態の確定（要確認の解消）", "review.resolve", _SUPPORT_CHECKERS,
           _describe_line_resolve, _execute_line_resolve, required_params=("line_id", "review_item_id", "line_state")),
    Policy("contract.terminate", "契約の解約", "contract.transition", frozenset({Role.ADMIN}),
           _describe_contract_termination, _execute_contract_termination, irreversible=True,
           required_params=("contract_id",)),
    Policy("invoice.void", "請求書の取消（赤伝）", "invoice.manage", _ACCOUNTING_CHECKERS,
           _describe_invoice_void, _execute_invoice_void, irreversible=True, required_params=("invoice_id",)),
    Policy("payment.refund", "入金の返金", "payment.manage", _ACCOUNTING_CHECKERS,
           _describe_refund, _execute_refund, required_params=("payment_id",)),
    Policy("customer.kyc", "本人確認結果の確定", "customer.kyc", _SUPPORT_CHECKERS,
           _describe_kyc, _execute_kyc, required_params=("customer_id", "status"), check_request=_check_kyc_request),
    Policy("staff.mfa_reset", "担当者の二要素認証リセット", "staff.manage", frozenset({Role.ADMIN}),
           _describe_mfa_reset, _execute_mfa_reset, required_params=("staff_user_id",)),
)}


# ---- the workflow -----------------------------------------------------------------------------

def canonical_params(params: dict) -> str:
    """The one JSON text of a request's parameters (sorted keys, no spaces)."""
    return json.dumps(params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def params_digest(operation: str, params_json: str) -> str:
    """SHA-256 of the operation and its parameters: what the approver approves."""
    return hashlib.sha256(f"{operation}\n{params_json}".encode()).hexdigest()


def _policy(operation: str) -> Policy:
    policy = POLICIES.get(operation)
    if policy is None:
        raise ValidationFailed({"operation": "承認の対象ではない操作です。"})
    return policy


def _check_params(policy: Policy, params: dict) -> None:
    missing = [name for name in policy.required_params if params.get(name) in (None, "")]
    if missing:
        raise ValidationFailed({name: "対象が指定されていません。" for name in missing})


def _duplicate_warnings(session: Session, operation: str, target_key: str) -> tuple[list[str], list[str]]:
    """(blocking, warning) messages: a pending request for the same thing blocks; a recent one warns."""
    pending = session.exec(select(ApprovalRequest).where(
        ApprovalRequest.operation == operation, ApprovalRequest.target_key == target_key,
        ApprovalRequest.status == ApprovalStatus.PENDING, ApprovalRequest.expires_at > utcnow(),
    )).first()
    blocking = [f"同じ操作の承認申請 #{pending.id} が既に承認待ちです。"] if pending else []
    since = utcnow() - timedelta(minutes=RECENT_MINUTES)
    recent = session.exec(select(ApprovalRequest).where(
        ApprovalRequest.operation == operation, ApprovalRequest.target_key == target_key,
        ApprovalRequest.status == ApprovalStatus.EXECUTED, ApprovalRequest.executed_at >= since,
    ).order_by(col(ApprovalRequest.executed_at).desc())).first()
    warnings = []
    if recent:
        minutes = max(1, int((utcnow() - recent.executed_at).total_seconds() // 60))
        warnings.append(f"同じ操作が約{minutes}分前に実行されています（承認申請 #{recent.id}）。")
    return blocking, warnings


def preview_operation(operation: str, params: dict, *, actor: Actor) -> dict:
    """What a request would change, and any duplicate warnings, for the confirmation dialog."""
    policy = _policy(operation)
    require(actor, policy.request_permission)
    _check_params(policy, params)
    with read_session() as session:
        preview = policy.describe(session, params)
        blocking, warnings = _duplicate_warnings(session, operation, preview.target_key)
    return {"operation": operation, "label": policy.label_ja, "summary": preview.summary,
            "changes": [{"field": f, "before": b, "after": a} for f, b, a in preview.changes],
            "confirm_word": preview.confirm_word or "", "blocking": blocking, "warnings": warnings}


@mutating_service
def request_approval(operation: str, params: dict, *, actor: Actor, reason: str, confirm_word: str | None = None,
                     confirm_repeat: bool = False) -> ApprovalRequest:
    """Ask a second person to approve a dangerous operation (the maker step).

    Checks the requester's permission, that the operation is possible now, that the typed
    confirmation word matches for irreversible operations, and refuses a duplicate of a pending
    request (a repeat of one executed in the last minutes needs `confirm_repeat`).
    Writes the request and one audit entry (approval.request).
    """
    policy = _policy(operation)
    require(actor, policy.request_permission)
    if actor.id is None:
        raise PermissionDenied("承認申請は担当者としてログインして行ってください。")
    _check_params(policy, params)
    if policy.check_request is not None:
        policy.check_request(params)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    params_json = canonical_params(params)
    with write_session() as session:
        preview = policy.describe(session, params)
        if policy.irreversible and (confirm_word or "").strip() != preview.confirm_word:
            raise ValidationFailed({"confirm_word": f"確認のため「{preview.confirm_word}」と入力してください。"})
        blocking, warnings = _duplicate_warnings(session, operation, preview.target_key)
        if blocking:
            raise Conflict(blocking[0])
        if warnings and not confirm_repeat:
            raise Conflict(warnings[0] + "それでも申請する場合は確認欄にチェックしてください。")
        now = utcnow()
        request = ApprovalRequest(
            operation=operation, target_key=preview.target_key, params_json=params_json,
            params_hash=params_digest(operation, params_json), requested_by=actor.id, reason=reason.strip(),
            customer_id=preview.customer_id, contract_id=preview.contract_id, line_id=preview.line_id,
            summary=preview.summary[:500],
            preview_json=json.dumps([list(c) for c in preview.changes], ensure_ascii=False),
            created_at=now, expires_at=now + timedelta(hours=expiry_hours()),
        )
        session.add(request)
        record(session, actor, "approval.request", request, reason=reason.strip())
    return request


class _Expired(Exception):
    pass


def _expire(request_id: int) -> None:
    with write_session() as session:
        request = session.exec(select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update()).one()
        if request.status != ApprovalStatus.PENDING:
            return
        before = snapshot(request)
        request.status = APPROVAL.next_state(request.status, ApprovalEvent.EXPIRE).value
        request.decided_at = utcnow()
        session.add(request)
        record(session, SYSTEM, "approval.expire", request, before=before, reason="承認期限切れ")


def _is_expired(request: ApprovalRequest) -> bool:
    expires = request.expires_at if request.expires_at.tzinfo else request.expires_at.replace(tzinfo=UTC)
    return expires <= utcnow()


def _load_for_decision(session: Session, request_id: int, actor: Actor) -> tuple[ApprovalRequest, Policy]:
    request = session.exec(select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update()).first()
    if request is None:
        raise NotFound("承認申請が見つかりません。")
    policy = _policy(request.operation)
    if actor.role not in policy.approver_roles or actor.kind != "staff":
        raise PermissionDenied("この申請を承認・却下する権限がありません。")
    if actor.id is None or actor.id == request.requested_by:
        raise PermissionDenied("自分の申請は承認・却下できません。別の担当者に依頼してください。")
    if request.status != ApprovalStatus.PENDING:
        raise Conflict(f"この申請は既に処理されています（{state_label('approval', request.status)}）。")
    if _is_expired(request):
        raise _Expired()
    return request, policy


@mutating_service
def approve_request(request_id: int, *, actor: Actor, expected_hash: str, reason: str | None = None) -> ApprovalRequest:
    """Approve a pending request and execute its operation exactly once (the checker step).

    The approver must be a different person with an approver role; `expected_hash` is the hash
    shown with the request, and the stored parameters must still hash to it. The decision and
    the operation commit together: two approvers at once give one execution, the other a clear
    message. If the operation itself fails, the request becomes 実行失敗 with the reason.
    """
    executing = False
    try:
        with write_session() as session:
            request, policy = _load_for_decision(session, request_id, actor)
            if not (params_digest(request.operation, request.params_json) == request.params_hash == expected_hash):
                raise Conflict("申請の内容が申請後に変更されています。この申請は承認できません。")
            now = utcnow()
            request.status = APPROVAL.next_state(request.status, ApprovalEvent.APPROVE).value
            request.decided_by, request.decided_at = actor.id, now
            request.decision_reason = (reason or "").strip() or None
            request.status = APPROVAL.next_state(request.status, ApprovalEvent.EXECUTE).value
            request.executed_at = now
            request.result_message = "実行しました。"
            session.add(request)
            requester = session.get(StaffUser, request.requested_by)
            note = f"{request.reason}（承認申請 #{request.id}: 申請 {requester.display_name} / 承認 {actor.label}）"
            executing = True
            with approved(request.operation, request=ExecutingRequest(request.id, request.requested_by)):
                policy.execute(json.loads(request.params_json), actor, note)
    except _Expired:
        _expire(request_id)
        raise Conflict("この申請は承認期限を過ぎたため期限切れになりました。必要なら新しく申請してください。") from None
    except DomainError as exc:
        if executing:
            _record_failure(request_id, actor, exc.message)
        raise
    return request


def _record_failure(request_id: int, actor: Actor, message: str) -> None:
    with write_session() as session:
        request = session.exec(select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update()).one()
        if request.status != ApprovalStatus.PENDING:
            return
        before = snapshot(request)
        request.status = APPROVAL.next_state(request.status, ApprovalEvent.APPROVE).value
        request.status = APPROVAL.next_state(request.status, ApprovalEvent.FAIL).value
        request.decided_by, request.decided_at = actor.id, utcnow()
        request.result_message = message[:500]
        session.add(request)
        record(session, actor, "approval.fail", request, before=before, reason=message)


@mutating_service
def reject_request(request_id: int, *, actor: Actor, reason: str) -> ApprovalRequest:
    """Reject a pending request with a reason (a different person with an approver role)."""
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "却下の理由を入力してください。"})
    try:
        with write_session() as session:
            request, _policy_row = _load_for_decision(session, request_id, actor)
            before = snapshot(request)
            request.status = APPROVAL.next_state(request.status, ApprovalEvent.REJECT).value
            request.decided_by, request.decided_at = actor.id, utcnow()
            request.decision_reason = reason.strip()
            request.result_message = "却下されました。"
            session.add(request)
            record(session, actor, "approval.reject", request, before=before, reason=reason.strip())
    except _Expired:
        _expire(request_id)
        raise Conflict("この申請は承認期限を過ぎたため期限切れになりました。") from None
    return request


def expire_overdue() -> int:
    """Mark every pending request past its deadline as 期限切れ (a system job); returns how many."""
    with read_session() as session:
        overdue = session.exec(select(ApprovalRequest.id).where(
            ApprovalRequest.status == ApprovalStatus.PENDING, ApprovalRequest.expires_at <= utcnow())).all()
    for request_id in overdue:
        _expire(request_id)
    return len(overdue)


# ---- reading the queue ------------------------------------------------------------------------

def _row(request: ApprovalRequest, staff: dict[int, StaffUser], actor: Actor) -> dict:
    policy = POLICIES.get(request.operation)
    expired = request.status == ApprovalStatus.PENDING and _is_expired(request)
    status = "expired" if expired else request.status
    changes = json.loads(request.preview_json or "[]")
    created = request.created_at if request.created_at.tzinfo else request.created_at.replace(tzinfo=UTC)
    age_hours = int((utcnow() - created).total_seconds() // 3600)
    requester = staff.get(request.requested_by)
    decider = staff.get(request.decided_by) if request.decided_by else None
    can_decide = (status == ApprovalStatus.PENDING and policy is not None and actor.role in policy.approver_roles
                  and actor.id is not None and actor.id != request.requested_by)
    shown = (lambda text: text) if masking.can_see("msisdn", actor) else masking.mask_text
    return {
        "id": request.id, "operation": request.operation, "label": policy.label_ja if policy else request.operation,
        "summary": shown(request.summary), "reason": shown(request.reason),
        "changes": [{"field": shown(f), "before": b, "after": a} for f, b, a in changes],
        "requester": requester.display_name if requester else "", "requester_id": request.requested_by,
        "decider": decider.display_name if decider else "", "decision_reason": request.decision_reason or "",
        "result": request.result_message or "", "status": status, "status_label": state_label("approval", status),
        "created_at": tokyo_time(request.created_at), "expires_at": tokyo_time(request.expires_at),
        "age": f"{age_hours}時間前" if age_hours else "1時間以内", "hash": request.params_hash,
        "customer_url": f"/admin/customers/{request.customer_id}" if request.customer_id else "",
        "contract_url": f"/admin/contracts/{request.contract_id}" if request.contract_id else "",
        "line_url": f"/admin/lines/{request.line_id}" if request.line_id else "",
        "can_decide": can_decide, "mine": request.requested_by == actor.id,
    }


def list_requests(*, actor: Actor, status: str | None = "pending", operation: str | None = None,
                  requester_id: int | None = None, min_age_hours: int | None = None, mine: bool = False,
                  limit: int = 100) -> list[dict]:
    """Approval requests for the queue screen (newest first), with their before -> after rows."""
    require(actor, "approval.view")
    with read_session() as session:
        query = select(ApprovalRequest)
        if status:
            query = query.where(ApprovalRequest.status == status)
        if operation:
            query = query.where(ApprovalRequest.operation == operation)
        if requester_id:
            query = query.where(ApprovalRequest.requested_by == requester_id)
        if mine:
            query = query.where(ApprovalRequest.requested_by == actor.id)
        if min_age_hours:
            query = query.where(ApprovalRequest.created_at <= utcnow() - timedelta(hours=min_age_hours))
        requests = session.exec(query.order_by(col(ApprovalRequest.id).desc()).limit(limit)).all()
        ids = {r.requested_by for r in requests} | {r.decided_by for r in requests if r.decided_by}
        staff = {u.id: u for u in session.exec(select(StaffUser).where(col(StaffUser.id).in_(ids)))} if ids else {}
        return [_row(r, staff, actor) for r in requests]


def requesters(*, actor: Actor) -> list[dict]:
    """Staff who have made requests (for the queue's filter)."""
    require(actor, "approval.view")
    with read_session() as session:
        rows = session.exec(select(StaffUser).where(
            col(StaffUser.id).in_(select(ApprovalRequest.requested_by).distinct()))).all()
        return [{"id": u.id, "name": u.display_name} for u in rows]


def pending_count(*, actor: Actor) -> int:
    """How many live requests this actor could decide (for the navigation badge)."""
    operations = [op for op, p in POLICIES.items() if actor.role in p.approver_roles]
    if not operations or actor.id is None:
        return 0
    with read_session() as session:
        return int(session.exec(select(func.count()).select_from(ApprovalRequest).where(
            ApprovalRequest.status == ApprovalStatus.PENDING,
            ApprovalRequest.requested_by != actor.id, ApprovalRequest.expires_at > utcnow(),
            col(ApprovalRequest.operation).in_(operations))).one())
