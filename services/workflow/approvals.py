"""Maker-checker approvals (承認申請) for dangerous operations.

One policy table says which operations need a second person, who may ask and who may approve.
A request stores the operation, its parameters and their hash, the requester and a reason,
and expires (72 h by default, settings.approval_expiry_hours). A different person with an
approver role approves it; approving executes the operation exactly once, inside the same
transaction as the decision (the gated service joins it), and refuses a payload changed since
the request. The gated services themselves refuse to run outside an approved execution
(services.workflow.approval_gate).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.models import (
    ApprovalRequest,
    CustomerUser,
    StaffUser,
)
from services.models.base import utcnow
from services.models.workflow import ApprovalEvent, ApprovalStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from services.platform.labels import state_label
from services.platform.lifecycle import Lifecycle
from services.platform.permissions import SYSTEM, Actor, Role, require
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
    # How a customer's own request (from the customer app) is checked in the request's transaction — their scope,
    # their right to ask, nothing else open — raising NotFound / PermissionDenied / Conflict; None: customers cannot
    # ask for this operation. A customer only ever asks: a person of staff approves, as for any request.
    customer_request: Callable[[Session, dict, Actor], None] | None = None


SUPPORT_CHECKERS = frozenset({Role.SUPPORT, Role.ADMIN})
ACCOUNTING_CHECKERS = frozenset({Role.ACCOUNTING, Role.ADMIN})
ADMIN_CHECKERS = frozenset({Role.ADMIN})

# The one approval policy table: each domain declares its rows beside its operations; services.registry
# registers them here.
POLICIES: dict[str, Policy] = {}


def register_policies(*policies: Policy) -> None:
    """Add rows to the policy table (services.registry, once per row)."""
    for policy in policies:
        POLICIES[policy.operation] = policy


# Told of a request's outcome (executed, rejected, failed, expired) inside the transaction that decides it; a domain
# registers one (services.registry), e.g. to tell the customer who asked.
OUTCOME_LISTENERS: list[Callable[[Session, ApprovalRequest], None]] = []


def register_outcome_listener(listener: Callable[[Session, ApprovalRequest], None]) -> None:
    """Call `listener(session, request)` whenever a request is decided or ends (services.registry, once)."""
    if listener not in OUTCOME_LISTENERS:
        OUTCOME_LISTENERS.append(listener)


def _tell_outcome(session: Session, request: ApprovalRequest) -> None:
    for listener in OUTCOME_LISTENERS:
        listener(session, request)


def operation_choices() -> list[dict[str, str]]:
    """Every gated operation with its label, in table order (for the queue's filter)."""
    return [{"value": operation, "label": policy.label_ja} for operation, policy in POLICIES.items()]


def get_record(session: Session, model, record_id: Any, what: str):
    """The record a request's parameters name, or NotFound saying `what` is missing (for previews)."""
    try:
        obj = session.get(model, int(record_id))
    except (TypeError, ValueError):
        obj = None
    if obj is None:
        raise NotFound(f"{what}が見つかりません。")
    return obj


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


def _require_requester(policy: Policy, actor: Actor | None) -> None:
    """Who may ask: staff holding the policy's permission; a customer only for operations open to customers (their
    scope is checked by the policy's customer_request in the request's transaction)."""
    if actor is not None and actor.kind == "customer":
        if policy.customer_request is None:
            raise PermissionDenied()
        return
    require(actor, policy.request_permission)


def _check_customer(session: Session, policy: Policy, params: dict, actor: Actor) -> None:
    if actor.kind == "customer":
        policy.customer_request(session, params, actor)


def preview_operation(operation: str, params: dict, *, actor: Actor) -> dict:
    """What a request would change, and any duplicate warnings, for the confirmation dialog."""
    policy = _policy(operation)
    _require_requester(policy, actor)
    _check_params(policy, params)
    with read_session() as session:
        _check_customer(session, policy, params, actor)
        preview = policy.describe(session, params)
        blocking, warnings = _duplicate_warnings(session, operation, preview.target_key)
    return {"operation": operation, "label": policy.label_ja, "summary": preview.summary,
            "changes": [{"field": f, "before": b, "after": a} for f, b, a in preview.changes],
            "confirm_word": preview.confirm_word or "", "blocking": blocking, "warnings": warnings}


@mutating_service
def request_approval(operation: str, params: dict, *, actor: Actor, reason: str, confirm_word: str | None = None,
                     confirm_repeat: bool = False, urgent: bool = False) -> ApprovalRequest:
    """Ask a second person to approve a dangerous operation (the maker step).

    Checks the requester's permission (a customer: the policy's customer_request, their scope), that the
    operation is possible now, that the typed confirmation word matches for irreversible operations, and
    refuses a duplicate of a pending request (a repeat of one executed in the last minutes needs
    `confirm_repeat`). `urgent` puts it first in the queue (a customer's lost or stolen phone).
    Writes the request and one audit entry (approval.request).
    """
    policy = _policy(operation)
    _require_requester(policy, actor)
    if actor.id is None:
        raise PermissionDenied("承認申請は担当者としてログインして行ってください。")
    _check_params(policy, params)
    if policy.check_request is not None:
        policy.check_request(params)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    params_json = canonical_params(params)
    customer = actor.kind == "customer"
    with write_session() as session:
        _check_customer(session, policy, params, actor)
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
            params_hash=params_digest(operation, params_json), requested_by=None if customer else actor.id,
            requested_by_customer_user_id=actor.id if customer else None, urgent=bool(urgent), reason=reason.strip(),
            customer_id=preview.customer_id, contract_id=preview.contract_id, line_id=preview.line_id,
            summary=preview.summary[:500],
            preview_json=json.dumps([list(c) for c in preview.changes], ensure_ascii=False),
            created_at=now, expires_at=now + timedelta(hours=settings.approval_expiry_hours),
        )
        session.add(request)
        record(session, actor, "approval.request", request, reason=reason.strip())
    return request


def run_by_policy(operation: str, params: dict, *, rule: str, reason: str) -> ApprovalRequest:
    """Ask for and approve a gated operation as the system under a written rule (e.g. 督促ポリシー), and run it.

    The request is kept like any other — asked and approved by that rule, visible in the queue and the audit
    trail — and the operation runs through its own policy, as an approved request of a person would. A live
    request for the same target refuses it (Conflict), as it would refuse a person.
    """
    policy = _policy(operation)
    _check_params(policy, params)
    params_json = canonical_params(params)
    with write_session() as session:
        preview = policy.describe(session, params)
        blocking, _ = _duplicate_warnings(session, operation, preview.target_key)
        if blocking:
            raise Conflict(blocking[0])
        now = utcnow()
        request = ApprovalRequest(
            operation=operation, target_key=preview.target_key, params_json=params_json,
            params_hash=params_digest(operation, params_json), requested_by=None, policy_rule=rule[:100],
            reason=reason, customer_id=preview.customer_id, contract_id=preview.contract_id, line_id=preview.line_id,
            summary=preview.summary[:500], preview_json=json.dumps([list(c) for c in preview.changes], ensure_ascii=False),
            status=ApprovalStatus.EXECUTED.value, decision_reason=f"自動承認（{rule}）", result_message="実行しました。",
            created_at=now, expires_at=now, decided_at=now, executed_at=now,
        )
        session.add(request)
        record(session, SYSTEM, "approval.policy_approve", request, reason=f"{rule}: {reason}")
        with approved(operation, request=ExecutingRequest(request.id, None)):
            policy.execute(json.loads(params_json), SYSTEM, f"{reason}（承認申請 #{request.id}: {rule}による自動承認）")
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
        _tell_outcome(session, request)


def is_expired(request: ApprovalRequest) -> bool:
    """True once a pending request's deadline has passed (it is expired at the next look)."""
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
    if is_expired(request):
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
            note = f"{request.reason}（承認申請 #{request.id}: 申請 {requester_name(session, request)} / 承認 {actor.label}）"
            executing = True
            with approved(request.operation, request=ExecutingRequest(request.id, request.requested_by)):
                policy.execute(json.loads(request.params_json), actor, note)
            _tell_outcome(session, request)
    except _Expired:
        _expire(request_id)
        raise Conflict("この申請は承認期限を過ぎたため期限切れになりました。必要なら新しく申請してください。") from None
    except DomainError as exc:
        if executing:
            _record_failure(request_id, actor, exc.message)
        raise
    return request


def requester_name(session: Session, request: ApprovalRequest) -> str:
    """Who asked, in words: the staff member, 「お客様 〇〇」 for a customer's own request, or the written rule."""
    if request.requested_by is not None:
        staff = session.get(StaffUser, request.requested_by)
        return staff.display_name if staff else ""
    if request.requested_by_customer_user_id is not None:
        person = session.get(CustomerUser, request.requested_by_customer_user_id)
        return f"お客様 {person.name}" if person else "お客様"
    return f"システム（{request.policy_rule}）" if request.policy_rule else ""


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
        _tell_outcome(session, request)


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
            _tell_outcome(session, request)
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


@dataclass(frozen=True)
class Submitted:
    """What became of an operation someone asked for: it ran now (`result`), or waits for a second person
    (`request`)."""

    request: ApprovalRequest | None = None
    result: Any = None


def submit(operation: str | None, params: dict, *, actor: Actor, reason: str, run_now: Callable[[], Any],
           confirm_word: str | None = None, confirm_repeat: bool = False, urgent: bool = False) -> Submitted:
    """The one entry of an operation any caller asks for (a page, a CSV row, a customer, an API).

    An operation in the policy table becomes an approval request (request_approval checks the
    requester, the reason and the confirmation word); any other (or None) runs at once with `run_now`.
    A customer never runs anything at once: what is not in the policy table is refused for them.
    """
    if operation in POLICIES:
        return Submitted(request=request_approval(operation, params, actor=actor, reason=reason,
                                                  confirm_word=confirm_word, confirm_repeat=confirm_repeat,
                                                  urgent=urgent))
    if actor is not None and actor.kind == "customer":
        raise PermissionDenied()
    return Submitted(result=run_now())


def preview_if_gated(operation: str | None, params: dict, *, actor: Actor) -> dict | None:
    """The confirmation preview of a gated operation (preview_operation), or None for one that runs at once."""
    return preview_operation(operation, params, actor=actor) if operation in POLICIES else None


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
