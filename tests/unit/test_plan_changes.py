"""Plan and option changes (料金プラン変更) under a frozen clock: from next month (the carrier told on the 1st)
or at once (日割り, the carrier told at once), each day on one plan — shown by rating the month with the
contract's facts as the billing run reads them. Yen figures worked out by hand."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import select

from services.billing import billing_runs, plan_changes, rating
from services.ledger import catalogue
from services.models import Contract, ContractOption, ContractPlanPeriod, ExternalOperation, RatePlan
from services.platform.db import read_session
from services.platform.errors import Conflict, ValidationFailed
from tests.unit.frozen_time import freeze


@pytest.fixture()
def clock(monkeypatch):
    return freeze(monkeypatch, date(2026, 3, 1))


@pytest.fixture()
def setup(world, clock):
    """On 2026-03-01: plans of 3,300 and 5,500 yen, a contract on the first with two numbers in service and one
    not yet opened; then the clock moves to Tuesday 2026-03-10."""
    old, new = world.priced_plan(3300), world.priced_plan(5500)
    contract = world.active_contract(plan_id=old)
    in_service = [world.active_line(contract).id, world.active_line(contract).id]
    world.line(contract)  # applied for, not opened: the carrier has nothing to change
    clock.day(date(2026, 3, 10))
    return contract, old, new, in_service


def _spans(contract_id: int) -> list[tuple]:
    with read_session() as s:
        return [(sp.rate_plan_id, sp.valid_from, sp.valid_to) for sp in s.exec(
            select(ContractPlanPeriod).where(ContractPlanPeriod.contract_id == contract_id)
            .order_by(ContractPlanPeriod.valid_from)).all()]


def _plan_changes_told() -> list[tuple[int, str]]:
    with read_session() as s:
        return [(op.line_id, json.loads(op.payload_json)["plan"]) for op in s.exec(
            select(ExternalOperation).where(ExternalOperation.operation == "change_plan")
            .order_by(ExternalOperation.id)).all()]


def _code(plan_id: int) -> str:
    with read_session() as s:
        return s.get(RatePlan, plan_id).code


def _contract_plan(contract_id: int) -> int:
    with read_session() as s:
        return s.get(Contract, contract_id).rate_plan_id


def _bill(contract_id: int, period: str) -> list[tuple]:
    """The contract's recurring lines for `period` as the billing run would rate them: (kind, numbers, yen per
    number, from, to) — the fees are per number in service, and both numbers share every line here."""
    with read_session() as s:
        facts = billing_runs.load_facts(s, [contract_id], period)[contract_id]
    return [(i.kind, i.quantity, i.unit_price, i.service_from, i.service_to)
            for i in rating.rate_contract(facts, period, catalogue.price_book()) if i.kind in ("plan", "option")]


# ---- from next month --------------------------------------------------------------------------------

def test_a_change_for_next_month_ends_this_span_at_the_months_end_and_starts_one_on_the_1st(world, setup):
    contract, old, new, _ = setup

    plan_changes.change_plan(contract.id, actor=world.admin, plan_id=new, when="next_month", reason="容量不足")

    assert _spans(contract.id) == [(old, date(2026, 3, 1), date(2026, 3, 31)), (new, date(2026, 4, 1), None)]
    assert _contract_plan(contract.id) == old
    assert _bill(contract.id, "2026-03") == [("plan", 2, 3300, date(2026, 3, 1), date(2026, 3, 31))]
    assert _bill(contract.id, "2026-04") == [("plan", 2, 5500, date(2026, 4, 1), date(2026, 4, 30))]


def test_the_carrier_is_told_of_a_next_month_change_on_the_1st_once_per_line_in_service(world, setup, clock):
    contract, old, new, in_service = setup
    plan_changes.change_plan(contract.id, actor=world.admin, plan_id=new, when="next_month", reason="容量不足")

    assert _plan_changes_told() == []
    assert plan_changes.apply_due_plan_changes(date(2026, 3, 31)) == 0
    assert _plan_changes_told() == []

    clock.day(date(2026, 4, 1), hour=0, minute=5)
    assert plan_changes.apply_due_plan_changes() == 1
    assert plan_changes.apply_due_plan_changes() == 0  # the next round: told once

    assert _plan_changes_told() == [(in_service[0], _code(new)), (in_service[1], _code(new))]
    assert _contract_plan(contract.id) == new


def test_a_second_change_for_next_month_replaces_the_waiting_one(world, setup):
    contract, old, new, _ = setup
    third = world.priced_plan(2200)

    plan_changes.change_plan(contract.id, actor=world.admin, plan_id=new, when="next_month", reason="容量不足")
    plan_changes.change_plan(contract.id, actor=world.admin, plan_id=third, when="next_month", reason="やはり小さく")

    assert _spans(contract.id) == [(old, date(2026, 3, 1), date(2026, 3, 31)), (third, date(2026, 4, 1), None)]


# ---- at once -----------------------------------------------------------------------------------------

def test_a_change_at_once_splits_yesterday_and_today_and_tells_the_carrier_at_once(world, setup):
    contract, old, new, in_service = setup

    plan_changes.change_plan(contract.id, actor=world.admin, plan_id=new, when="now", reason="すぐ使いたい")

    assert _spans(contract.id) == [(old, date(2026, 3, 1), date(2026, 3, 9)), (new, date(2026, 3, 10), None)]
    assert _contract_plan(contract.id) == new
    assert _plan_changes_told() == [(in_service[0], _code(new)), (in_service[1], _code(new))]
    assert plan_changes.apply_due_plan_changes() == 0  # nothing left for the daily round
    # 3,300 × 9 ÷ 31 = 958.06… → 958; 5,500 × 22 ÷ 31 = 3,903.2… → 3,903
    assert _bill(contract.id, "2026-03") == [("plan", 2, 958, date(2026, 3, 1), date(2026, 3, 9)),
                                             ("plan", 2, 3903, date(2026, 3, 10), date(2026, 3, 31))]


def test_two_changes_on_the_same_day_leave_one_plan_for_that_day(world, setup):
    contract, old, new, in_service = setup
    third = world.priced_plan(2200)

    plan_changes.change_plan(contract.id, actor=world.admin, plan_id=new, when="now", reason="すぐ使いたい")
    plan_changes.change_plan(contract.id, actor=world.admin, plan_id=third, when="now", reason="やはり小さく")

    assert _spans(contract.id) == [(old, date(2026, 3, 1), date(2026, 3, 9)), (third, date(2026, 3, 10), None)]
    # 958 for the 1st–9th; 2,200 × 22 ÷ 31 = 1,561.2… → 1,561 for the 10th–31st; nothing on the 5,500 plan
    assert _bill(contract.id, "2026-03") == [("plan", 2, 958, date(2026, 3, 1), date(2026, 3, 9)),
                                             ("plan", 2, 1561, date(2026, 3, 10), date(2026, 3, 31))]
    assert _plan_changes_told()[-2:] == [(in_service[0], _code(third)), (in_service[1], _code(third))]


def test_a_change_at_once_replaces_one_waiting_for_next_month(world, setup):
    contract, old, new, _ = setup
    third = world.priced_plan(2200)
    plan_changes.change_plan(contract.id, actor=world.admin, plan_id=new, when="next_month", reason="容量不足")

    plan_changes.change_plan(contract.id, actor=world.admin, plan_id=third, when="now", reason="今日から")

    assert _spans(contract.id) == [(old, date(2026, 3, 1), date(2026, 3, 9)), (third, date(2026, 3, 10), None)]


def test_changing_to_the_plan_it_is_on_is_refused(world, setup):
    contract, old, _, _ = setup

    with pytest.raises(ValidationFailed) as refused:
        plan_changes.change_plan(contract.id, actor=world.admin, plan_id=old, when="now", reason="同じ")

    assert refused.value.fields == {"plan_id": "今と同じプランです。"}


# ---- the preview -----------------------------------------------------------------------------------------

def test_the_preview_of_a_next_month_change_states_the_date_and_the_price_difference(world, setup):
    contract, old, new, _ = setup

    preview = plan_changes.preview_plan_change(contract.id, new, "next_month", actor=world.admin)

    # 3,300 + 10% = 3,630; 5,500 + 10% = 6,050; difference 2,200 tax excluded
    assert preview["effective_from"] == "2026-04-01"
    assert (preview["old_fee"], preview["new_fee"]) == (3300, 5500)
    assert preview["lines"][1:] == ["適用日: 2026年04月01日（翌月1日から（翌月適用））",
                                    "月額: ￥3,630（税込） → ￥6,050（税込）", "月額の差: +￥2,420（税込、税抜では +￥2,200）"]
    assert _spans(contract.id) == [(old, date(2026, 3, 1), None)]  # a preview changes nothing


def test_the_preview_of_a_change_at_once_shows_this_months_prorated_fees(world, setup):
    contract, old, new, _ = setup
    cheaper = world.priced_plan(2200)
    with read_session() as s:
        old_name, new_name = s.get(RatePlan, old).name, s.get(RatePlan, new).name

    now = plan_changes.preview_plan_change(contract.id, new, "now", actor=world.admin)
    down = plan_changes.preview_plan_change(contract.id, cheaper, "now", actor=world.admin)

    assert now["effective_from"] == "2026-03-10"
    assert now["lines"][0] == f"{old_name} → {new_name}"
    # 3,300 × 9 ÷ 31 → 958 and 5,500 × 22 ÷ 31 → 3,903
    assert now["lines"][-1] == f"今月分（日割り・税抜）: {old_name} 9日 ￥958 ＋ {new_name} 22日 ￥3,903"
    assert down["lines"][3] == "月額の差: −￥1,210（税込、税抜では −￥1,100）"  # 2,420 − 3,630; 2,200 − 3,300


# ---- options --------------------------------------------------------------------------------------------

def test_an_option_added_for_next_month_starts_on_the_1st(world, setup):
    contract, _, _, _ = setup
    option = world.priced_option(550)

    row = plan_changes.add_option(contract.id, actor=world.admin, option_id=option, when="next_month", reason="申込")

    assert (row.valid_from, row.valid_to) == (date(2026, 4, 1), None)
    assert [i for i in _bill(contract.id, "2026-03") if i[0] == "option"] == []
    assert [i for i in _bill(contract.id, "2026-04") if i[0] == "option"] == [
        ("option", 2, 550, date(2026, 4, 1), date(2026, 4, 30))]


def test_an_option_added_now_and_removed_now_is_billed_for_its_days(world, setup, clock):
    contract, _, _, _ = setup
    option = world.priced_option(550)

    row = plan_changes.add_option(contract.id, actor=world.admin, option_id=option, when="now", reason="申込")
    with pytest.raises(Conflict):
        plan_changes.add_option(contract.id, actor=world.admin, option_id=option, when="now", reason="二重")
    clock.day(date(2026, 3, 20))
    plan_changes.remove_option(row.id, actor=world.admin, when="now", reason="不要になった")

    with read_session() as s:
        kept = s.get(ContractOption, row.id)
    assert (kept.valid_from, kept.valid_to) == (date(2026, 3, 10), date(2026, 3, 19))
    # 550 × 10 ÷ 31 = 177.4… → 177 (10th–19th)
    assert [i for i in _bill(contract.id, "2026-03") if i[0] == "option"] == [
        ("option", 2, 177, date(2026, 3, 10), date(2026, 3, 19))]


def test_an_option_removed_for_next_month_runs_to_the_months_end(world, setup):
    contract, _, _, _ = setup
    row = plan_changes.add_option(contract.id, actor=world.admin, option_id=world.priced_option(550), when="now",
                                  reason="申込")

    plan_changes.remove_option(row.id, actor=world.admin, when="next_month", reason="来月から不要")

    with read_session() as s:
        kept = s.get(ContractOption, row.id)
    assert (kept.valid_from, kept.valid_to) == (date(2026, 3, 10), date(2026, 3, 31))
    # 550 × 22 ÷ 31 = 390.3… → 390; nothing in April
    assert [i for i in _bill(contract.id, "2026-03") if i[0] == "option"] == [
        ("option", 2, 390, date(2026, 3, 10), date(2026, 3, 31))]
    assert [i for i in _bill(contract.id, "2026-04") if i[0] == "option"] == []


def test_removing_an_option_that_has_not_started_deletes_it(world, setup):
    contract, _, _, _ = setup
    row = plan_changes.add_option(contract.id, actor=world.admin, option_id=world.priced_option(550),
                                  when="next_month", reason="申込")

    plan_changes.remove_option(row.id, actor=world.admin, when="next_month", reason="申込の取り消し")

    with read_session() as s:
        assert s.get(ContractOption, row.id) is None
