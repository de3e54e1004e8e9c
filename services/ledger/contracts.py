"""Contracts: creation on a plan, options, and lifecycle events."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from services.models import Contract, ContractOption, Customer, RateOption, RatePlan
from services.models.base import utcnow
from services.models.contract import ContractEvent, ContractStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import write_session
from services.platform.errors import NotFound, ValidationFailed
from services.platform.lifecycle import Lifecycle
from services.platform.permissions import Actor, require
from services.workflow.approval_gate import require_approval

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


def contract_code(contract_id: int) -> str:
    """The contract number shown to people: C-000123."""
    return f"C-{contract_id:06d}"


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
            session.add(ContractOption(contract_id=contract.id, rate_option_id=option_id))
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
        before = snapshot(contract)
        contract.status = CONTRACT.next_state(contract.status, ev).value
        if contract.status == ContractStatus.ACTIVE and contract.start_date is None:
            contract.start_date = date.today()
        if contract.status == ContractStatus.TERMINATED:
            contract.end_date = date.today()
        contract.updated_at = utcnow()
        session.add(contract)
        record(session, actor, f"contract.{ev.value}", contract, before=before, reason=reason)
    return contract
