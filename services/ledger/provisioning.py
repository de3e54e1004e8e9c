"""Line provisioning at the carrier through the outbox (services.workflow.outbox).

A line event that needs the carrier adds its carrier call to the outbox in the same transaction
as the line's change; the outcome comes back through services.workflow.outbox.settle, which calls
`apply_outcome` here: SUCCEEDED moves the line to its target state, FAILED (the carrier said no)
moves it back, UNKNOWN (it may have happened) puts it in 要確認; nothing is silently fixed.
The speed limit (速度制限, throttle_on / throttle_off) does not change the line's state: the line
shows it once the carrier confirmed it, and a failed or unknown call waits in the review queue.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from services.ledger.inventory import follow_sim
from services.models import ExternalOperation, Line, SimCard
from services.models.base import utcnow
from services.platform.audit import record, snapshot
from services.platform.lifecycles import LINE, LineEvent
from services.platform.permissions import SYSTEM
from services.workflow import outbox

CARRIER = "carrier"
# Line events the carrier must carry out, and the carrier's name for them.
CARRIER_OPERATIONS: dict[LineEvent, str] = {
    LineEvent.ACTIVATE: "activate",
    LineEvent.SUSPEND: "suspend",
    LineEvent.RESUME: "resume",
    LineEvent.TERMINATE: "terminate",
}


def enqueue_line_operation(session: Session, line: Line, event: LineEvent, payload: dict[str, Any] | None = None
                           ) -> ExternalOperation:
    """Add the carrier call for a line event to the outbox, in the caller's transaction."""
    return outbox.enqueue(session, provider=CARRIER, operation=CARRIER_OPERATIONS[event], subject=f"line{line.id}",
                          payload={"msisdn": line.msisdn.lstrip("+"), **(payload or {})},
                          customer_id=line.customer_id, contract_id=line.contract_id, line_id=line.id)


# The speed limit's operations and whether each leaves the line throttled.
THROTTLE_OPERATIONS: dict[str, bool] = {"throttle_on": True, "throttle_off": False}


def enqueue_throttle(session: Session, line: Line, enabled: bool) -> ExternalOperation:
    """Add the carrier call that turns the line's speed limit on or off, in the caller's transaction."""
    operation = next(name for name, on in THROTTLE_OPERATIONS.items() if on == enabled)
    return outbox.enqueue(session, provider=CARRIER, operation=operation, subject=f"line{line.id}",
                          payload={"msisdn": line.msisdn.lstrip("+"), "enabled": enabled},
                          customer_id=line.customer_id, contract_id=line.contract_id, line_id=line.id)


def apply_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str, evidence: dict[str, Any]
                  ) -> None:
    """Apply a settled carrier operation to its line (called by services.workflow.outbox.settle, same transaction)."""
    line = session.get(Line, op.line_id) if op.line_id else None
    if line is None:
        return
    if op.operation in THROTTLE_OPERATIONS:
        if outcome == "succeeded" and line.throttled != THROTTLE_OPERATIONS[op.operation]:
            before = snapshot(line)
            line.throttled, line.updated_at = THROTTLE_OPERATIONS[op.operation], utcnow()
            session.add(line)
            record(session, SYSTEM, f"line.{op.operation}", line, before=before,
                   reason=f"キャリア {op.operation}（外部連携処理 #{op.id}）: {detail}"[:500])
        return
    _apply_to_line(session, op, line, outcome, detail)


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
