"""Line provisioning at the carrier through the outbox (外部連携処理).

A line event that needs the carrier writes an ExternalOperation row in the same transaction
as the line's change (the outbox); a Celery task later calls the carrier with the row's stable
idempotency key and reports the outcome here with `settle`. SUCCEEDED moves the line to its
target state, FAILED (the carrier said no) moves it back, UNKNOWN (it may have happened) puts
it in 要確認 with a review item; nothing is silently fixed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlmodel import Session, select

from services.audit import record, snapshot
from services.db import write_session
from services.errors import NotFound
from services.lifecycles import EXTERNAL_OPERATION, LINE, ExternalOperationEvent, ExternalOperationStatus, LineEvent
from services.inventory import follow_sim
from services.models import ExternalOperation, Line, ReviewItem, SimCard
from services.models.base import utcnow
from services.permissions import SYSTEM

CARRIER = "carrier"
# Line events the carrier must carry out, and the carrier's name for them.
CARRIER_OPERATIONS: dict[LineEvent, str] = {
    LineEvent.ACTIVATE: "activate",
    LineEvent.SUSPEND: "suspend",
    LineEvent.RESUME: "resume",
    LineEvent.TERMINATE: "terminate",
}
OUTCOMES = ("succeeded", "failed", "unknown")


def enqueue_line_operation(session: Session, line: Line, event: LineEvent, payload: dict[str, Any] | None = None
                           ) -> ExternalOperation:
    """Add the carrier call for a line event to the outbox, in the caller's transaction.

    The idempotency key is made once here and never changes, however often the call is retried.
    """
    operation = CARRIER_OPERATIONS[event]
    key = f"carrier-{operation}-line{line.id}-{uuid.uuid4().hex}"
    row = ExternalOperation(
        provider=CARRIER, operation=operation, idempotency_key=key, customer_id=line.customer_id,
        contract_id=line.contract_id, line_id=line.id, next_attempt_at=utcnow(),
        payload_json=json.dumps({"msisdn": line.msisdn.lstrip("+"), **(payload or {})}, ensure_ascii=False),
    )
    session.add(row)
    session.flush()
    return row


def settle(operation_id: int, outcome: str, *, detail: str, evidence: dict[str, Any] | None = None
           ) -> ExternalOperation:
    """Record the final outcome of an external operation and apply it to the line (idempotent).

    succeeded -> the line reaches its target state; failed -> it goes back and a review item
    says why; unknown -> the line is 要確認 with a review item holding the evidence.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    with write_session() as session:
        op = session.exec(select(ExternalOperation).where(ExternalOperation.id == operation_id)
                          .with_for_update()).first()
        if op is None:
            raise NotFound("外部連携処理が見つかりません。")
        if op.status in (ExternalOperationStatus.SUCCEEDED, ExternalOperationStatus.FAILED):
            return op
        if op.status == ExternalOperationStatus.PENDING:
            op.status = EXTERNAL_OPERATION.next_state(op.status, ExternalOperationEvent.DISPATCH).value
        if outcome == "unknown" and op.status == ExternalOperationStatus.UNKNOWN:
            return op
        event = {"succeeded": ExternalOperationEvent.SUCCEED, "failed": ExternalOperationEvent.FAIL,
                 "unknown": ExternalOperationEvent.LOSE_TRACK}[outcome]
        op.status = EXTERNAL_OPERATION.next_state(op.status, event).value
        op.last_error = None if outcome == "succeeded" else detail[:1000]
        op.updated_at = utcnow()
        if outcome != "unknown":
            op.completed_at = utcnow()
        session.add(op)
        line = session.get(Line, op.line_id) if op.line_id else None
        if line is not None:
            _apply_to_line(session, op, line, outcome, detail)
        if outcome != "succeeded":
            session.add(ReviewItem(
                kind=f"{op.provider}.{op.operation}.{outcome}", customer_id=op.customer_id, line_id=op.line_id,
                external_operation_id=op.id, reason=detail[:500],
                evidence_json=json.dumps(evidence or {}, ensure_ascii=False, default=str),
            ))
    return op


_LINE_OUTCOME_EVENTS = {"succeeded": LineEvent.CARRIER_CONFIRMED, "failed": LineEvent.CARRIER_REJECTED,
                        "unknown": LineEvent.OUTCOME_UNKNOWN}


def _apply_to_line(session: Session, op: ExternalOperation, line: Line, outcome: str, detail: str) -> None:
    event = _LINE_OUTCOME_EVENTS[outcome]
    if (line.status, event) not in LINE.table:
        return  # e.g. a termination: the line already shows its final state; the op history keeps the result
    before = snapshot(line)
    line.status = LINE.next_state(line.status, event).value
    line.updated_at = utcnow()
    if op.operation == "activate" and outcome == "succeeded":
        line.activated_at = utcnow()
    sim = session.get(SimCard, line.sim_card_id) if line.sim_card_id else None
    if sim is not None:
        follow_sim(sim, line.status)
        session.add(sim)
    session.add(line)
    record(session, SYSTEM, f"line.{event.value}", line, before=before,
           reason=f"キャリア {op.operation}（外部連携処理 #{op.id}）: {detail}"[:500])
