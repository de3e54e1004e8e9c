"""Changing a contract's plan, adding and removing options: from next month (翌月適用, the default) or at once
with 日割り — the same service for the staff screen and the customer app.

The plan timeline (ContractPlanPeriod) says which plan each day is on, so a change never bills a day twice:
a change at once closes today's span the day before and opens a new one today (a second change on the same
day replaces the first); a change for next month closes the current span at the month's end and opens one
on the 1st, replacing any change already waiting. The carrier is told through the outbox: at once for a
change at once, on the 1st (the daily round) for next month. The preview states the effective date and the
price difference before anyone confirms.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from services.billing.rating import month_bounds, prorate
from services.ledger.catalogue import PriceBook, Terms, shown_price
from services.ledger.customer_contracts import customer_contract
from services.ledger.provisioning import enqueue_plan_change
from services.models import Contract, ContractOption, ContractPlanPeriod, Line, RateOption, RatePlan
from services.models.base import utcnow
from services.models.contract import ContractStatus
from services.models.line import LineStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.formatting import yen
from services.platform.permissions import SYSTEM, Actor, can, get_permitted, require

WHEN = {"next_month": "翌月1日から（翌月適用）", "now": "今日から（今月分は日割り）"}
CHANGEABLE = (ContractStatus.ACTIVE.value,)
CARRIER_LINE_STATES = (LineStatus.ACTIVE.value, LineStatus.SUSPENDED.value)



def _with_tax(terms: Terms | None) -> int:
    return terms.amount + terms.amount * terms.tax_rate_percent // 100 if terms else 0


def monthly_difference(old: Terms | None, new: Terms | None) -> str:
    """「月額の差」 as the customer reads it: tax included first, as the monthly fees beside it are shown (総額表示),
    then the tax-excluded difference the bill's lines are priced in."""
    included = _with_tax(new) - _with_tax(old)
    excluded = (new.amount if new else 0) - (old.amount if old else 0)
    sign = "+" if excluded >= 0 else "−"
    return f"月額の差: {sign}{yen(abs(included))}（税込、税抜では {sign}{yen(abs(excluded))}）"

def effective_day(when: str, today: date | None = None) -> date:
    """The first day a change applies: today, or the 1st of next month."""
    today = today or today_in_tokyo()
    if when == "now":
        return today
    if when == "next_month":
        return month_bounds(today.strftime("%Y-%m"))[1] + timedelta(days=1)
    raise ValidationFailed({"when": "適用日（翌月から・今日から）を選んでください。"})


def _may_change(actor: Actor) -> None:
    """Staff by the permission matrix; a customer actor is checked against the contract itself (`_contract`)."""
    if actor is None or actor.kind != "customer":
        require(actor, "contract.change_plan")


def _contract(session: Session, contract_id: int, actor: Actor, *, lock: bool = False) -> Contract:
    if actor.kind == "customer":  # their company's, a 利用者's only with can_request and a line of theirs on it
        contract = customer_contract(session, actor, contract_id, to_change=True)
    else:
        contract = get_permitted(session, Contract, contract_id, "契約が見つかりません。", actor, "contract.view")
    if lock:
        session.exec(select(Contract).where(Contract.id == contract.id).with_for_update()).one()
    if contract.status not in CHANGEABLE:
        raise Conflict("契約中の契約だけプランやオプションを変更できます。")
    return contract


def _spans(session: Session, contract_id: int) -> list[ContractPlanPeriod]:
    return list(session.exec(select(ContractPlanPeriod).where(ContractPlanPeriod.contract_id == contract_id)
                             .order_by(ContractPlanPeriod.valid_from)))


def _plan_on(spans: list[ContractPlanPeriod], day: date) -> ContractPlanPeriod | None:
    return next((s for s in spans if s.valid_from <= day and (s.valid_to is None or s.valid_to >= day)), None)


def _month_cost(book: PriceBook, plan_id: int, start: date, end: date, days_in_month: int) -> int:
    terms = book.plan(plan_id, start)
    return prorate(terms.amount, (end - start).days + 1, days_in_month) if terms else 0


def preview_plan_change(contract_id: int, plan_id: int, when: str, *, actor: Actor) -> dict[str, Any]:
    """What changing the plan would do: from when, the monthly fees before and after (as shown with or without
    tax), the difference per month, and for a change at once this month's 日割り of both plans.
    Who: as `change_plan`."""
    _may_change(actor)
    day = effective_day(when)
    with read_session() as session:
        contract = _contract(session, contract_id, actor)
        plan = session.get(RatePlan, plan_id)
        if plan is None or not plan.is_active:
            raise ValidationFailed({"plan_id": "選んだプランは見つからないか販売終了です。"})
        book = PriceBook(session)
        current = _plan_on(_spans(session, contract.id), today_in_tokyo())
        current_id = current.rate_plan_id if current else contract.rate_plan_id
        if current_id == plan_id:
            raise ValidationFailed({"plan_id": "今と同じプランです。"})
        old, new = book.plan(current_id, day), book.plan(plan_id, day)
        if new is None:
            raise ValidationFailed({"plan_id": "選んだプランには適用日時点の料金がありません。"})
        old_plan = session.get(RatePlan, current_id)
        lines = [f"{old_plan.name} → {plan.name}", f"適用日: {day:%Y年%m月%d日}（{WHEN[when]}）",
                 f"月額: {shown_price(old.amount, old.tax_rate_percent, True) if old else '—'} → "
                 f"{shown_price(new.amount, new.tax_rate_percent, True)}",
                 monthly_difference(old, new)]
        if when == "now":
            first, last = month_bounds(day.strftime("%Y-%m"))
            n = (last - first).days + 1
            start = max(first, current.valid_from) if current else first
            before = _month_cost(book, current_id, start, day - timedelta(days=1), n) if day > start else 0
            after = _month_cost(book, plan_id, day, last, n)
            lines.append(f"今月分（日割り・税抜）: {old_plan.name} {(day - start).days}日 {yen(before)} ＋ "
                         f"{plan.name} {(last - day).days + 1}日 {yen(after)}")
        return {"effective_from": day.isoformat(), "summary": "\n".join(lines), "lines": lines,
                "old_fee": old.amount if old else 0, "new_fee": new.amount}


@mutating_service
def change_plan(contract_id: int, *, actor: Actor, plan_id: int, when: str = "next_month", reason: str) -> ContractPlanPeriod:
    """Move a contract to another plan from next month or from today. Who: sales, support, admin; a customer for
    their company's contract (a 利用者 only with can_request, for a contract holding a line of theirs; another
    company's contract is NotFound). Writes the new span, tells the carrier (now, or on the 1st) and one audit
    entry (contract.change_plan)."""
    _may_change(actor)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "変更の理由を入力してください。"})
    day = effective_day(when)
    with write_session() as session:
        contract = _contract(session, contract_id, actor, lock=True)
        plan = session.get(RatePlan, plan_id)
        if plan is None or not plan.is_active:
            raise ValidationFailed({"plan_id": "選んだプランは見つからないか販売終了です。"})
        if PriceBook(session).plan(plan_id, day) is None:
            raise ValidationFailed({"plan_id": "選んだプランには適用日時点の料金がありません。"})
        spans = _spans(session, contract.id)
        before = {"spans": [snapshot(s) for s in spans], "rate_plan_id": contract.rate_plan_id}
        for span in [s for s in spans if s.valid_from > today_in_tokyo()]:
            session.delete(span)  # a change already waiting for next month is replaced
        session.flush()
        spans = [s for s in spans if s.valid_from <= today_in_tokyo()]
        current = _plan_on(spans, day) or _plan_on(spans, today_in_tokyo())
        if current is not None and current.rate_plan_id == plan_id and current.valid_to is None:
            raise ValidationFailed({"plan_id": "今と同じプランです。"})
        if current is not None and current.valid_from == day:
            current.rate_plan_id = plan_id  # the same day's change replaces the first: each day on one plan
            new = current
        else:
            if current is not None:
                current.valid_to = day - timedelta(days=1)
                session.add(current)
            new = ContractPlanPeriod(contract_id=contract.id, rate_plan_id=plan_id, valid_from=day)
        if when == "now":
            contract.rate_plan_id = plan_id
            _tell_carrier(session, contract, plan, new)
        session.add(new)
        session.add(contract)
        session.flush()
        record(session, actor, "contract.change_plan", contract, before=before, reason=reason.strip(),
               after={"rate_plan_id": contract.rate_plan_id, "new_plan": plan.code, "effective_from": day.isoformat(),
                      "spans": [snapshot(s) for s in _spans(session, contract.id)]})
    return new


def _tell_carrier(session: Session, contract: Contract, plan: RatePlan, span: ContractPlanPeriod) -> None:
    for line in session.exec(select(Line).where(Line.contract_id == contract.id,
                                                col(Line.status).in_(CARRIER_LINE_STATES))):
        enqueue_plan_change(session, line, plan.code)
    span.carrier_told_at = utcnow()


def apply_due_plan_changes(today: date | None = None) -> int:
    """The daily round: a plan change that starts today becomes the contract's plan and the carrier is told;
    returns how many contracts moved."""
    today = today or today_in_tokyo()
    moved = 0
    with write_session() as session:
        due = session.exec(select(ContractPlanPeriod).where(ContractPlanPeriod.valid_from <= today,
                                                            col(ContractPlanPeriod.carrier_told_at).is_(None))
                           .with_for_update()).all()
        for span in due:
            contract = session.get(Contract, span.contract_id)
            plan = session.get(RatePlan, span.rate_plan_id)
            if contract.status in CHANGEABLE:
                before = snapshot(contract)
                contract.rate_plan_id = span.rate_plan_id
                session.add(contract)
                _tell_carrier(session, contract, plan, span)
                record(session, SYSTEM, "contract.plan_applied", contract, before=before,
                       reason=f"翌月適用のプラン変更（{plan.name}）を {today:%Y/%m/%d} に適用")
                moved += 1
            else:
                span.carrier_told_at = utcnow()
            session.add(span)
    return moved


@mutating_service
def add_option(contract_id: int, *, actor: Actor, option_id: int, when: str = "next_month", reason: str) -> ContractOption:
    """Add an option from next month or today (日割り); who as `change_plan`; one audit entry (contract.add_option)."""
    _may_change(actor)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    day = effective_day(when)
    with write_session() as session:
        contract = _contract(session, contract_id, actor, lock=True)
        option = session.get(RateOption, option_id)
        if option is None or not option.is_active:
            raise ValidationFailed({"option_id": "選んだオプションは見つからないか販売終了です。"})
        live = session.exec(select(ContractOption).where(
            ContractOption.contract_id == contract.id, ContractOption.rate_option_id == option_id,
            (col(ContractOption.valid_to).is_(None)) | (ContractOption.valid_to >= day))).first()
        if live is not None:
            raise Conflict("このオプションは既に付いています（または付く予定です）。")
        row = ContractOption(contract_id=contract.id, rate_option_id=option_id, valid_from=day)
        session.add(row)
        session.flush()
        record(session, actor, "contract.add_option", row, reason=reason.strip(),
               after={**snapshot(row), "option": option.name})
    return row


@mutating_service
def remove_option(contract_option_id: int, *, actor: Actor, when: str = "next_month", reason: str) -> ContractOption:
    """Remove an option: its last day is the end of this month (翌月適用) or yesterday (at once, 日割り); who as
    `change_plan`; one audit entry (contract.remove_option)."""
    _may_change(actor)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    day = effective_day(when)
    with write_session() as session:
        row = session.exec(select(ContractOption).where(ContractOption.id == contract_option_id).with_for_update()).first()
        if row is None:
            raise NotFound("オプションが見つかりません。")
        try:
            _contract(session, row.contract_id, actor, lock=True)
        except NotFound:  # another company's option: the same words as one that does not exist
            raise NotFound("オプションが見つかりません。") from None
        if row.valid_to is not None and row.valid_to < day:
            raise Conflict("このオプションは既に外れています（または外れる予定です）。")
        before = snapshot(row)
        if row.valid_from >= day:
            record(session, actor, "contract.remove_option", row, before=before, after={}, reason=reason.strip())
            session.delete(row)
            return row
        row.valid_to = day - timedelta(days=1)
        session.add(row)
        record(session, actor, "contract.remove_option", row, before=before, reason=reason.strip())
    return row


def preview_option_change(contract_id: int, *, actor: Actor, when: str, option_id: int | None = None,
                          contract_option_id: int | None = None) -> dict[str, Any]:
    """What adding an option (`option_id`) or removing one (`contract_option_id`) would do: from when it applies
    (the first day billed, or the last), its monthly fee, the difference per month, and for a change at once this
    month's 日割り. Who: as `add_option` / `remove_option`. Writes nothing."""
    _may_change(actor)
    day = effective_day(when)
    with read_session() as session:
        if contract_option_id is not None:
            row = session.get(ContractOption, contract_option_id)
            if row is None:
                raise NotFound("オプションが見つかりません。")
            try:
                contract = _contract(session, row.contract_id, actor)
            except NotFound:
                raise NotFound("オプションが見つかりません。") from None
            if row.valid_to is not None and row.valid_to < day:
                raise Conflict("このオプションは既に外れています（または外れる予定です）。")
            option = session.get(RateOption, row.rate_option_id)
        else:
            contract = _contract(session, contract_id, actor)
            option = session.get(RateOption, option_id) if option_id is not None else None
            if option is None or not option.is_active:
                raise ValidationFailed({"option_id": "選んだオプションは見つからないか販売終了です。"})
            row = None
        terms = PriceBook(session).option(option.id, day)
        fee = terms.amount if terms else 0
        first, last = month_bounds(day.strftime("%Y-%m"))
        n = (last - first).days + 1
        if row is None:
            lines = [f"追加: {option.name}", f"適用日: {day:%Y年%m月%d日}（{WHEN[when]}）",
                     f"月額: {shown_price(fee, terms.tax_rate_percent, True) if terms else '—'}",
                     monthly_difference(None, terms)]
            if when == "now":
                days = (last - day).days + 1
                lines.append(f"今月分（日割り・税抜）: {option.name} {days}日 {yen(prorate(fee, days, n))}")
        else:
            lines = [f"削除: {option.name}", f"最終日: {day - timedelta(days=1):%Y年%m月%d日}（{WHEN[when]}）",
                     f"月額: {shown_price(fee, terms.tax_rate_percent, True) if terms else '—'}",
                     monthly_difference(terms, None)]
            start = max(first, row.valid_from)
            if when == "now" and day > start:
                days = (day - start).days
                lines.append(f"今月分（日割り・税抜）: {option.name} {days}日 {yen(prorate(fee, days, n))}")
        return {"effective_from": day.isoformat(), "summary": "\n".join(lines), "lines": lines, "fee": fee,
                "difference": fee if row is None else -fee, "contract_id": contract.id}


def contract_plan_view(contract_id: int, *, actor: Actor) -> dict[str, Any]:
    """The contract's plan timeline and options with their spans, and the plans and options on sale (for the
    change dialog)."""
    with read_session() as session:
        contract = get_permitted(session, Contract, contract_id, "契約が見つかりません。", actor, "contract.view")
        plans = {p.id: p for p in session.exec(select(RatePlan))}
        options = {o.id: o for o in session.exec(select(RateOption))}
        book = PriceBook(session)
        today = today_in_tokyo()

        def span_text(start: date, end: date | None) -> str:
            return f"{start:%Y/%m/%d} 〜 {end:%Y/%m/%d}" if end else f"{start:%Y/%m/%d} 〜"

        return {
            "timeline": [{"plan": plans[s.rate_plan_id].name, "span": span_text(s.valid_from, s.valid_to),
                          "state": "予定" if s.valid_from > today else ("終了" if s.valid_to and s.valid_to < today
                                                                         else "適用中")}
                         for s in _spans(session, contract.id)],
            "options": [{"id": o.id, "name": options[o.rate_option_id].name, "span": span_text(o.valid_from, o.valid_to),
                         "removable": o.valid_to is None or o.valid_to >= today}
                        for o in session.exec(select(ContractOption).where(ContractOption.contract_id == contract.id)
                                              .order_by(ContractOption.valid_from))],
            "plan_choices": [{"id": p.id, "label": f"{p.name}（{shown_price(t.amount, t.tax_rate_percent, True)}）"}
                             for p in plans.values() if p.is_active and (t := book.plan(p.id, today))],
            "option_choices": [{"id": o.id, "label": f"{o.name}（{shown_price(t.amount, t.tax_rate_percent, True)}）"}
                               for o in options.values() if o.is_active and (t := book.option(o.id, today))],
            "changeable": contract.status in CHANGEABLE and can_change(actor),
        }


def can_change(actor: Actor) -> bool:
    """Whether `actor` may change plans and options."""
    return can(actor, "contract.change_plan")
