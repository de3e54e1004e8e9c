"""Reconciliation with the providers: settle uncertain operations by asking them, and queue every disagreement.

An operation whose outcome is UNKNOWN (retries exhausted) or that stayed in flight too long (its
worker died mid-call) is looked up at its provider by its idempotency key on a back-off schedule:
applied -> succeeded; not applied -> pending again, resent with the same key; no answer -> later.
After a carrier operation settles, the carrier's view of the line is compared with the ledger; a
difference opens a review item (要確認) with both states as evidence and is never fixed silently.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from services.integrations import client_for
from services.integrations.carrier import CarrierClient, CarrierUnreachable
from services.integrations.http import ProviderClient
from services.ledger import provisioning
from services.ledger.inventory import follow_sim
from services.ledger.lines import LINE
from services.models import ExternalOperation, Line, ReviewItem, SimCard
from services.models.base import utcnow
from services.models.line import LineEvent, LineStatus
from services.models.workflow import ExternalOperationEvent, ExternalOperationStatus
from services.platform.audit import record, snapshot
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import NotFound
from services.platform.permissions import SYSTEM, Actor, require_external
from services.workflow import outbox
from services.workflow.outbox import EXTERNAL_OPERATION, PROVIDER_LABELS_JA

log = logging.getLogger(__name__)

FINAL = (ExternalOperationStatus.SUCCEEDED.value, ExternalOperationStatus.FAILED.value)
MISMATCH_KIND = "carrier.line_mismatch"
RECONCILE_MAX_DELAY = timedelta(hours=1)
# What the line is once the carrier carried out the operation (ledger state == carrier state).
TARGET_STATES = {"activate": LineStatus.ACTIVE, "suspend": LineStatus.SUSPENDED, "resume": LineStatus.ACTIVE,
                 "terminate": LineStatus.TERMINATED}
IN_PROGRESS_STATES = {"activate": LineStatus.ACTIVATING, "suspend": LineStatus.SUSPENDING,
                      "resume": LineStatus.RESUMING}
CONFIRM_EVENTS = {LineStatus.ACTIVE: LineEvent.CONFIRM_ACTIVE, LineStatus.SUSPENDED: LineEvent.CONFIRM_SUSPENDED,
                  LineStatus.TERMINATED: LineEvent.CONFIRM_TERMINATED}
# Ledger states the carrier also knows; the others are in progress or already waiting for a person.
COMPARABLE_STATES = {LineStatus.APPLYING: None, LineStatus.ACTIVE: "active", LineStatus.SUSPENDED: "suspended",
                     LineStatus.TERMINATED: "terminated"}


def settle_operation(operation_id: int, outcome: str, *, detail: str, evidence: dict[str, Any] | None = None
                     ) -> ExternalOperation:
    """Record an operation's outcome (services.workflow.outbox.settle) and keep the review queue consistent (idempotent).

    Called by the outbox task, the webhook processor and the reconciler (system). Beyond settle: a
    line left in 要確認 by this operation's UNKNOWN outcome is confirmed in its target state once
    the carrier did it (audited as system), a success that leaves the line in another state than
    the operation's target opens a mismatch review item, and an operation keeps at most one open
    review item (older ones are resolved with a note pointing to the newer).
    """
    with write_session() as session:
        line_id = session.exec(select(ExternalOperation.line_id).where(ExternalOperation.id == operation_id)).first()
        line = _lock_line(session, line_id)  # before settle: the audit chain head is locked last
        outbox.settle(operation_id, outcome, detail=detail, evidence=evidence)
        op = session.get(ExternalOperation, operation_id)
        if op.status == ExternalOperationStatus.SUCCEEDED and line is not None and _is_latest(session, op):
            _confirm_line_in_review(session, op, line, detail)
            target = TARGET_STATES.get(op.operation)
            if target is not None and line.status in COMPARABLE_STATES and line.status != target:
                _open_mismatch(session, op, line, carrier_state=target.value,
                               reason=f"キャリアは{op.operation}を完了しましたが、台帳の回線状態が異なります。")
        _tidy_review_items(session, op, line)
    return op


def reconcile_unknown(limit: int = 100, *, clients: Mapping[str, ProviderClient] | None = None,
                      now: datetime | None = None) -> dict[str, int]:
    """Look up due UNKNOWN operations and stale in-flight ones at their providers and settle them (system job).

    `clients` replaces the configured client of a provider (tests). Returns counts: checked, succeeded, retried, unreachable, mismatches (review items opened).
    """
    now = now or utcnow()
    stale = now - timedelta(seconds=settings.outbox_stale_in_flight_seconds)
    with read_session() as session:
        ids = session.exec(
            select(ExternalOperation.id, ExternalOperation.provider)
            .where(or_(
                (ExternalOperation.status == ExternalOperationStatus.UNKNOWN.value)
                & or_(ExternalOperation.next_attempt_at.is_(None), ExternalOperation.next_attempt_at <= now),
                (ExternalOperation.status == ExternalOperationStatus.IN_FLIGHT.value)
                & (ExternalOperation.updated_at <= stale)
                & or_(ExternalOperation.next_attempt_at.is_(None), ExternalOperation.next_attempt_at <= now),
            ))
            .order_by(ExternalOperation.next_attempt_at, ExternalOperation.id).limit(limit)
        ).all()
    counts = {"checked": 0, "succeeded": 0, "retried": 0, "unreachable": 0, "mismatches": 0}
    for op_id, provider in ids:
        try:
            result = resync_operation(op_id, client=(clients or {}).get(provider), now=now)
        except Exception:  # one bad row must not stop the others; it is retried next round
            log.exception("reconciliation of external operation %s failed", op_id)
            continue
        counts["checked"] += 1
        counts["succeeded"] += result["status"] == ExternalOperationStatus.SUCCEEDED
        counts["retried"] += result["lookup"] == "not_applied" and result["status"] == "pending"
        counts["unreachable"] += result["lookup"] == "unreachable"
        counts["mismatches"] += bool(result.get("mismatch"))
    return counts


def resync_operation(operation_id: int, *, actor: Actor = SYSTEM, client: ProviderClient | None = None,
                     now: datetime | None = None) -> dict[str, Any]:
    """Ask the provider about one operation and act on the answer (再同期; the recovery screen and the reconciler).

    Support and admin (line.review), and accounting for payment / bank operations. `client` replaces the provider's configured client. applied -> settled succeeded and the line compared with the
    carrier's; not applied -> pending again (resent with the same key) while the line still waits
    for it, else closed as failed (a person already settled the line); unreachable -> looked up
    again later; pending or a call under way -> "skipped". Settled operations are only compared.
    A staff request writes an audit entry "external_operation.resync".
    Returns {"operation_id", "lookup", "status", "mismatch"}.
    """
    now = now or utcnow()
    with read_session() as session:
        op = session.get(ExternalOperation, operation_id)
        require_external(actor, "line.review", op.provider if op else "")
        if op is None:
            raise NotFound("外部連携処理が見つかりません。")
        status, key, payload, provider = op.status, op.idempotency_key, json.loads(op.payload_json), op.provider
        state_call = op.operation not in provisioning.THROTTLE_OPERATIONS  # the speed limit: see the daily report
        calling = status == ExternalOperationStatus.IN_FLIGHT and op.updated_at > now - timedelta(
            seconds=settings.outbox_stale_in_flight_seconds)  # a worker is calling right now
    client = client or client_for(provider)
    lookup = "skipped" if status == ExternalOperationStatus.PENDING or calling else client.lookup(key)
    evidence = {"source": "reconciliation", "lookup": lookup, "idempotency_key": key}
    if lookup == "applied" and status not in FINAL:
        settle_operation(operation_id, "succeeded", detail=f"{_label(provider)}照会: 反映済みを確認", evidence=evidence)
    elif lookup == "not_applied" and status not in FINAL:
        _resend_or_close(operation_id, status, evidence, _label(provider))
    elif lookup == "unreachable":
        _postpone(operation_id, now)
    with read_session() as session:
        settled = session.get(ExternalOperation, operation_id).status in FINAL
    compare = settled and state_call and provider == "carrier" and isinstance(client, CarrierClient)
    mismatch = _compare_with_carrier(operation_id, client, payload.get("msisdn")) if compare else None
    with write_session() as session:
        op = session.get(ExternalOperation, operation_id)
        result = {"operation_id": operation_id, "lookup": lookup, "status": op.status, "mismatch": mismatch}
        if actor.kind != "system":
            record(session, actor, "external_operation.resync", op,
                   reason=f"{_label(provider)}照会: {lookup} / 状態: {op.status}" + (" / 不一致あり" if mismatch else ""))
    return result


def _resend_or_close(operation_id: int, seen_status: str, evidence: dict[str, Any], provider_label: str) -> None:
    """The provider never got it: resend with the same key while the record still waits for this operation;
    once a person has decided the line's state, close the operation as not carried out instead."""
    with write_session() as session:
        line_id = session.exec(select(ExternalOperation.line_id).where(ExternalOperation.id == operation_id)).first()
        line = _lock_line(session, line_id)
        op = _lock_operation(session, operation_id)
        if op.status != seen_status or op.status not in (ExternalOperationStatus.UNKNOWN,
                                                          ExternalOperationStatus.IN_FLIGHT):
            return  # settled or moved meanwhile (a webhook, the worker): its answer stands
        if not _line_waits_for(session, op, line):
            settle_operation(operation_id, "failed", evidence=evidence,
                             detail=f"{provider_label}に未反映でした。回線の状態は確定済みのため再送しません。")
            return
        op.status = EXTERNAL_OPERATION.next_state(op.status, ExternalOperationEvent.RETRY).value
        op.next_attempt_at = utcnow()
        op.updated_at = utcnow()
        op.last_error = f"{provider_label}照会: 未反映のため同じ冪等キーで再送します。"
        session.add(op)


def _line_waits_for(session: Session, op: ExternalOperation, line: Line | None) -> bool:
    """True while the line's state still hangs on this operation (処理中, or 要確認 because of it).

    An operation without a line waits while it is in flight or its doubt (要確認) is still open.
    """
    if line is None:
        return op.status == ExternalOperationStatus.IN_FLIGHT or _open_doubt(session, op) is not None
    if not _is_latest(session, op):
        return False
    if op.operation in provisioning.THROTTLE_OPERATIONS:  # the speed limit is not in the line's state
        return line.throttled != provisioning.THROTTLE_OPERATIONS[op.operation]
    if line.status == IN_PROGRESS_STATES.get(op.operation) or (
            op.operation == "terminate" and line.status == LineStatus.TERMINATED):
        return True
    return line.status == LineStatus.NEEDS_REVIEW and _open_doubt(session, op) is not None


def _postpone(operation_id: int, now: datetime) -> None:
    with write_session() as session:
        op = _lock_operation(session, operation_id)
        if op.status in FINAL or op.status == ExternalOperationStatus.PENDING:
            return
        op.next_attempt_at = now + reconcile_delay(now - op.created_at)
        session.add(op)


def reconcile_delay(age: timedelta) -> timedelta:
    """How long to wait before asking the carrier again about an operation of this age (grows with it)."""
    floor = timedelta(seconds=settings.reconcile_interval_seconds)
    return min(RECONCILE_MAX_DELAY, max(floor, age / 2))


def _compare_with_carrier(operation_id: int, carrier: CarrierClient, msisdn: str | None) -> dict[str, Any] | None:
    """Open a review item when the carrier's line state differs from the ledger's; None when they agree."""
    if not msisdn:
        return None
    try:
        carrier_line = carrier.line(msisdn)
    except CarrierUnreachable:
        return None  # no answer is not a disagreement; the next round asks again
    carrier_state = None if carrier_line is None else carrier_line.get("state")
    with write_session() as session:
        op = session.get(ExternalOperation, operation_id)
        line = _lock_line(session, op.line_id)
        if line is None or line.status not in COMPARABLE_STATES or not _is_latest(session, op):
            return None
        if COMPARABLE_STATES[LineStatus(line.status)] == carrier_state:
            return None
        if session.exec(select(ExternalOperation.id).where(
                ExternalOperation.line_id == line.id,
                ExternalOperation.status.not_in(FINAL))).first() is not None:
            return None  # another call for this line is still under way
        evidence = {"ledger_state": line.status, "carrier_state": carrier_state, "carrier_line": carrier_line}
        _open_mismatch(session, op, line, carrier_state=carrier_state,
                       reason="キャリアの回線状態と台帳の回線状態が一致しません。", evidence=evidence)
        return evidence


def _open_mismatch(session: Session, op: ExternalOperation, line: Line, *, carrier_state: str | None,
                   reason: str, evidence: dict[str, Any] | None = None) -> None:
    already = session.exec(select(ReviewItem.id).where(
        ReviewItem.line_id == line.id, ReviewItem.kind == MISMATCH_KIND, ReviewItem.status == "open")).first()
    if already is not None:
        return
    data = {"ledger_state": line.status, "carrier_state": carrier_state, "operation": op.operation,
            "idempotency_key": op.idempotency_key, **(evidence or {})}
    session.add(ReviewItem(kind=MISMATCH_KIND, customer_id=line.customer_id, line_id=line.id,
                           external_operation_id=op.id, reason=reason[:500],
                           evidence_json=json.dumps(data, ensure_ascii=False, default=str)))
    log.warning("line %s: ledger %s, carrier %s (operation #%s)", line.id, line.status, carrier_state, op.id)


def _confirm_line_in_review(session: Session, op: ExternalOperation, line: Line, detail: str) -> None:
    """Move a line from 要確認 to the operation's target state when this operation's doubt put it there."""
    if line.status != LineStatus.NEEDS_REVIEW:
        return
    target = TARGET_STATES.get(op.operation)
    event = CONFIRM_EVENTS.get(target)
    if event is None or (LineStatus.NEEDS_REVIEW, event) not in LINE.table:
        return
    if _open_doubt(session, op) is None:
        return  # a person took it over (or another cause put the line in review): theirs to decide
    before = snapshot(line)
    line.status = LINE.next_state(line.status, event).value
    line.updated_at = utcnow()
    if target == LineStatus.ACTIVE and line.activated_at is None:
        line.activated_at = utcnow()
    sim = session.get(SimCard, line.sim_card_id) if line.sim_card_id else None
    if sim is not None:
        follow_sim(sim, line.status)
        session.add(sim)
    session.add(line)
    record(session, SYSTEM, f"line.{event.value}", line, before=before,
           reason=f"キャリアで{op.operation}の反映を確認（外部連携処理 #{op.id}）: {detail}"[:500])


def _tidy_review_items(session: Session, op: ExternalOperation, line: Line | None) -> None:
    """One open review item per operation: the newest; all of them once it succeeded and the line is settled."""
    items = session.exec(select(ReviewItem).where(
        ReviewItem.external_operation_id == op.id, ReviewItem.status == "open",
        ReviewItem.kind != MISMATCH_KIND).order_by(ReviewItem.id)).all()
    if not items:
        return
    settled = op.status == ExternalOperationStatus.SUCCEEDED and (
        line is None or line.status != LineStatus.NEEDS_REVIEW)
    if settled:
        closing, note = items, f"{_label(op.provider)}で反映済みを確認しました（外部連携処理 #{op.id}、自動）。"
    else:
        closing, note = items[:-1], f"新しい確認項目 #{items[-1].id} に引き継ぎました（自動）。"
    for item in closing:
        item.status = "resolved"
        item.resolved_at = utcnow()
        item.resolution_reason = note
        session.add(item)


def _label(provider: str) -> str:
    return PROVIDER_LABELS_JA.get(provider, provider)


def _open_doubt(session: Session, op: ExternalOperation) -> int | None:
    """The open review item saying this operation's outcome is unknown, if any."""
    return session.exec(select(ReviewItem.id).where(
        ReviewItem.external_operation_id == op.id, ReviewItem.status == "open",
        ReviewItem.kind == f"{op.provider}.{op.operation}.unknown")).first()


def _is_latest(session: Session, op: ExternalOperation) -> bool:
    """Whether `op` is its line's newest call of its kind (the line's state, or its speed limit)."""
    family = list(provisioning.THROTTLE_OPERATIONS) if op.operation in provisioning.THROTTLE_OPERATIONS \
        else list(TARGET_STATES)
    latest = session.exec(select(func.max(ExternalOperation.id)).where(
        ExternalOperation.line_id == op.line_id, col(ExternalOperation.operation).in_(family))).one()
    return latest == op.id


def _lock_operation(session: Session, operation_id: int) -> ExternalOperation:
    op = session.exec(select(ExternalOperation).where(ExternalOperation.id == operation_id)
                      .with_for_update()).first()
    if op is None:
        raise NotFound("外部連携処理が見つかりません。")
    return op


def _lock_line(session: Session, line_id: int | None) -> Line | None:
    if line_id is None:
        return None
    return session.exec(select(Line).where(Line.id == line_id).with_for_update()).first()
