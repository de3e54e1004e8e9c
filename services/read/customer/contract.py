"""The customer app's contract pages: the contracts the person sees, and one contract with its plan, options,
plan history, the 初期契約解除 window, what ending it early costs (nothing in this catalogue), the plans and
options on sale — and the add-on data a line can buy now.

Who sees what follows services.ledger.customer_contracts: a 法人管理者 every contract of the company, a 利用者
the contracts holding a line of theirs (only their own lines listed); anything else is NotFound. Changes go
through services.billing.plan_changes (the staff's service, with its preview) and services.billing.addons.
Prices are shown as the catalogue version in effect today says (税込 or 税抜); amounts are stored tax excluded.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.billing.rating import INITIAL_CANCELLATION_DAYS, is_initial_cancellation, month_bounds
from services.ledger.addon_data import NEARLY_FULL_PERCENT, addons_on_sale, extra_mb
from services.ledger.catalogue import shown_price
from services.ledger.customer_contracts import customer_contract, customer_line, visible_contract_ids
from services.ledger.customer_users import customer_scope
from services.models import (
    Contract,
    ContractOption,
    ContractPlanPeriod,
    InstalmentPlan,
    Line,
    RateOption,
    RateOptionVersion,
    RatePlan,
    RatePlanVersion,
    UsageRecord,
)
from services.models.contract import ContractStatus
from services.models.line import LineStatus
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session
from services.platform.identifiers import contract_code, format_msisdn
from services.platform.labels import state_label
from services.platform.permissions import Actor

NO_EARLY_TERMINATION_FEE = "解約金（契約解除料）はかかりません。いつ解約しても、解約の月までのご利用分だけのご請求です。"
INSTALMENTS_LEFT = "端末代金の分割払いが残っている場合は、その残額を最後のご請求でまとめてお支払いいただきます。"
WHEN_CHOICES = [{"value": "next_month", "label": "翌月1日から（おすすめ・日割りなし）"},
                {"value": "now", "label": "今日から（今月分は日割り）"}]


def cap_text(mb: int) -> str:
    """A data cap as people say it: 3GB, 100MB, 上限なし."""
    if not mb:
        return "上限なし"
    return f"{mb // 1024}GB" if mb % 1024 == 0 else f"{mb:,}MB"


def _span(start: date, end: date | None) -> str:
    return f"{start:%Y/%m/%d} 〜 {end:%Y/%m/%d}" if end else f"{start:%Y/%m/%d} 〜"


def _state(start: date, end: date | None, today: date) -> str:
    return "予定" if start > today else ("終了" if end is not None and end < today else "適用中")


def _prices(session: Session, model, owner: str, day: date) -> dict[int, str]:
    """Per plan (or option), its price in effect on `day` as the catalogue says to show it."""
    latest: dict[int, Any] = {}
    for version in session.exec(select(model).where(model.effective_from <= day).order_by(model.effective_from)):
        latest[getattr(version, owner)] = version
    return {key: shown_price(v.monthly_fee, v.tax_rate_percent, v.price_includes_tax) for key, v in latest.items()}


def _plan_terms(session: Session, day: date) -> dict[int, dict[str, Any]]:
    latest: dict[int, RatePlanVersion] = {}
    for version in session.exec(select(RatePlanVersion).where(RatePlanVersion.effective_from <= day)
                                .order_by(RatePlanVersion.effective_from)):
        latest[version.rate_plan_id] = version
    return {pid: {"price": shown_price(v.monthly_fee, v.tax_rate_percent, v.price_includes_tax),
                  "cap": cap_text(v.data_cap_mb), "kbps": v.throttled_kbps} for pid, v in latest.items()}


def my_contracts(*, actor: Actor) -> list[dict[str, Any]]:
    """The contracts the signed-in person sees, oldest first: id, number (C-000123), status and label, plan
    name, the number of their lines on it. Who: a customer actor (staff: PermissionDenied). Writes nothing."""
    with read_session() as session:
        scope = customer_scope(session, actor)
        ids = visible_contract_ids(session, scope)
        if not ids:
            return []
        rows = session.exec(select(Contract, RatePlan).join(RatePlan, RatePlan.id == Contract.rate_plan_id)
                            .where(col(Contract.id).in_(ids)).order_by(Contract.id)).all()
        counts = dict(session.exec(select(Line.contract_id, func.count(Line.id)).where(
            col(Line.contract_id).in_(ids), col(Line.id).in_(sorted(scope.line_ids)),
            Line.status != LineStatus.TERMINATED.value).group_by(Line.contract_id)).all()) if scope.line_ids else {}
    return [{"id": c.id, "code": contract_code(c.id), "status": c.status,
             "status_label": state_label("contract", c.status),
             "plan_name": plan.name, "lines": counts.get(c.id, 0)} for c, plan in rows]


def my_contract(contract_id: int, *, actor: Actor) -> dict[str, Any]:
    """One contract the person sees (NotFound otherwise; staff: PermissionDenied). Writes nothing.

    Returns: id, code, status and label, start and end dates; `plan` (name, price as shown, data cap, speed
    when capped); `lines` (their numbers in service on it) and `line_count`; `timeline` (each plan span: plan,
    span, state 適用中 / 予定 / 終了, price); `options` (each span: id, name, span, state, price, removable);
    `initial_cancellation` (the last day of the 8-day 初期契約解除 window while it is open, else ""),
    `early_termination` (in words: none in this catalogue), `plan_choices` and `option_choices` (on sale today,
    with prices; the current plan and options already on it left out), `when_choices`, `can_change` (an active
    contract and the right to make requests) and `change_note` when they may not.
    """
    today = today_in_tokyo()
    with read_session() as session:
        scope = customer_scope(session, actor)
        contract = customer_contract(session, actor, contract_id)
        plans = {p.id: p for p in session.exec(select(RatePlan))}
        options = {o.id: o for o in session.exec(select(RateOption))}
        plan_terms = _plan_terms(session, today)
        option_prices = _prices(session, RateOptionVersion, "rate_option_id", today)
        spans = session.exec(select(ContractPlanPeriod).where(ContractPlanPeriod.contract_id == contract.id)
                             .order_by(ContractPlanPeriod.valid_from)).all()
        held = session.exec(select(ContractOption).where(ContractOption.contract_id == contract.id)
                            .order_by(ContractOption.valid_from, ContractOption.id)).all()
        lines = session.exec(select(Line).where(Line.contract_id == contract.id,
                                                Line.status != LineStatus.TERMINATED.value).order_by(Line.id)).all()
        instalments = session.exec(select(InstalmentPlan.id).where(InstalmentPlan.contract_id == contract.id)).first()
    current = next((s for s in spans if s.valid_from <= today and (s.valid_to is None or s.valid_to >= today)), None)
    plan_id = current.rate_plan_id if current else contract.rate_plan_id
    plan = plans[plan_id]
    terms = plan_terms.get(plan_id, {"price": "—", "cap": cap_text(plan.data_cap_mb), "kbps": plan.throttled_kbps})
    live_options = {o.rate_option_id for o in held if o.valid_to is None or o.valid_to >= today}
    window_open = contract.start_date is not None and is_initial_cancellation(contract.start_date, today) \
        and contract.status in (ContractStatus.ACTIVE.value, ContractStatus.CANCELLATION_REQUESTED.value)
    active = contract.status == ContractStatus.ACTIVE.value
    return {
        "id": contract.id, "code": contract_code(contract.id), "status": contract.status,
        "status_label": state_label("contract", contract.status),
        "start_date": contract.start_date.isoformat() if contract.start_date else "",
        "end_date": contract.end_date.isoformat() if contract.end_date else "",
        "plan": {"id": plan.id, "name": plan.name, "price": terms["price"], "cap": terms["cap"],
                 "throttled_kbps": terms["kbps"]},
        "lines": [format_msisdn(ln.msisdn) for ln in lines if scope.sees_line(ln.id)],
        "line_count": len(lines),
        "timeline": [{"plan": plans[s.rate_plan_id].name, "span": _span(s.valid_from, s.valid_to),
                      "state": _state(s.valid_from, s.valid_to, today),
                      "price": plan_terms.get(s.rate_plan_id, {}).get("price", "—")} for s in reversed(spans)],
        "options": [{"id": o.id, "name": options[o.rate_option_id].name, "span": _span(o.valid_from, o.valid_to),
                     "state": _state(o.valid_from, o.valid_to, today),
                     "price": option_prices.get(o.rate_option_id, "—"),
                     "removable": active and (o.valid_to is None or o.valid_to >= today)} for o in held],
        "initial_cancellation": (contract.start_date + timedelta(days=INITIAL_CANCELLATION_DAYS - 1)).isoformat()
        if window_open else "",
        "early_termination": NO_EARLY_TERMINATION_FEE + (INSTALMENTS_LEFT if instalments is not None else ""),
        "plan_choices": [{"id": p.id, "name": p.name, "price": plan_terms[p.id]["price"],
                          "cap": plan_terms[p.id]["cap"],
                          "label": f"{p.name}（{plan_terms[p.id]['price']}・{plan_terms[p.id]['cap']}）"}
                         for p in sorted(plans.values(), key=lambda p: p.id)
                         if p.is_active and p.id in plan_terms and p.id != plan_id],
        "option_choices": [{"id": o.id, "name": o.name, "price": option_prices[o.id],
                            "label": f"{o.name}（{option_prices[o.id]}）"}
                           for o in sorted(options.values(), key=lambda o: o.id)
                           if o.is_active and o.id in option_prices and o.id not in live_options],
        "when_choices": WHEN_CHOICES,
        "can_change": active and scope.can_request,
        "change_note": "契約中の契約だけプランやオプションを変更できます。" if not active
        else "" if scope.can_request else "変更のお申し込みは法人管理者にご依頼ください。",
    }


def addon_offer(line_id: int, *, actor: Actor) -> dict[str, Any]:
    """What a line can buy now to add data this month, for the confirmation: the line (id, number), this month's
    use and cap (the plan's plus add-ons already bought), whether it is 速度制限中, and each size on sale (code,
    name, price as shown, the cap after buying it, and whether the speed limit would be lifted by it).

    Who: a customer actor who sees the line and may make requests (a 利用者 with can_request; otherwise
    PermissionDenied; another company's line NotFound; staff PermissionDenied). Only a line in service has
    offers. Writes nothing.
    """
    today = today_in_tokyo()
    first, last = month_bounds(today.strftime("%Y-%m"))
    with read_session() as session:
        line = customer_line(session, actor, line_id, to_change=True)
        plan = session.exec(select(RatePlan).join(Contract, Contract.rate_plan_id == RatePlan.id)
                            .where(Contract.id == line.contract_id)).one()
        used = int(session.exec(select(func.coalesce(func.sum(UsageRecord.used_mb), 0)).where(
            UsageRecord.line_id == line.id, UsageRecord.day >= first, UsageRecord.day <= last)).one())
        bought = extra_mb(session, first, last, [line.id]).get(line.id, 0)
        sizes = addons_on_sale(session, today) if line.status == LineStatus.ACTIVE and plan.data_cap_mb else []
    cap = plan.data_cap_mb + bought if plan.data_cap_mb else 0
    return {
        "line_id": line.id, "msisdn": format_msisdn(line.msisdn), "plan_name": plan.name, "used_mb": used,
        "cap_mb": cap, "addon_mb": bought, "throttled": line.throttled,
        "addons": [{"code": a["code"], "name": a["name"], "price": a["price"], "mb": a["mb"],
                    "cap_after_mb": cap + a["mb"], "lifts_throttle": line.throttled and used < cap + a["mb"],
                    "label": f"{a['name']}（{a['price']}）"} for a in sizes],
        "billing_note": f"代金は来月お届けする請求書（{today:%Y年%-m月}ご利用分）に明細として載ります。"
                        f"追加したデータは今月末（{last:%-m月%-d日}）まで使えます。",
        "nearly_full_percent": NEARLY_FULL_PERCENT,
    }
