"""Line provisioning at the carrier: the carrier calls a line needs, added to the outbox (services.workflow.outbox).

A line event that needs the carrier adds its carrier call to the outbox in the same transaction
as the line's change; the outcome comes back to `services.ledger.lines.apply_carrier_outcome`.
The speed limit (速度制限, throttle_on / throttle_off) does not change the line's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from services.models import ExternalOperation, Line
from services.models.line import LineEvent
from services.workflow import outbox

CARRIER = "carrier"
# Line events the carrier must carry out, and the carrier's name for them.
CARRIER_OPERATIONS: dict[LineEvent, str] = {
    LineEvent.ACTIVATE: "activate",
    LineEvent.SUSPEND: "suspend",
    LineEvent.RESUME: "resume",
    LineEvent.TERMINATE: "terminate",
}


# Carrier operations about a line that are not line events (an MNP 転出 予約番号): operation -> what its settled
# outcome does, registered by the domain that sends it (services.registry); the line's own handler defers to it.
CARRIER_OUTCOMES: dict[str, Callable[[Session, ExternalOperation, str, str, dict[str, Any]], None]] = {}


def register_carrier_outcome(operation: str,
                             apply_outcome: Callable[[Session, ExternalOperation, str, str, dict[str, Any]], None]
                             ) -> None:
    """Let a domain settle its own carrier operation about a line (services.registry, once per operation)."""
    CARRIER_OUTCOMES[operation] = apply_outcome


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


PLAN_CHANGE_OPERATION = "change_plan"


def enqueue_plan_change(session: Session, line: Line, plan_code: str) -> ExternalOperation:
    """Add the carrier call that moves the line to another plan, in the caller's transaction."""
    return outbox.enqueue(session, provider=CARRIER, operation=PLAN_CHANGE_OPERATION, subject=f"line{line.id}",
                          payload={"msisdn": line.msisdn.lstrip("+"), "plan": plan_code},
                          customer_id=line.customer_id, contract_id=line.contract_id, line_id=line.id)
