"""Reconciliation with the providers: settle uncertain operations by asking them, and keep the review queue tidy.

An operation whose outcome is UNKNOWN (retries exhausted) or that stayed in flight too long (its
worker died mid-call) is looked up at its provider by its idempotency key on a back-off schedule:
applied -> succeeded; not applied -> pending again, resent with the same key; no answer -> later.
A ledger record whose state hangs on operations (a line) registers SubjectHooks for its column
(services.registry): they lock it before settling, act on a success, say whether it still waits for a
call, and compare it with the provider after a resync; a difference opens a review item (要確認) with
both states as evidence and is never fixed silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, select

from services.integrations.http import ProviderClient
from services.models import ExternalOperation, ReviewItem
from services.models.base import utcnow
from services.models.workflow import ExternalOperationEvent, ExternalOperationStatus
from services.platform.audit import record
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import NotFound
from services.platform.labels import label
from services.platform.permissions import SYSTEM, Actor, require_external
from services.workflow import outbox
from services.workflow.outbox import EXTERNAL_OPERATION, client_for

log = logging.getLogger(__name__)

FINAL = (ExternalOperationStatus.SUCCEEDED.value, ExternalOperationStatus.FAILED.value)
RECONCILE_MAX_DELAY = timedelta(hours=1)


@dataclass(frozen=True)
class SubjectHooks:
    """What the reconciler does with the ledger record an operation changes (one per subject column)."""

    lock: Callable[[Session, int | None], Any]                        # lock it before settling (chain head last)
    after_success: Callable[[Session, ExternalOperation, Any, str], None]
    waits_for: Callable[[Session, ExternalOperation, Any], bool]       # its state still hangs on this call
    resolved: Callable[[Any], bool]                                   # it no longer waits for a person
    compare: Callable[[ExternalOperation, ProviderClient], dict[str, Any] | None]  # after a resync
    kept_kinds: frozenset[str] = frozenset()                          # its review items tidying leaves open


SUBJECT_HOOKS: dict[str, SubjectHooks] = {}


def register_subject(column: str, hooks: SubjectHooks) -> None:
    """Declare the hooks of the records in `column` of an operation (e.g. "line_id")."""
    SUBJECT_HOOKS[column] = hooks


def _subject(session: Session, op: ExternalOperation) -> tuple[SubjectHooks | None, Any]:
    """The hooks and the locked record of the first registered subject the operation has."""
    for column, hooks in SUBJECT_HOOKS.items():
        record_id = getattr(op, column, None)
        if record_id is not None:
            return hooks, hooks.lock(session, record_id)
    return None, None


def settle_operation(operation_id: int, outcome: str, *, detail: str, evidence: dict[str, Any] | None = None
                     ) -> ExternalOperation:
    """Record an operation's outcome (services.workflow.outbox.settle) and keep the review queue consistent (idempotent).

    Called by the outbox task, the webhook processor and the reconciler (system). Beyond settle: the
    record the operation changes is locked first and its hooks act on a success (a line left in 要確認
    is confirmed, a line in another state opens a mismatch), and an operation keeps at most one open
    review item (older ones are resolved with a note pointing to the newer).
    """
    with write_session() as session:
        op = _operation(session, operation_id)
        hooks, subject = _subject(session, op)  # before settle: the audit chain head is locked last
        outbox.settle(operation_id, outcome, detail=detail, evidence=evidence)
        op = session.get(ExternalOperation, operation_id)
        if op.status == ExternalOperationStatus.SUCCEEDED and subject is not None:
            hooks.after_success(session, op, subject, detail)
        _tidy_review_items(session, op, hooks, subject)
    return op


def _operation(session: Session, operation_id: int) -> ExternalOperation:
    op = session.exec(select(ExternalOperation).where(ExternalOperation.id == operation_id)).first()
    if op is None:
        raise NotFound("外部連携処理が見つかりません。")
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

    Support and admin (line.review), and accounting for payment / bank operations. `client` replaces the
    provider's configured client. applied -> settled succeeded and the record it changes compared with the
    provider's (SubjectHooks.compare); not applied -> pending again (resent with the same key) while the line still waits
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
        status, key, provider = op.status, op.idempotency_key, op.provider
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
    mismatch = None
    with read_session() as session:
        op = session.get(ExternalOperation, operation_id)
        hooks = next((h for column, h in SUBJECT_HOOKS.items() if getattr(op, column, None) is not None), None)
    if op.status in FINAL and hooks is not None:
        mismatch = hooks.compare(op, client)
    with write_session() as session:
        op = session.get(ExternalOperation, operation_id)
        result = {"operation_id": operation_id, "lookup": lookup, "status": op.status, "mismatch": mismatch}
        if actor.kind != "system":
            record(session, actor, "external_operation.resync", op,
                   reason=f"{_label(provider)}照会: {lookup} / 状態: {op.status}" + (" / 不一致あり" if mismatch else ""))
    return result


def _resend_or_close(operation_id: int, seen_status: str, evidence: dict[str, Any], provider_label: str) -> None:
    """The provider never got it: resend with the same key while the record still waits for this operation;
    once a person has decided the record's state, close the operation as not carried out instead."""
    with write_session() as session:
        hooks, subject = _subject(session, _operation(session, operation_id))
        op = _lock_operation(session, operation_id)
        if op.status != seen_status or op.status not in (ExternalOperationStatus.UNKNOWN,
                                                          ExternalOperationStatus.IN_FLIGHT):
            return  # settled or moved meanwhile (a webhook, the worker): its answer stands
        waits = hooks.waits_for(session, op, subject) if subject is not None else (
            op.status == ExternalOperationStatus.IN_FLIGHT or open_doubt(session, op) is not None)
        if not waits:
            settle_operation(operation_id, "failed", evidence=evidence,
                             detail=f"{provider_label}に未反映でした。回線の状態は確定済みのため再送しません。")
            return
        op.status = EXTERNAL_OPERATION.next_state(op.status, ExternalOperationEvent.RETRY).value
        op.next_attempt_at = utcnow()
        op.updated_at = utcnow()
        op.last_error = f"{provider_label}照会: 未反映のため同じ冪等キーで再送します。"
        session.add(op)


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


def _tidy_review_items(session: Session, op: ExternalOperation, hooks: SubjectHooks | None, subject: Any) -> None:
    """One open review item per operation: the newest; all of them once it succeeded and its record is settled."""
    kept = hooks.kept_kinds if hooks else frozenset()
    items = [item for item in session.exec(select(ReviewItem).where(
        ReviewItem.external_operation_id == op.id, ReviewItem.status == "open").order_by(ReviewItem.id)).all()
        if item.kind not in kept]
    if not items:
        return
    settled = op.status == ExternalOperationStatus.SUCCEEDED and (subject is None or hooks.resolved(subject))
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
    return label("provider", provider)


def open_doubt(session: Session, op: ExternalOperation) -> int | None:
    """The open review item saying this operation's outcome is unknown, if any."""
    return session.exec(select(ReviewItem.id).where(
        ReviewItem.external_operation_id == op.id, ReviewItem.status == "open",
        ReviewItem.kind == f"{op.provider}.{op.operation}.unknown")).first()


def _lock_operation(session: Session, operation_id: int) -> ExternalOperation:
    op = session.exec(select(ExternalOperation).where(ExternalOperation.id == operation_id)
                      .with_for_update()).first()
    if op is None:
        raise NotFound("外部連携処理が見つかりません。")
    return op
