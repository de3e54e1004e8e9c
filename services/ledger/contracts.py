"""Contracts: creation on a plan, options, and lifecycle events."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import object_session
from sqlmodel import Session, select

from services.ledger import lines
from services.models import Contract, ContractOption, ContractPlanPeriod, Customer, Line, RateOption, RatePlan
from services.models.base import utcnow
from services.models.contract import ContractEvent, ContractStatus
from services.models.line import LineEvent
from services.platform.audit import mutating_service, record, snapshot
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.errors import NotFound, ValidationFailed
from services.platform.identifiers import contract_code, format_msisdn
from services.platform.labels import state_label
from services.platform.lifecycle import Lifecycle, transition
from services.platform.permissions import Actor, require
from services.workflow import approvals
from services.workflow.approval_gate import approved, require_approval
from services.workflow.approvals import Policy, Preview

C, CE = ContractStatus, ContractEvent
CONTRACT = Lifecycle("contract", C, CE, {
    (C.DRAFT, CE.APPLY): C.APPLIED,
    (C.DRAFT, CE.DISCARD): C.TERMINATED,
    (C.APPLIED, CE.ACTIVATE): C.ACTIVE,
    (C.APPLIED, CE.DISCARD): C.TERMINATED,
    (C.ACTIVE, CE.REQUEST_CANCELLATION): C.CANCELLATION_REQUESTED,
    (C.CANCELLATION_REQUESTED, CE.WITHDRAW_CANCELLATION): C.ACTIVE,
    (C.CANCELLATION_REQUESTED, CE.TERMINATE): C.TERMINATED,
})


def _date_the_contract(contract: Contract) -> None:
    """A contract starts the day (Tokyo) it becomes active and ends the day it is terminated; its plan and
    options are billed from the first day to the last (the plan span opens and every open span closes)."""
    session = object_session(contract)
    today = today_in_tokyo()
    if contract.status == ContractStatus.ACTIVE and contract.start_date is None:
        contract.start_date = today
        if session.exec(select(ContractPlanPeriod).where(ContractPlanPeriod.contract_id == contract.id)).first() is None:
            session.add(ContractPlanPeriod(contract_id=contract.id, rate_plan_id=contract.rate_plan_id, valid_from=today,
                                           carrier_told_at=utcnow()))
        for option in session.exec(select(ContractOption).where(ContractOption.contract_id == contract.id)):
            option.valid_from = max(option.valid_from, today)
            session.add(option)
    if contract.status == ContractStatus.TERMINATED:
        contract.end_date = today
        close_spans(session, contract.id, today)


def close_spans(session: Session, contract_id: int, last_day: date) -> None:
    """End the contract's plan and option spans on `last_day` (spans that had not begun are dropped)."""
    for span in session.exec(select(ContractPlanPeriod).where(ContractPlanPeriod.contract_id == contract_id)):
        if span.valid_from > last_day:
            session.delete(span)
        elif span.valid_to is None or span.valid_to > last_day:
            span.valid_to = last_day
            session.add(span)
    for option in session.exec(select(ContractOption).where(ContractOption.contract_id == contract_id)):
        if option.valid_from > last_day:
            session.delete(option)
        elif option.valid_to is None or option.valid_to > last_day:
            option.valid_to = last_day
            session.add(option)


@mutating_service
def create_contract(
    *, actor: Actor, customer_id: int, rate_plan_id: int, option_ids: list[int] | None = None,
    reason: str | None = None,
) -> Contract:
    """Create a draft contract for a customer on an active plan (sales, admin)."""
    require(actor, "contract.create")
    with write_session() as session:
        errors: dict[str, str] = {}
        if session.get(Customer, customer_id) is None:
            errors["customer_id"] = "指定の顧客が見つかりません。"
        plan = session.get(RatePlan, rate_plan_id)
        if plan is None or not plan.is_active:
            errors["rate_plan_id"] = "指定の料金プランが見つからないか、販売終了です。"
        options = []
        for option_id in dict.fromkeys(option_ids or []):
            option = session.get(RateOption, option_id)
            if option is None or not option.is_active:
                errors["option_ids"] = "指定のオプションが見つからないか、販売終了です。"
            options.append(option_id)
        if errors:
            raise ValidationFailed(errors)
        contract = Contract(customer_id=customer_id, rate_plan_id=rate_plan_id)
        session.add(contract)
        session.flush()
        for option_id in options:
            session.add(ContractOption(contract_id=contract.id, rate_option_id=option_id, valid_from=today_in_tokyo()))
        record(session, actor, "contract.create", contract,
               after={**snapshot(contract), "option_ids": options}, reason=reason)
    return contract


@mutating_service
def change_contract_status(
    contract_id: int, *, actor: Actor, event: ContractEvent | str, reason: str,
) -> Contract:
    """Apply a lifecycle event to a contract (sales, admin); the transition table decides."""
    with write_session() as session:
        contract = session.exec(select(Contract).where(Contract.id == contract_id).with_for_update()).first()
        if contract is None:
            raise NotFound("契約が見つかりません。")
        require(actor, "contract.transition", contract)
        if not (reason or "").strip():
            raise ValidationFailed({"reason": "理由を入力してください。"})
        ev = ContractEvent(event)
        if ev is ContractEvent.TERMINATE:
            require_approval("contract.terminate")
        transition(session, contract, CONTRACT, ev, actor=actor, reason=reason, follow=_date_the_contract)
    return contract


def _describe_contract_termination(session: Session, params: dict) -> Preview:
    contract = approvals.get_record(session, Contract, params.get("contract_id"), "契約")
    after = CONTRACT.next_state(contract.status, ContractEvent.TERMINATE)
    customer = session.get(Customer, contract.customer_id)
    open_lines = session.exec(select(Line).where(Line.contract_id == contract.id, Line.status != "terminated")).all()
    code = contract_code(contract.id)
    changes = [("契約の状態", state_label("contract", contract.status), state_label("contract", after))]
    changes += [(f"回線 {format_msisdn(ln.msisdn)}", state_label("line", ln.status), "解約済") for ln in open_lines]
    return Preview(
        summary=f"契約 {code}（{customer.name}）を解約します。回線 {len(open_lines)} 件も解約されます。この操作は取り消せません。",
        changes=changes, target_key=f"contract:{contract.id}", customer_id=contract.customer_id,
        contract_id=contract.id, confirm_word=code,
    )


def _execute_contract_termination(params: dict, actor: Actor, reason: str) -> None:
    contract_id = int(params["contract_id"])
    with read_session() as session:
        line_ids = session.exec(select(Line.id).where(Line.contract_id == contract_id,
                                                      Line.status != "terminated")).all()
    with approved("line.terminate"):  # the approved contract termination listed each of its lines
        for line_id in line_ids:
            lines.change_line_status(line_id, actor=actor, event=LineEvent.TERMINATE, reason=reason)
    change_contract_status(contract_id, actor=actor, event=ContractEvent.TERMINATE, reason=reason)




POLICIES = (
    Policy("contract.terminate", "契約の解約", "contract.transition", approvals.ADMIN_CHECKERS,
           _describe_contract_termination, _execute_contract_termination, irreversible=True,
           required_params=("contract_id",)),
)


def preview_contract_event(contract_id: int, event: ContractEvent | str, *, actor: Actor) -> dict | None:
    """What asking for a contract event would do: the termination's preview, else None (it runs at once)."""
    return approvals.preview_if_gated(f"contract.{ContractEvent(event).value}", {"contract_id": contract_id},
                                      actor=actor)


def request_contract_event(contract_id: int, event: ContractEvent | str, *, actor: Actor, reason: str,
                           confirm_word: str | None = None, confirm_repeat: bool = False) -> approvals.Submitted:
    """The one call for a contract's lifecycle event, whoever asks: termination waits for a second person
    (with the contract number typed); the other events run at once."""
    return approvals.submit(f"contract.{ContractEvent(event).value}", {"contract_id": contract_id}, actor=actor,
                            reason=reason, confirm_word=confirm_word, confirm_repeat=confirm_repeat,
                            run_now=lambda: change_contract_status(contract_id, actor=actor, event=event,
                                                                   reason=reason))
