"""Lines: opening a line on a contract with a SIM (and device), its lifecycle events, and the carrier's answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session, select

from services.integrations import carrier
from services.ledger.customer_contracts import customer_line
from services.ledger.inventory import DEVICE, SIM, follow_sim
from services.ledger.provisioning import (
    CARRIER,
    CARRIER_OPERATIONS,
    CARRIER_OUTCOMES,
    PLAN_CHANGE_OPERATION,
    THROTTLE_OPERATIONS,
    enqueue_line_operation,
)
from services.models import (
    ApprovalRequest,
    Contract,
    Customer,
    Device,
    ExternalOperation,
    Line,
    RatePlan,
    ReviewItem,
    SimCard,
)
from services.models.base import utcnow
from services.models.contract import ContractStatus
from services.models.inventory import DeviceEvent, DeviceStatus, SimEvent, SimStatus
from services.models.line import LineEvent, LineStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.identifiers import (
    contract_code,
    digits_only,
    format_msisdn,
    is_valid_iccid,
    is_valid_imei,
    parse_msisdn,
)
from services.platform.labels import state_label
from services.platform.lifecycle import Lifecycle, transition
from services.platform.permissions import SYSTEM, Actor, require
from services.workflow import approvals, review
from services.workflow.approval_gate import require_approval
from services.workflow.approvals import Policy, Preview
from services.workflow.outbox import Provider
from services.workflow.webhooks import settle_by_key

L, LE = LineStatus, LineEvent
LINE = Lifecycle("line", L, LE, {
    # the carrier decides: activate / suspend / resume wait in a 処理中 state for its answer
    (L.APPLYING, LE.ACTIVATE): L.ACTIVATING,
    (L.ACTIVE, LE.SUSPEND): L.SUSPENDING,
    (L.SUSPENDED, LE.RESUME): L.RESUMING,
    (L.ACTIVATING, LE.CARRIER_CONFIRMED): L.ACTIVE,
    (L.SUSPENDING, LE.CARRIER_CONFIRMED): L.SUSPENDED,
    (L.RESUMING, LE.CARRIER_CONFIRMED): L.ACTIVE,
    (L.ACTIVATING, LE.CARRIER_REJECTED): L.APPLYING,
    (L.SUSPENDING, LE.CARRIER_REJECTED): L.ACTIVE,
    (L.RESUMING, LE.CARRIER_REJECTED): L.SUSPENDED,
    (L.ACTIVATING, LE.OUTCOME_UNKNOWN): L.NEEDS_REVIEW,
    (L.SUSPENDING, LE.OUTCOME_UNKNOWN): L.NEEDS_REVIEW,
    (L.RESUMING, LE.OUTCOME_UNKNOWN): L.NEEDS_REVIEW,
    (L.APPLYING, LE.TERMINATE): L.TERMINATED,
    (L.ACTIVE, LE.TERMINATE): L.TERMINATED,
    (L.SUSPENDED, LE.TERMINATE): L.TERMINATED,
    (L.APPLYING, LE.HOLD): L.PENDING,
    (L.ACTIVE, LE.HOLD): L.PENDING,
    (L.SUSPENDED, LE.HOLD): L.PENDING,
    (L.APPLYING, LE.FLAG_FOR_REVIEW): L.NEEDS_REVIEW,
    (L.ACTIVE, LE.FLAG_FOR_REVIEW): L.NEEDS_REVIEW,
    (L.SUSPENDED, LE.FLAG_FOR_REVIEW): L.NEEDS_REVIEW,
    (L.PENDING, LE.FLAG_FOR_REVIEW): L.NEEDS_REVIEW,
    (L.PENDING, LE.CONFIRM_ACTIVE): L.ACTIVE,
    (L.PENDING, LE.CONFIRM_SUSPENDED): L.SUSPENDED,
    (L.PENDING, LE.CONFIRM_TERMINATED): L.TERMINATED,
    (L.NEEDS_REVIEW, LE.CONFIRM_ACTIVE): L.ACTIVE,
    (L.NEEDS_REVIEW, LE.CONFIRM_SUSPENDED): L.SUSPENDED,
    (L.NEEDS_REVIEW, LE.CONFIRM_TERMINATED): L.TERMINATED,
})

# Suspension, resumption, termination and settling a 要確認 line by hand need a second person
# (services.workflow.approvals); each gated event names the approval operation that may run it.
APPROVAL_GATED_EVENTS: dict[LineEvent, str] = {
    LineEvent.SUSPEND: "line.suspend",
    LineEvent.RESUME: "line.resume",
    LineEvent.TERMINATE: "line.terminate",
    LineEvent.CONFIRM_ACTIVE: "line.resolve",
    LineEvent.CONFIRM_SUSPENDED: "line.resolve",
    LineEvent.CONFIRM_TERMINATED: "line.resolve",
}

# Which permission each line event needs.
LINE_EVENT_PERMISSIONS: dict[LineEvent, str] = {
    LineEvent.ACTIVATE: "line.activate",
    LineEvent.SUSPEND: "line.suspend",
    LineEvent.RESUME: "line.resume",
    LineEvent.TERMINATE: "line.terminate",
    LineEvent.HOLD: "line.review",
    LineEvent.FLAG_FOR_REVIEW: "line.review",
    LineEvent.CONFIRM_ACTIVE: "line.review",
    LineEvent.CONFIRM_SUSPENDED: "line.review",
    LineEvent.CONFIRM_TERMINATED: "line.review",
}


@mutating_service
def add_line(
    *, actor: Actor, contract_id: int, msisdn: str, iccid: str, imei: str | None = None,
    reason: str | None = None,
) -> Line:
    """Open a line (申請中) on a contract with a stocked SIM and optionally a stocked device.

    Sales and admin. Validates the number (any common format) and the references; the SIM
    (and device) move to 割当済 in the same transaction.
    """
    require(actor, "line.create")
    e164 = parse_msisdn(msisdn)
    iccid_digits = digits_only(iccid)
    imei_digits = digits_only(imei or "")
    with write_session() as session:
        errors: dict[str, str] = {}
        contract = session.get(Contract, contract_id)
        if contract is None:
            errors["contract_id"] = "指定の契約が見つかりません。"
        elif contract.status == ContractStatus.TERMINATED:
            errors["contract_id"] = "解約済の契約には回線を追加できません。"
        if e164 is None:
            errors["msisdn"] = "電話番号が正しくありません（例: 090-1234-5678）。"
        elif session.exec(select(Line.id).where(Line.msisdn == e164)).first() is not None:
            errors["msisdn"] = "この電話番号は既に登録されています。"
        sim = session.exec(select(SimCard).where(SimCard.iccid == iccid_digits)).first()
        if not is_valid_iccid(iccid_digits):
            errors["iccid"] = "ICCIDが正しくありません（89で始まる19〜20桁、チェックディジット不一致）。"
        elif sim is None:
            errors["iccid"] = "このICCIDのSIMは在庫に登録されていません。"
        elif sim.status != SimStatus.IN_STOCK:
            errors["iccid"] = "このSIMは在庫状態ではありません（既に割当済などです）。"
        device = None
        if imei_digits:
            device = session.exec(select(Device).where(Device.imei == imei_digits)).first()
            if not is_valid_imei(imei_digits):
                errors["imei"] = "IMEIが正しくありません（15桁、チェックディジット不一致）。"
            elif device is None:
                errors["imei"] = "このIMEIの端末は在庫に登録されていません。"
            elif device.status != DeviceStatus.IN_STOCK:
                errors["imei"] = "この端末は在庫状態ではありません。"
        if errors:
            raise ValidationFailed(errors)
        sim.status = SIM.next_state(sim.status, SimEvent.ASSIGN).value
        sim.updated_at = utcnow()
        session.add(sim)
        if device is not None:
            device.status = DEVICE.next_state(device.status, DeviceEvent.ASSIGN).value
            device.updated_at = utcnow()
            session.add(device)
        line = Line(msisdn=e164, customer_id=contract.customer_id, contract_id=contract.id,
                    sim_card_id=sim.id, device_id=device.id if device else None)
        session.add(line)
        session.flush()
        record(session, actor, "line.create", line,
               after={**snapshot(line), "iccid": sim.iccid, "imei": device.imei if device else None},
               reason=reason)
    return line


@mutating_service
def change_line_status(line_id: int, *, actor: Actor, event: LineEvent | str, reason: str) -> Line:
    """Apply a lifecycle event to a line (開通, 停止, 再開, 解約, 保留, 要確認...).

    The permission depends on the event (LINE_EVENT_PERMISSIONS). A reason is required.
    Suspend, resume, terminate and settling 要確認 by hand run only as an approved request
    (APPROVAL_GATED_EVENTS; a contract's approved termination covers its lines).
    Repeating an event whose result already holds (a double click) changes nothing.
    """
    ev = LineEvent(event)
    if ev in APPROVAL_GATED_EVENTS:
        require_approval(APPROVAL_GATED_EVENTS[ev])
    with write_session() as session:
        line = session.exec(select(Line).where(Line.id == line_id).with_for_update()).first()
        if line is None:
            raise NotFound("回線が見つかりません。")
        require(actor, LINE_EVENT_PERMISSIONS[ev], line)
        if not (reason or "").strip():
            raise ValidationFailed({"reason": "理由を入力してください。"})
        target = LINE.target_of(ev)
        if target is not None and line.status == target:
            return line

        def call_the_carrier(moved: Line, sim: SimCard | None) -> None:
            if ev in CARRIER_OPERATIONS:
                payload = {"iccid": sim.iccid if sim else None, "plan": _plan_code(session, moved)} \
                    if ev is LineEvent.ACTIVATE else {}
                enqueue_line_operation(session, moved, ev, payload)

        move_line(session, line, ev, actor=actor, reason=reason.strip(), then=call_the_carrier)
    return line


def move_line(session: Session, line: Line, event: LineEvent, *, actor: Actor, reason: str,
              then: Callable[[Line, SimCard | None], None] | None = None) -> None:
    """Move a locked line by `event`; its SIM follows; then `then(line, sim)`; audited "line.<event>".

    The one place a line changes state, in the caller's transaction: a person's event, the carrier's
    answer, and the reconciler's confirmation of a line left in 要確認 all come through here.
    """
    def follow(moved: Line) -> None:
        if moved.status == LineStatus.TERMINATED and moved.terminated_at is None:
            moved.terminated_at = utcnow()  # its number is billed (levies) up to this day
        sim = session.get(SimCard, moved.sim_card_id) if moved.sim_card_id else None
        if sim is not None:
            follow_sim(sim, moved.status)
            session.add(sim)
        if then is not None:
            then(moved, sim)

    transition(session, line, LINE, event, actor=actor, reason=reason, follow=follow)


def _plan_code(session, line: Line) -> str:
    contract = session.get(Contract, line.contract_id)
    plan = session.get(RatePlan, contract.rate_plan_id)
    return plan.code


def apply_carrier_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str,
                          evidence: dict[str, Any]) -> None:
    """Apply a settled carrier operation to its line (the outbox's settle calls it, same transaction).

    SUCCEEDED moves the line to its target state, FAILED (the carrier said no) moves it back, UNKNOWN (it
    may have happened) puts it in 要確認; nothing is silently fixed. The speed limit (速度制限) does not
    change the line's state: the line shows it once the carrier confirmed it.
    """
    line = session.get(Line, op.line_id) if op.line_id else None
    if line is None:
        return
    if op.operation in CARRIER_OUTCOMES:  # not a line event (an MNP 予約番号): its own domain applies it
        CARRIER_OUTCOMES[op.operation](session, op, outcome, detail, evidence)
        return
    if op.operation in THROTTLE_OPERATIONS:
        if outcome == "succeeded" and line.throttled != THROTTLE_OPERATIONS[op.operation]:
            before = snapshot(line)
            line.throttled, line.updated_at = THROTTLE_OPERATIONS[op.operation], utcnow()
            session.add(line)
            record(session, SYSTEM, f"line.{op.operation}", line, before=before,
                   reason=f"キャリア {op.operation}（外部連携処理 #{op.id}）: {detail}"[:500])
        return
    if op.operation == PLAN_CHANGE_OPERATION:  # the line's state does not change; a failure waits in review
        if outcome == "succeeded":
            record(session, SYSTEM, "line.plan_changed", line,
                   reason=f"キャリアでプラン変更完了（外部連携処理 #{op.id}）: {detail}"[:500])
        return
    _apply_to_line(session, op, line, outcome, detail)


_LINE_OUTCOME_EVENTS = {"succeeded": LineEvent.CARRIER_CONFIRMED, "failed": LineEvent.CARRIER_REJECTED,
                        "unknown": LineEvent.OUTCOME_UNKNOWN}


def _apply_to_line(session: Session, op: ExternalOperation, line: Line, outcome: str, detail: str) -> None:
    event = _LINE_OUTCOME_EVENTS[outcome]
    if (line.status, event) not in LINE.table:
        return  # e.g. a termination: the line already shows its final state; the op history keeps the result

    def stamp_activation(moved: Line, _sim: SimCard | None) -> None:
        if op.operation == "activate" and outcome == "succeeded":
            moved.activated_at = utcnow()

    move_line(session, line, event, actor=SYSTEM, then=stamp_activation,
              reason=f"キャリア {op.operation}（外部連携処理 #{op.id}）: {detail}"[:500])


def carrier_event(session: Session, event: dict[str, Any]) -> str:
    """line.operation.completed settles the operation sent under the event's idempotency key."""
    if event.get("type") != "line.operation.completed":
        return f"ignored: {event.get('type')}"
    data = event.get("data") or {}
    outcome = "succeeded" if data.get("result", "succeeded") == "succeeded" else "failed"
    return settle_by_key(session, "carrier", event, data.get("idempotency_key"), outcome,
                         f"キャリア完了通知（{event.get('id')}）")


CARRIER_PROVIDER = Provider(CARRIER, client=carrier.default_client, apply_outcome=apply_carrier_outcome)


def _line_preview(event: LineEvent) -> Callable[[Session, dict], Preview]:
    def describe(session: Session, params: dict) -> Preview:
        line = approvals.get_record(session, Line, params.get("line_id"), "回線")
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
        change_line_status(int(params["line_id"]), actor=actor, event=event, reason=reason)
    return execute




def _describe_line_termination(session: Session, params: dict) -> Preview:
    line = approvals.get_record(session, Line, params.get("line_id"), "回線")
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




# The states a person may confirm for a line in 要確認 / 保留, and the line event that sets each.
RESOLVE_LINE_EVENTS: dict[str, LineEvent] = {
    "active": LineEvent.CONFIRM_ACTIVE, "suspended": LineEvent.CONFIRM_SUSPENDED,
    "terminated": LineEvent.CONFIRM_TERMINATED,
}


# Lines a failed carrier call may be sent again for: still waiting (処理中) or 要確認.
RETRYABLE_LINE_STATES = frozenset({LineStatus.ACTIVATING, LineStatus.SUSPENDING, LineStatus.RESUMING,
                                   LineStatus.NEEDS_REVIEW})
# Lines whose state a person may confirm (with approval) while resolving an item.
CONFIRMABLE_LINE_STATES = frozenset({LineStatus.NEEDS_REVIEW, LineStatus.PENDING})
LINE_STATE_CHOICES = tuple(RESOLVE_LINE_EVENTS)  # "active", "suspended", "terminated"


def _describe_line_resolve(session: Session, params: dict) -> Preview:
    line = approvals.get_record(session, Line, params.get("line_id"), "回線")
    item = approvals.get_record(session, ReviewItem, params.get("review_item_id"), "要確認の項目")
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
    change_line_status(int(params["line_id"]), actor=actor, event=RESOLVE_LINE_EVENTS[params["line_state"]],
                             reason=reason)
    review.resolve_confirmed_review_item(int(params["review_item_id"]), actor=actor, reason=reason)




def open_line_request(session: Session, line_id: int) -> ApprovalRequest | None:
    """The line's live approval request (承認待ち, not past its deadline), whoever asked, if any."""
    return session.exec(select(ApprovalRequest).where(
        ApprovalRequest.line_id == line_id, ApprovalRequest.status == "pending",
        ApprovalRequest.expires_at > utcnow()).order_by(ApprovalRequest.id)).first()


def customer_may_ask(session: Session, params: dict, actor: Actor) -> None:
    """A customer's own request for a line's suspension, resumption or termination (the policies' customer_request).

    The line must be theirs to act on (customer_contracts.customer_line: in their scope — NotFound in the same words
    otherwise — and, for a 利用者, with the right to ask, can_request) and have no live request already (a second one
    is refused: "already requested")."""
    line = customer_line(session, actor, params.get("line_id"), to_change=True)
    pending = open_line_request(session, line.id)
    if pending is not None:
        policy = approvals.POLICIES.get(pending.operation)
        what = policy.label_ja if policy else pending.operation
        raise Conflict(f"この回線には受付中のお申し込みがあります（受付番号 #{pending.id}「{what}」）。"
                       "担当者の確認が終わるまでお待ちください。")


# The line's gated operations: suspension, resumption and termination, and settling 要確認 by hand. A customer may
# ask for the first three from the customer app (customer_may_ask); a person of staff approves each.
POLICIES = (
    Policy("line.suspend", "回線の停止", "line.suspend", approvals.SUPPORT_CHECKERS,
           _line_preview(LineEvent.SUSPEND), _line_execute(LineEvent.SUSPEND), required_params=("line_id",),
           customer_request=customer_may_ask),
    Policy("line.resume", "回線の再開", "line.resume", approvals.SUPPORT_CHECKERS,
           _line_preview(LineEvent.RESUME), _line_execute(LineEvent.RESUME), required_params=("line_id",),
           customer_request=customer_may_ask),
    Policy("line.terminate", "回線の解約", "line.terminate", approvals.SUPPORT_CHECKERS,
           _describe_line_termination, _line_execute(LineEvent.TERMINATE), irreversible=True,
           required_params=("line_id",), customer_request=customer_may_ask),
    Policy("line.resolve", "回線状態の確定（要確認の解消）", "review.resolve", approvals.SUPPORT_CHECKERS,
           _describe_line_resolve, _execute_line_resolve, required_params=("line_id", "review_item_id", "line_state")),
)


def line_operation(event: LineEvent | str) -> str:
    """The operation name of a line event ("line.suspend"), as the policy table knows it."""
    return f"line.{LineEvent(event).value}"


def preview_line_event(line_id: int, event: LineEvent | str, *, actor: Actor) -> dict | None:
    """What asking for a line event would do, for its confirmation: a gated event's preview, else None."""
    return approvals.preview_if_gated(line_operation(event), {"line_id": line_id}, actor=actor)


def request_line_event(line_id: int, event: LineEvent | str, *, actor: Actor, reason: str,
                       confirm_word: str | None = None, confirm_repeat: bool = False,
                       urgent: bool = False) -> approvals.Submitted:
    """The one call for a line's lifecycle event, whoever asks (a staff page, a CSV row, a customer, an API).

    Suspension, resumption and termination become an approval request for a second person (a customer may ask
    for these only, within their scope: customer_may_ask); the other events run at once (change_line_status).
    `urgent` puts the request first in the staff queue (a lost or stolen phone). Returns what became of it.
    """
    return approvals.submit(line_operation(event), {"line_id": line_id}, actor=actor, reason=reason,
                            confirm_word=confirm_word, confirm_repeat=confirm_repeat, urgent=urgent,
                            run_now=lambda: change_line_status(line_id, actor=actor, event=event, reason=reason))
