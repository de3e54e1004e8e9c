"""The contract in the customer app: the 法人管理者 previews and makes plan and option changes with the staff's
own service (date and price difference first), a 利用者 only with the right to make requests and only on a
contract holding a line of theirs, another company's contract is NotFound and nothing is written; add-on data
is one charge on the next bill and one carrier call lifting the speed limit, however often it is submitted.
Under a frozen clock (plans bought 2026-03-01, today Tuesday 2026-03-10 in Tokyo); yen worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, select

from services.billing import addons, billing_runs, plan_changes
from services.ledger import usage_caps
from services.models import AuditEntry, ContractPlanPeriod, ExternalOperation, InvoiceItem, Line, PendingCharge
from services.platform.db import read_session
from services.platform.errors import NotFound, PermissionDenied, ValidationFailed
from services.platform.identifiers import format_msisdn
from services.read.customer import contract as my_contract
from services.read.customer import home
from tests.unit.contract_builders import addon_on_sale, throttled, used
from tests.unit.customer_builders import company_user, customer_actor
from tests.unit.frozen_time import freeze

KEY = "5f0c8a2e-page-key-0001"


@pytest.fixture()
def clock(monkeypatch):
    return freeze(monkeypatch, date(2026, 3, 1))


@pytest.fixture()
def company(world, clock):
    """On 2026-03-01: plans of 3,300 (3GB) and 5,500 yen, a 550-yen option, the 法人管理者's company with a
    contract on the 3,300 plan and two numbers in service, a 利用者 with the first number and no rights, one with
    the second number and the right to make requests; 追加データ 1GB for 500 yen. Then 2026-03-10."""
    old, new, option = world.priced_plan(3300), world.priced_plan(5500), world.priced_option(550)
    contract = world.active_contract(plan_id=old)
    first, second = world.active_line(contract).id, world.active_line(contract).id
    customer_id = contract.customer_id
    addon_on_sale(world)
    people = {
        "admin": customer_actor(company_user(customer_id, "admin@example.jp", role="customer_admin")),
        "user": customer_actor(company_user(customer_id, "user@example.jp", line_ids=[first])),
        "requester": customer_actor(company_user(customer_id, "req@example.jp", line_ids=[second], can_request=True)),
    }
    clock.day(date(2026, 3, 10))
    return {"contract": contract, "old": old, "new": new, "option": option, "lines": (first, second), **people}


@pytest.fixture()
def other_company(world):
    """Another company with its own contract and its 法人管理者."""
    contract = world.active_contract(plan_id=world.priced_plan(2000))
    line = world.active_line(contract).id
    admin = customer_actor(company_user(contract.customer_id, "boss@other.example.jp", role="customer_admin"))
    return {"contract": contract, "line": line, "admin": admin}


def _ledger(engine) -> dict:
    with engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(select(t)))) for t in SQLModel.metadata.sorted_tables}


def _spans(contract_id: int) -> list[tuple]:
    with read_session() as s:
        return [(sp.rate_plan_id, sp.valid_from, sp.valid_to) for sp in s.exec(
            select(ContractPlanPeriod).where(ContractPlanPeriod.contract_id == contract_id)
            .order_by(ContractPlanPeriod.valid_from)).all()]


def _count(model, *where) -> int:
    with read_session() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


# ---- plan change: the preview states the date and the difference; the same service as staff ----------

def test_the_company_admin_sees_next_months_date_and_the_monthly_difference_before_confirming(company):
    c = company

    preview = plan_changes.preview_plan_change(c["contract"].id, c["new"], "next_month", actor=c["admin"])

    assert preview["effective_from"] == "2026-04-01"
    # 3,300 + 10% = 3,630; 5,500 + 10% = 6,050; 5,500 − 3,300 = 2,200 a month per number
    assert preview["lines"][1:] == ["適用日: 2026年04月01日（翌月1日から（翌月適用））",
                                    "月額: ￥3,630（税込） → ￥6,050（税込）", "月額の差: +￥2,420（税込、税抜では +￥2,200）"]
    assert (preview["old_fee"], preview["new_fee"]) == (3300, 5500)
    assert _spans(c["contract"].id) == [(c["old"], date(2026, 3, 1), None)]  # a preview writes nothing


def test_a_change_from_today_shows_this_months_prorated_days_of_both_plans(company):
    c = company

    preview = plan_changes.preview_plan_change(c["contract"].id, c["new"], "now", actor=c["admin"])

    assert preview["effective_from"] == "2026-03-10"
    # 1st–9th on 3,300: 3,300 × 9 ÷ 31 = 958.06… → 958; 10th–31st on 5,500: 5,500 × 22 ÷ 31 = 3,903.2… → 3,903
    assert preview["lines"][-1].endswith("9日 ￥958 ＋ " + preview["lines"][0].split(" → ")[1] + " 22日 ￥3,903")


def test_the_company_admin_changes_the_plan_for_next_month_and_it_is_in_the_history(company):
    c = company

    plan_changes.change_plan(c["contract"].id, actor=c["admin"], plan_id=c["new"], when="next_month",
                             reason="お客様サイトからのお申し込み")

    assert _spans(c["contract"].id) == [(c["old"], date(2026, 3, 1), date(2026, 3, 31)),
                                        (c["new"], date(2026, 4, 1), None)]
    view = my_contract.my_contract(c["contract"].id, actor=c["admin"])
    assert [(row["span"], row["state"]) for row in view["timeline"]] == [
        ("2026/04/01 〜", "予定"), ("2026/03/01 〜 2026/03/31", "適用中")]
    with read_session() as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "contract.change_plan")).one()
    assert (entry.actor_kind, entry.actor_id) == ("customer", c["admin"].id)


def test_a_user_with_the_right_to_make_requests_changes_the_contract_of_their_line(company):
    c = company

    plan_changes.change_plan(c["contract"].id, actor=c["requester"], plan_id=c["new"], when="now", reason="申込")

    assert _spans(c["contract"].id)[-1] == (c["new"], date(2026, 3, 10), None)


def test_a_user_without_the_right_to_make_requests_is_refused_and_nothing_is_written(company, engine):
    c = company
    before = _ledger(engine)

    with pytest.raises(PermissionDenied):
        plan_changes.preview_plan_change(c["contract"].id, c["new"], "next_month", actor=c["user"])
    with pytest.raises(PermissionDenied):
        plan_changes.change_plan(c["contract"].id, actor=c["user"], plan_id=c["new"], reason="申込")
    with pytest.raises(PermissionDenied):
        plan_changes.add_option(c["contract"].id, actor=c["user"], option_id=c["option"], reason="申込")
    with pytest.raises(PermissionDenied):
        addons.buy_addon_data(c["lines"][0], actor=c["user"], code="addon_data_1gb", request_key=KEY)

    assert _ledger(engine) == before
    view = my_contract.my_contract(c["contract"].id, actor=c["user"])  # they still see it, without the buttons
    assert (view["can_change"], view["change_note"]) == (False, "変更のお申し込みは法人管理者にご依頼ください。")
    with read_session() as s:
        assert view["lines"] == [format_msisdn(s.get(Line, c["lines"][0]).msisdn)]  # only their own number


def test_a_user_cannot_reach_a_contract_without_a_line_of_theirs(company, world):
    c = company
    elsewhere = world.active_contract(customer_id=c["contract"].customer_id, plan_id=c["old"])
    world.active_line(elsewhere)

    with pytest.raises(NotFound):
        plan_changes.change_plan(elsewhere.id, actor=c["requester"], plan_id=c["new"], reason="申込")
    assert [row["id"] for row in my_contract.my_contracts(actor=c["requester"])] == [c["contract"].id]
    assert {row["id"] for row in my_contract.my_contracts(actor=c["admin"])} == {c["contract"].id, elsewhere.id}


def test_another_companys_contract_is_not_found_and_nothing_is_written(company, other_company, engine):
    c, theirs = company, other_company
    before = _ledger(engine)

    with pytest.raises(NotFound) as refused:
        plan_changes.change_plan(theirs["contract"].id, actor=c["admin"], plan_id=c["new"], reason="申込")
    assert str(refused.value) == "契約が見つかりません。"
    with pytest.raises(NotFound) as unknown:
        plan_changes.change_plan(10**6, actor=c["admin"], plan_id=c["new"], reason="申込")
    assert str(unknown.value) == str(refused.value)  # the same words as an id that does not exist
    with pytest.raises(NotFound):
        plan_changes.preview_plan_change(theirs["contract"].id, c["new"], "now", actor=c["admin"])
    with pytest.raises(NotFound):
        my_contract.my_contract(theirs["contract"].id, actor=c["admin"])
    with pytest.raises(NotFound):
        addons.buy_addon_data(theirs["line"], actor=c["admin"], code="addon_data_1gb", request_key=KEY)

    assert _ledger(engine) == before


# ---- options ---------------------------------------------------------------------------------------

def test_adding_an_option_today_shows_the_date_the_fee_and_this_months_prorated_amount(company):
    c = company

    preview = plan_changes.preview_option_change(c["contract"].id, actor=c["admin"], when="now", option_id=c["option"])
    row = plan_changes.add_option(c["contract"].id, actor=c["admin"], option_id=c["option"], when="now", reason="申込")

    name = preview["lines"][0].removeprefix("追加: ")
    # 550 + 10% = 605; the 10th–31st: 550 × 22 ÷ 31 = 390.3… → 390
    assert preview["lines"][1:] == ["適用日: 2026年03月10日（今日から（今月分は日割り））", "月額: ￥605（税込）",
                                    "月額の差: +￥605（税込、税抜では +￥550）", f"今月分（日割り・税抜）: {name} 22日 ￥390"]
    assert preview["difference"] == 550 and row.valid_from == date(2026, 3, 10)


def test_removing_an_option_from_next_month_says_its_last_day_and_the_saving(company):
    c = company
    row = plan_changes.add_option(c["contract"].id, actor=c["admin"], option_id=c["option"], when="now", reason="申込")

    preview = plan_changes.preview_option_change(c["contract"].id, actor=c["admin"], when="next_month",
                                                 contract_option_id=row.id)
    plan_changes.remove_option(row.id, actor=c["admin"], when="next_month", reason="不要になった")

    assert preview["lines"][1:] == ["最終日: 2026年03月31日（翌月1日から（翌月適用））", "月額: ￥605（税込）",
                                    "月額の差: −￥605（税込、税抜では −￥550）"]
    options = my_contract.my_contract(c["contract"].id, actor=c["admin"])["options"]
    assert [(o["span"], o["state"]) for o in options] == [("2026/03/10 〜 2026/03/31", "適用中")]


# ---- the contract page: 初期契約解除 and early termination in words -------------------------------------

def test_the_initial_cancellation_deadline_shows_only_within_eight_days_of_the_start(company, world, clock):
    c = company
    assert my_contract.my_contract(c["contract"].id, actor=c["admin"])["initial_cancellation"] == ""  # day 10

    fresh = world.active_contract(customer_id=c["contract"].customer_id, plan_id=c["old"])  # starts 03-10
    clock.day(date(2026, 3, 17))  # day 8, counting the 10th
    view = my_contract.my_contract(fresh.id, actor=c["admin"])
    assert view["initial_cancellation"] == "2026-03-17"
    clock.day(date(2026, 3, 18))
    assert my_contract.my_contract(fresh.id, actor=c["admin"])["initial_cancellation"] == ""
    assert view["early_termination"].startswith("解約金（契約解除料）はかかりません。")


def test_the_contract_page_lists_other_plans_and_options_with_their_prices(company):
    c = company

    view = my_contract.my_contract(c["contract"].id, actor=c["admin"])

    assert (view["plan"]["price"], view["plan"]["cap"], view["can_change"]) == ("￥3,630（税込）", "3GB", True)
    assert [p["id"] for p in view["plan_choices"]] == [c["new"]] and view["plan_choices"][0]["price"] == "￥6,050（税込）"
    assert [(o["id"], o["price"]) for o in view["option_choices"]] == [(c["option"], "￥605（税込）")]


# ---- add-on data -------------------------------------------------------------------------------------

def test_add_on_data_submitted_twice_is_one_charge_one_carrier_call_and_one_audit_entry(company):
    c = company
    line = c["lines"][1]
    used(line, date(2026, 3, 9), 3500)  # over the 3,072 MB cap
    throttled(line)

    offer = my_contract.addon_offer(line, actor=c["requester"])
    first = addons.buy_addon_data(line, actor=c["requester"], code="addon_data_1gb", request_key=KEY)
    again = addons.buy_addon_data(line, actor=c["requester"], code="addon_data_1gb", request_key=KEY)

    # 500 + 10% = 550 shown; 3,072 + 1,024 = 4,096 MB > 3,500 MB used: the speed limit is lifted
    assert [(a["code"], a["price"], a["cap_after_mb"], a["lifts_throttle"]) for a in offer["addons"]] == [
        ("addon_data_1gb", "￥550（税込）", 4096, True)]
    assert again.id == first.id
    assert _count(PendingCharge) == 1
    assert (first.code, first.unit_price, first.tax_rate_percent, first.occurred_on, first.line_id) == (
        "addon_data_1gb", 500, 10, date(2026, 3, 10), line)
    with read_session() as s:
        calls = s.exec(select(ExternalOperation.operation).where(ExternalOperation.line_id == line,
                                                                  ExternalOperation.status == "pending")).all()
    assert calls == ["throttle_off"]
    assert _count(AuditEntry, AuditEntry.action == "line.buy_addon_data") == 1
    assert next(r for r in home.my_lines(actor=c["requester"]) if r["id"] == line)["cap_mb"] == 4096


def test_add_on_data_keeps_the_line_unthrottled_for_the_rest_of_the_month(company, world):
    c = company
    line = c["lines"][1]
    used(line, date(2026, 3, 9), 3500)
    throttled(line)
    addons.buy_addon_data(line, actor=c["admin"], code="addon_data_1gb", request_key=KEY)
    world.carrier_done(line)  # the carrier lifted it

    assert usage_caps.enforce() == {"throttle_on": 0, "throttle_off": 0}  # 3,500 MB is under 4,096 MB now
    used(line, date(2026, 3, 10), 700)  # 4,200 MB: over the new cap
    assert usage_caps.enforce() == {"throttle_on": 1, "throttle_off": 0}


def test_add_on_data_not_enough_to_get_under_the_cap_leaves_the_speed_limit(company):
    c = company
    line = c["lines"][1]
    used(line, date(2026, 3, 9), 5000)  # 5,000 MB ≥ 4,096 MB even with 1 GB more
    throttled(line)

    assert my_contract.addon_offer(line, actor=c["admin"])["addons"][0]["lifts_throttle"] is False
    addons.buy_addon_data(line, actor=c["admin"], code="addon_data_1gb", request_key=KEY)

    assert _count(ExternalOperation, ExternalOperation.operation == "throttle_off") == 0


def test_an_add_on_not_in_the_rate_table_is_refused(company):
    c = company
    with pytest.raises(ValidationFailed) as refused:
        addons.buy_addon_data(c["lines"][1], actor=c["admin"], code="addon_data_99gb", request_key=KEY)
    assert refused.value.fields == {"code": "選んだ追加データは販売していません。"}
    assert _count(PendingCharge) == 0


def test_the_next_billing_run_bills_the_add_on_once_as_an_item(company, world, clock):
    c = company
    line = c["lines"][1]
    addons.buy_addon_data(line, actor=c["admin"], code="addon_data_1gb", request_key=KEY)
    clock.day(date(2026, 4, 6))

    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    billing_runs.draft_run(run.id)

    with read_session() as s:
        items = s.exec(select(InvoiceItem).where(InvoiceItem.kind == "charge")).all()
        charge = s.exec(select(PendingCharge)).one()
        number = format_msisdn(s.get(Line, line).msisdn)
    assert [(i.description, i.quantity, i.unit_price, i.amount, i.tax_rate_percent, i.line_id) for i in items] == [
        (f"追加データ 1GB（{number}）", 1, 500, 500, 10, line)]
    assert charge.invoice_item_id == items[0].id  # billed once: the April run will not see it again
