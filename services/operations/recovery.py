"""Manual recovery (要確認キュー): retrying external operations, re-asking a provider, resolving review items.

Uncertain outcomes and disagreements with a provider become review items (services.workflow.outbox,
services.workflow.reconciliation). Staff read each one with its evidence and the operation's attempts
(services.read.staff.review), then retry the operation (same idempotency key: the provider applies it at most once) or resolve the
item with a reason. Setting a line's state by hand is dangerous, so confirming it goes through the
approval policy ("line.resolve"): a second person approves, then the line and the item change together.
"""

from __future__ import annotations

import json

from sqlmodel import Session, col, select

from services.ledger import provisioning
from services.ledger.lines import CONFIRMABLE_LINE_STATES, LINE_STATE_CHOICES, RETRYABLE_LINE_STATES
from services.models import ApprovalRequest, ExternalOperation, Line, ReviewItem
from services.models.base import utcnow
from services.models.workflow import ExternalOperationEvent, ExternalOperationStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.labels import label, state_label
from services.platform.permissions import Actor, require_external
from services.workflow import approvals, reconciliation, review
from services.workflow.outbox import EXTERNAL_OPERATION

RESYNC_LOOKUPS_JA = {  # {provider}: the provider's Japanese name
    "applied": "{provider}で反映済みを確認しました。",
    "not_applied": "{provider}には届いていませんでした。同じ冪等キーで再送します。",
    "unreachable": "{provider}から応答がありません。時間をおいて自動で再照会します。",
    "skipped": "送信待ちのため照会していません。",
}
_EVENTS_BY_CARRIER_OPERATION = {name: event for event, name in provisioning.CARRIER_OPERATIONS.items()}


def _requeue_failed(session: Session, op: ExternalOperation) -> ExternalOperation:
    """A new carrier call for a FAILED one whose line still waits (処理中) or is 要確認.

    The provider said no under the old key (and would answer the same again), so the new call gets
    a new key; it is made only while the line still shows the change as unfinished.
    """
    event = _EVENTS_BY_CARRIER_OPERATION.get(op.operation)
    if op.provider != provisioning.CARRIER or op.line_id is None or event is None:
        raise Conflict("この外部連携処理は失敗が確定しているため、再試行できません。")
    line = session.exec(select(Line).where(Line.id == op.line_id).with_for_update()).one()
    if line.status not in RETRYABLE_LINE_STATES:
        raise Conflict(f"回線が「{state_label('line', line.status)}」のため再試行できません。"
                       "キャリアが拒否した操作は、回線の画面からやり直してください。")
    busy = session.exec(select(ExternalOperation.id).where(
        ExternalOperation.line_id == line.id,
        col(ExternalOperation.status).in_([ExternalOperationStatus.PENDING, ExternalOperationStatus.IN_FLIGHT]))).first()
    if busy is not None:
        raise Conflict(f"この回線には結果待ちの外部連携処理 #{busy} があります。結果が出てから操作してください。")
    payload = {k: v for k, v in json.loads(op.payload_json or "{}").items() if k != "msisdn"}
    return provisioning.enqueue_line_operation(session, line, event, payload)


@mutating_service
def retry_operation(operation_id: int, *, actor: Actor, reason: str) -> ExternalOperation:
    """Send an external operation again (再試行). Support and admin (external.retry), and accounting for
    payment / bank operations; a reason is required.

    UNKNOWN: the same operation goes back to 保留 (pending) due now, with the SAME idempotency key,
    so a call that did reach the provider is not applied twice; its open review item stays open
    until the outcome is known (services.workflow.reconciliation confirms the line and closes it on success).
    FAILED (the provider said no): a new carrier call with a new key, only while the line still
    waits for the change or is 要確認; its review items stay for a person to resolve.
    Writes one audit entry "external.retry" on the operation that will run.
    """
    with read_session() as session:
        provider = session.exec(select(ExternalOperation.provider).where(ExternalOperation.id == operation_id)).first()
    require_external(actor, "external.retry", provider or "")
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    reason = reason.strip()
    with write_session() as session:
        op = session.exec(select(ExternalOperation).where(ExternalOperation.id == operation_id)
                          .with_for_update()).first()
        if op is None:
            raise NotFound("外部連携処理が見つかりません。")
        before = snapshot(op)
        if op.status == ExternalOperationStatus.UNKNOWN:
            op.status = EXTERNAL_OPERATION.next_state(op.status, ExternalOperationEvent.RETRY).value
            op.next_attempt_at = op.updated_at = utcnow()
            session.add(op)
            queued = op
        elif op.status == ExternalOperationStatus.FAILED:
            queued, before = _requeue_failed(session, op), None
        elif op.status in (ExternalOperationStatus.PENDING, ExternalOperationStatus.IN_FLIGHT):
            raise Conflict("この外部連携処理は既に送信待ち・処理中です。結果を待ってください。")
        else:
            raise Conflict("この外部連携処理は成功しています。再試行は不要です。")
        session.flush()
        record(session, actor, "external.retry", queued, before=before, after={**snapshot(queued), "retry_of": op.id},
               reason=reason)
    return queued


def resync_from_provider(operation_id: int, *, actor: Actor) -> str:
    """Ask the provider about one operation and act on its answer (再同期), in words for the screen.

    Delegates to services.workflow.reconciliation.resync_operation (support and admin; it settles, resends
    with the same key or postpones, compares a line with the carrier's and audits the request).
    """
    result = reconciliation.resync_operation(operation_id, actor=actor)
    with read_session() as session:
        op = session.get(ExternalOperation, operation_id)
        provider = label("provider", op.provider)
    message = RESYNC_LOOKUPS_JA.get(result["lookup"], result["lookup"]).format(provider=provider)
    message += f"外部連携処理 #{operation_id} は「{state_label('external_operation', result['status'])}」です。"
    if result.get("mismatch"):
        message += "キャリアと台帳で回線の状態が異なるため、要確認に登録しました。"
    return message


@mutating_service
def resolve_review_item(item_id: int, *, actor: Actor, reason: str, line_state: str | None = None
                        ) -> ReviewItem | ApprovalRequest:
    """Resolve a review item (解消) with a reason. Support and admin (review.resolve), and accounting for
    payment / bank items.

    Without `line_state`: the item is marked resolved; one audit entry "review.resolve".
    With `line_state` ("active" | "suspended" | "terminated") for a line in 要確認 or 保留: nothing
    changes yet; an approval request "line.resolve" is created (audit "approval.request") and,
    once a different person approves it, the line is confirmed in that state and the item resolved.
    """
    with read_session() as session:
        kind = session.exec(select(ReviewItem.kind).where(ReviewItem.id == item_id)).first()
    require_external(actor, "review.resolve", (kind or "").partition(".")[0])
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    reason = reason.strip()
    if line_state:
        if line_state not in LINE_STATE_CHOICES:
            raise ValidationFailed({"line_state": "確定する回線の状態を選んでください。"})
        with read_session() as session:
            item = session.get(ReviewItem, item_id)
            if item is None:
                raise NotFound("要確認の項目が見つかりません。")
            if item.status != "open":
                raise Conflict("この要確認の項目は既に解消されています。")
            line = session.get(Line, item.line_id) if item.line_id else None
            if line is None:
                raise ValidationFailed({"line_state": "この項目には回線がないため、状態を確定できません。"})
            if line.status not in CONFIRMABLE_LINE_STATES:
                raise Conflict(f"回線が「{state_label('line', line.status)}」のため状態を確定できません"
                               "（確定できるのは「要確認」か「保留」の回線です）。")
        return approvals.request_approval(
            "line.resolve", {"line_id": line.id, "review_item_id": item.id, "line_state": line_state},
            actor=actor, reason=reason)
    with write_session() as session:
        item = review.locked_open_item(session, item_id)
        before = snapshot(item)
        review.close_item(item, actor, reason)
        session.add(item)
        record(session, actor, "review.resolve", item, before=before, reason=reason)
    return item
