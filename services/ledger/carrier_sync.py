"""A line and its carrier calls, for the reconciler (services.workflow.reconciliation).

The reconciler settles any provider's operations; an operation that changes a line's state needs more,
and these hooks say what: the line is locked before settling (the audit chain head is locked last), a
line left in 要確認 by the operation's UNKNOWN outcome is confirmed in its target state once the carrier
did it (audited as system), a success that leaves the line in another state than the operation's target
opens a mismatch review item, a resend happens only while the line still waits for the call, and after a
resync the carrier's view of the line is compared with the ledger. Registered for the subject "line_id"
(services.registry).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.integrations.carrier import CarrierClient, CarrierUnreachable
from services.integrations.http import ProviderClient
from services.ledger.lines import LINE, move_line
from services.ledger.provisioning import CARRIER, THROTTLE_OPERATIONS
from services.models import ExternalOperation, Line, ReviewItem, SimCard
from services.models.base import utcnow
from services.models.line import LineEvent, LineStatus
from services.platform.db import write_session
from services.platform.permissions import SYSTEM
from services.workflow.reconciliation import FINAL, SubjectHooks, open_doubt

log = logging.getLogger(__name__)

MISMATCH_KIND = "carrier.line_mismatch"
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


def lock_line(session: Session, line_id: int | None) -> Line | None:
    """Lock the line an operation changes (before the operation is settled)."""
    if line_id is None:
        return None
    return session.exec(select(Line).where(Line.id == line_id).with_for_update()).first()


def after_success(session: Session, op: ExternalOperation, line: Line, detail: str) -> None:
    """A succeeded call: confirm the line it left in 要確認, or open a mismatch if the line is elsewhere."""
    if not _is_latest(session, op):
        return
    _confirm_line_in_review(session, op, line, detail)
    target = TARGET_STATES.get(op.operation)
    if target is not None and line.status in COMPARABLE_STATES and line.status != target:
        _open_mismatch(session, op, line, carrier_state=target.value,
                       reason=f"キャリアは{op.operation}を完了しましたが、台帳の回線状態が異なります。")


def line_waits_for(session: Session, op: ExternalOperation, line: Line) -> bool:
    """True while the line's state still hangs on this operation (処理中, or 要確認 because of it)."""
    if not _is_latest(session, op):
        return False
    if op.operation in THROTTLE_OPERATIONS:  # the speed limit is not in the line's state
        return line.throttled != THROTTLE_OPERATIONS[op.operation]
    if line.status == IN_PROGRESS_STATES.get(op.operation) or (
            op.operation == "terminate" and line.status == LineStatus.TERMINATED):
        return True
    return line.status == LineStatus.NEEDS_REVIEW and open_doubt(session, op) is not None


def compare_after_resync(op: ExternalOperation, client: ProviderClient) -> dict[str, Any] | None:
    """After a resync of a line's state call at the carrier, compare the carrier's line with the ledger's."""
    if op.provider != CARRIER or op.operation in THROTTLE_OPERATIONS or not isinstance(client, CarrierClient):
        return None  # the speed limit is compared by the daily report
    return _compare_with_carrier(op.id, client, json.loads(op.payload_json).get("msisdn"))


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
        line = lock_line(session, op.line_id)
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
    if open_doubt(session, op) is None:
        return  # a person took it over (or another cause put the line in review): theirs to decide

    def stamp_activation(moved: Line, _sim: SimCard | None) -> None:
        if target == LineStatus.ACTIVE and moved.activated_at is None:
            moved.activated_at = utcnow()

    move_line(session, line, event, actor=SYSTEM, then=stamp_activation,
              reason=f"キャリアで{op.operation}の反映を確認（外部連携処理 #{op.id}）: {detail}"[:500])


def _is_latest(session: Session, op: ExternalOperation) -> bool:
    """Whether `op` is its line's newest call of its kind (the line's state, or its speed limit)."""
    family = list(THROTTLE_OPERATIONS) if op.operation in THROTTLE_OPERATIONS \
        else list(TARGET_STATES)
    latest = session.exec(select(func.max(ExternalOperation.id)).where(
        ExternalOperation.line_id == op.line_id, col(ExternalOperation.operation).in_(family))).one()
    return latest == op.id


LINE_HOOKS = SubjectHooks(lock=lock_line, after_success=after_success, waits_for=line_waits_for,
                          resolved=lambda line: line.status != LineStatus.NEEDS_REVIEW,
                          compare=compare_after_resync, kept_kinds=frozenset({MISMATCH_KIND}))
