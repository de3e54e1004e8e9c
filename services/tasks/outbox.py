"""Outbox tasks: hand due operations to Celery, call the provider once per attempt, reconcile.

relay_outbox (beat, every few seconds) leases due PENDING rows and queues execute_operation for
each; a lost message only delays the row, whose lease runs out so the relay sends it again. Calls of
bulk providers (mail, LINE) go to a queue of their own and at most BULK_WINDOW of them wait there at
once: two thousand invoice notices wait in the ledger, not in the broker, and a carrier suspension
asked for meanwhile is taken by the next free worker thread, not after them.
execute_operation re-reads the row, calls its provider with the row's stable idempotency key and
records the attempt; an UNKNOWN outcome is retried with exponential back-off and jitter until
outbox_max_attempts, then the operation is left UNKNOWN (the line 要確認) for the reconciler.
"""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, select

from services.integrations.http import CallResult, ProviderClient
from services.models import ExternalAttempt, ExternalOperation
from services.models.base import utcnow
from services.models.workflow import ExternalOperationEvent, ExternalOperationStatus
from services.platform.config import settings
from services.platform.db import write_session
from services.platform.labels import label
from services.tasks.celery_app import BULK_QUEUE, app, prune_delivered_messages
from services.workflow.outbox import EXTERNAL_OPERATION, bulk_providers, client_for
from services.workflow.reconciliation import reconcile_unknown, settle_operation

log = logging.getLogger(__name__)

RELAY_BATCH = 200
BULK_WINDOW = 50  # bulk calls relayed and not yet taken by a worker, at most
KEPT_BODY_CHARS = 2000


def backoff_seconds(attempt: int, *, base: float | None = None, cap: float | None = None,
                    rng: random.Random | None = None) -> float:
    """Wait before retry after `attempt` (1, 2, ...): base * 2^(attempt-1), capped, jittered to [half, full]."""
    base = settings.outbox_backoff_base_seconds if base is None else base
    cap = settings.outbox_backoff_cap_seconds if cap is None else cap
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def dispatch_due(limit: int = RELAY_BATCH, bulk_window: int = BULK_WINDOW) -> tuple[list[int], list[int]]:
    """Lease the due PENDING operations (one transaction); returns their ids as (prompt, bulk).

    Prompt calls (carrier, payment, bank, KYC, logistics) are leased first, up to `limit`. Bulk calls are
    leased only while fewer than `bulk_window` of them are leased and waiting for a worker (a bulk call
    waiting for its retry counts too), so a flood of notices is never relayed twice for want of workers.
    """
    now = utcnow()
    pending = ExternalOperation.status == ExternalOperationStatus.PENDING.value
    is_bulk = ExternalOperation.provider.in_(bulk_providers())
    with write_session() as session:
        prompt = _lease(session, ~is_bulk, limit, now)
        waiting = session.exec(select(func.count()).select_from(ExternalOperation)
                               .where(pending, is_bulk, ExternalOperation.next_attempt_at > now)).one()
        return prompt, _lease(session, is_bulk, min(limit, bulk_window - waiting), now)


def _lease(session: Session, lane: Any, count: int, now: datetime) -> list[int]:
    """Lease up to `count` due PENDING operations of `lane`, oldest first; returns their ids."""
    if count <= 0:
        return []
    rows = session.exec(select(ExternalOperation).where(
        ExternalOperation.status == ExternalOperationStatus.PENDING.value, lane,
        or_(ExternalOperation.next_attempt_at.is_(None), ExternalOperation.next_attempt_at <= now))
        .order_by(ExternalOperation.next_attempt_at, ExternalOperation.id)
        .limit(count).with_for_update(skip_locked=True)).all()
    for row in rows:
        row.next_attempt_at = now + timedelta(seconds=settings.outbox_lease_seconds)
        session.add(row)
    return [row.id for row in rows]


def run_operation(operation_id: int, *, client: ProviderClient | None = None) -> str:
    """One attempt of an operation: dispatch, call, record, settle or schedule a retry (idempotent).

    `client` replaces the provider's configured client (tests). Returns what happened: skipped (not pending), succeeded, failed, retry, unknown.
    """
    now = utcnow()
    with write_session() as session:
        op = session.exec(select(ExternalOperation).where(ExternalOperation.id == operation_id)
                          .with_for_update()).first()
        if op is None or op.status != ExternalOperationStatus.PENDING:
            return "skipped"
        op.status = EXTERNAL_OPERATION.next_state(op.status, ExternalOperationEvent.DISPATCH).value
        op.attempts += 1
        op.updated_at = now
        # past this moment the reconciler treats the call as lost (its worker died)
        op.next_attempt_at = now + timedelta(seconds=settings.outbox_stale_in_flight_seconds)
        session.add(op)
        call = {"provider": op.provider, "operation": op.operation, "idempotency_key": op.idempotency_key,
                "payload": json.loads(op.payload_json)}
        attempt_no = op.attempts
        provider_label = label("provider", op.provider)
    result = (client or client_for(call["provider"])).call(call)
    with write_session() as session:
        session.add(ExternalAttempt(
            external_operation_id=operation_id, attempt_no=attempt_no, started_at=now,
            duration_ms=result.duration_ms, request_json=json.dumps(result.request, ensure_ascii=False),
            response_status=result.status_code, response_body=result.body[:KEPT_BODY_CHARS] or None,
            outcome=result.outcome, error=result.error,
        ))
        evidence = _evidence(result, attempt_no, call["idempotency_key"])
        if result.outcome == "succeeded":
            op = session.get(ExternalOperation, operation_id)
            op.provider_ref = _provider_ref(result) or op.provider_ref
            settle_operation(operation_id, "succeeded", detail=f"{provider_label}受付 (HTTP {result.status_code})",
                             evidence=evidence)
            return "succeeded"
        if result.outcome == "failed":
            settle_operation(operation_id, "failed", detail=f"{provider_label}拒否: {result.message()}",
                             evidence=evidence)
            return "failed"
        op = session.exec(select(ExternalOperation).where(ExternalOperation.id == operation_id)
                          .with_for_update()).first()
        if op.status != ExternalOperationStatus.IN_FLIGHT:
            return op.status  # settled meanwhile (a completion webhook): that answer stands
        if op.attempts < settings.outbox_max_attempts:
            op.status = EXTERNAL_OPERATION.next_state(op.status, ExternalOperationEvent.RETRY).value
            op.next_attempt_at = utcnow() + timedelta(seconds=backoff_seconds(op.attempts))
            op.last_error = f"結果不明（{result.message()}）: 同じ冪等キーで再送します。"[:1000]
            op.updated_at = utcnow()
            session.add(op)
            return "retry"
        settle_operation(operation_id, "unknown",
                         detail=f"{op.attempts}回試行しても結果が不明です（{result.message()}）。", evidence=evidence)
        op.next_attempt_at = utcnow()  # the reconciler asks the carrier at its next round
        session.add(op)
        return "unknown"


def _evidence(result: CallResult, attempt_no: int, key: str) -> dict:
    return {"attempt": attempt_no, "idempotency_key": key, "status_code": result.status_code,
            "body": result.body[:1000], "error": result.error, "duration_ms": result.duration_ms}


def _provider_ref(result: CallResult) -> str | None:
    """The provider's own id of what it did (carrier operation_id, charge / check / shipment id...)."""
    data = result.json()
    ref = data.get("operation_id") or data.get("id")
    return str(ref)[:128] if ref else None


@app.task(name="telecom.relay_outbox", ignore_result=True)
def relay_outbox() -> int:
    """Queue execute_operation for every due PENDING operation (leased first, bulk calls on their own queue);
    returns how many."""
    prompt, bulk = dispatch_due()
    for op_id in prompt:
        execute_operation.delay(op_id)
    for op_id in bulk:
        execute_operation.apply_async((op_id,), queue=BULK_QUEUE)
    if prompt or bulk:
        log.info("relayed %d external operations (%d bulk)", len(prompt) + len(bulk), len(bulk))
    return len(prompt) + len(bulk)


@app.task(name="telecom.execute_operation", ignore_result=True, acks_late=True)
def execute_operation(operation_id: int) -> str:
    """Carry out one attempt of an external operation (a no-op unless it is PENDING)."""
    return run_operation(operation_id)


@app.task(name="telecom.reconcile", ignore_result=True)
def reconcile() -> dict:
    """Settle UNKNOWN and stale in-flight operations by asking their providers; requeue stalled webhooks;
    forget broker messages delivered long ago."""
    from services.tasks.inbound import requeue_stalled_events

    counts = reconcile_unknown()
    counts["webhooks_requeued"] = requeue_stalled_events()
    counts["broker_messages_pruned"] = prune_delivered_messages()
    if any(counts.values()):
        log.info("reconciliation: %s", counts)
    return counts
