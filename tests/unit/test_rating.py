"""Golden bills from rating (料金計算): one contract's month, line by line, with the figures worked out by hand
in each test (日割り = monthly fee × days ÷ days in the month, rounded down)."""

from __future__ import annotations

from datetime import date

import pytest

from services.billing import rating
from services.billing.invoices import amounts_by_rate, invoice_totals, tax_by_rate
from services.billing.rating import Charge, ContractFacts, Instalment, LineInService, Span
from services.ledger import catalogue
from services.ledger.catalogue import RELAY_SERVICE, UNIVERSAL_SERVICE, PriceBook, Terms
from tests.unit.frozen_time import freeze

PLAN, OTHER_PLAN, OPTION, OTHER_OPTION = 1, 2, 11, 12
LEVY_NAMES = {UNIVERSAL_SERVICE: "ユニバーサルサービス料", RELAY_SERVICE: "電話リレーサービス料"}

def price_book(plans=None, options=None, charges=None) -> PriceBook:
    """A PriceBook holding the given versions ({id: [(effective_from, Terms)]}), answering through the real
    PriceBook look-ups."""
    def index(versions):
        return {key: ([d for d, _ in sorted(rows, key=lambda r: r[0])], [t for _, t in sorted(rows, key=lambda r: r[0])])
                for key, rows in (versions or {}).items()}

    book = PriceBook.__new__(PriceBook)
    book._plans, book._options, book._charges = index(plans), index(options), index(charges)
    book.charge_names = dict(LEVY_NAMES)
    return book


BOOK = price_book(
    plans={PLAN: [(date(2020, 1, 1), Terms(3300, 10))], OTHER_PLAN: [(date(2020, 1, 1), Terms(5500, 10))]},
    options={OPTION: [(date(2020, 1, 1), Terms(550, 10))], OTHER_OPTION: [(date(2020, 1, 1), Terms(330, 10))]},
    charges={UNIVERSAL_SERVICE: [(date(2020, 1, 1), Terms(2, 10))], RELAY_SERVICE: [(date(2020, 1, 1), Terms(1, 10))]},
)


LINE = 9


def facts(*, start=date(2025, 1, 1), end=None, plans=None, options=(), lines=None, charges=(), instalments=()):
    """One contract; unless told otherwise it has one number (id 9) in service for all of the contract's days."""
    return ContractFacts(contract_id=1, customer_id=1, start=start, end=end,
                         plans=list(plans if plans is not None else [Span(PLAN, "ベーシック", start, end)]),
                         options=list(options),
                         lines=list(lines if lines is not None else [LineInService(LINE, start, end)]),
                         charges=list(charges), instalments=list(instalments))


def summary(items, kinds=("plan", "option")):
    return [(i.kind, i.description, i.quantity, i.unit_price, i.amount, i.service_from, i.service_to, i.note)
            for i in items if i.kind in kinds]


# ---- 日割り at the start, at a plan change, at the end ---------------------------------------------

def test_a_whole_month_costs_the_monthly_fee_without_a_note():
    items = rating.rate_contract(facts(), "2026-04", BOOK)

    assert summary(items) == [("plan", "ベーシック 月額基本料", 1, 3300, 3300, date(2026, 4, 1), date(2026, 4, 30), None)]


def test_a_contract_from_the_16th_of_a_30_day_month_pays_15_days():
    start = date(2026, 4, 16)

    items = rating.rate_contract(facts(start=start), "2026-04", BOOK)

    # 3,300 × 15 ÷ 30 = 1,650
    assert summary(items) == [("plan", "ベーシック 月額基本料", 1, 1650, 1650, date(2026, 4, 16), date(2026, 4, 30),
                               "日割り 15日/30日（月額3,300円）")]


def test_a_plan_change_on_the_10th_bills_each_day_on_one_plan():
    plans = [Span(PLAN, "ベーシック", date(2025, 1, 1), date(2026, 4, 9)),
             Span(OTHER_PLAN, "たっぷり", date(2026, 4, 10), None)]

    items = rating.rate_contract(facts(plans=plans), "2026-04", BOOK)

    # 3,300 × 9 ÷ 30 = 990 (1st–9th) and 5,500 × 21 ÷ 30 = 3,850 (10th–30th)
    assert summary(items) == [
        ("plan", "ベーシック 月額基本料", 1, 990, 990, date(2026, 4, 1), date(2026, 4, 9), "日割り 9日/30日（月額3,300円）"),
        ("plan", "たっぷり 月額基本料", 1, 3850, 3850, date(2026, 4, 10), date(2026, 4, 30),
         "日割り 21日/30日（月額5,500円）"),
    ]
    assert sum(i.amount for i in items if i.kind == "plan") == 4840


def test_a_termination_on_the_10th_of_a_31_day_month_pays_10_days():
    end = date(2026, 5, 10)

    items = rating.rate_contract(facts(end=end), "2026-05", BOOK)

    # 3,300 × 10 ÷ 31 = 1,064.5… → 1,064
    assert summary(items) == [("plan", "ベーシック 月額基本料", 1, 1064, 1064, date(2026, 5, 1), date(2026, 5, 10),
                               "日割り 10日/31日（月額3,300円）")]


def test_options_are_prorated_over_their_own_spans():
    options = [Span(OPTION, "かけ放題", date(2026, 4, 11), date(2026, 4, 20)),
               Span(OTHER_OPTION, "端末補償", date(2025, 6, 1), None)]

    items = rating.rate_contract(facts(options=options), "2026-04", BOOK)

    # 550 × 10 ÷ 30 = 183.3… → 183; 端末補償 the whole month 330
    assert summary(items) == [
        ("plan", "ベーシック 月額基本料", 1, 3300, 3300, date(2026, 4, 1), date(2026, 4, 30), None),
        ("option", "オプション かけ放題", 1, 183, 183, date(2026, 4, 11), date(2026, 4, 20),
         "日割り 10日/30日（月額550円）"),
        ("option", "オプション 端末補償", 1, 330, 330, date(2026, 4, 1), date(2026, 4, 30), None),
    ]


def test_a_contract_that_starts_after_the_month_gives_no_items():
    start = date(2026, 5, 3)

    items = rating.rate_contract(facts(start=start, lines=[LineInService(7, start, None)]), "2026-04", BOOK)

    assert items == []


def test_a_contract_that_ended_before_the_month_gives_no_items():
    items = rating.rate_contract(facts(end=date(2026, 3, 31), lines=[LineInService(7, date(2025, 1, 1),
                                                                                    date(2026, 3, 31))]),
                                 "2026-04", BOOK)

    assert items == []


# ---- per number ------------------------------------------------------------------------------------

def test_fees_are_per_number_and_numbers_with_the_same_days_share_one_line():
    lines = [LineInService(1, date(2025, 1, 1), None),
             LineInService(2, date(2025, 6, 1), None),
             LineInService(3, date(2026, 4, 21), None),            # opened on the 21st: 10 days
             LineInService(4, date(2025, 1, 1), date(2026, 4, 5))]  # cancelled on the 5th: 5 days
    options = [Span(OPTION, "かけ放題", date(2025, 1, 1), None)]

    items = rating.rate_contract(facts(lines=lines, options=options), "2026-04", BOOK)

    # plan: 2 numbers × 3,300 = 6,600; 3,300 × 5 ÷ 30 = 550; 3,300 × 10 ÷ 30 = 1,100
    # option: 2 × 550 = 1,100; 550 × 5 ÷ 30 = 91.6… → 91; 550 × 10 ÷ 30 = 183.3… → 183
    assert summary(items) == [
        ("plan", "ベーシック 月額基本料", 1, 550, 550, date(2026, 4, 1), date(2026, 4, 5),
         "日割り 5日/30日（月額3,300円）"),
        ("plan", "ベーシック 月額基本料", 2, 3300, 6600, date(2026, 4, 1), date(2026, 4, 30), "2回線"),
        ("plan", "ベーシック 月額基本料", 1, 1100, 1100, date(2026, 4, 21), date(2026, 4, 30),
         "日割り 10日/30日（月額3,300円）"),
        ("option", "オプション かけ放題", 1, 91, 91, date(2026, 4, 1), date(2026, 4, 5), "日割り 5日/30日（月額550円）"),
        ("option", "オプション かけ放題", 2, 550, 1100, date(2026, 4, 1), date(2026, 4, 30), "2回線"),
        ("option", "オプション かけ放題", 1, 183, 183, date(2026, 4, 21), date(2026, 4, 30),
         "日割り 10日/30日（月額550円）"),
    ]
    # levies: all four numbers were in service on a day of April
    assert [(i.quantity, i.amount) for i in items if i.kind == "levy"] == [(4, 8), (4, 4)]
    assert [i.line_id for i in items if i.kind == "plan"] == [4, None, 3]


# ---- the catalogue's price change ------------------------------------------------------------------

def test_a_price_change_on_the_15th_splits_the_month_at_the_two_prices(world, monkeypatch):
    clock = freeze(monkeypatch, date(2026, 3, 1))
    plan_id = world.priced_plan(3300)
    catalogue.add_plan_version(plan_id, actor=world.admin, reason="料金改定", values={
        "monthly_fee": 3630, "data_cap_mb": 3072, "effective_from": "2026-03-15"})
    clock.day(date(2026, 4, 2))

    items = rating.rate_contract(facts(start=date(2026, 3, 1), plans=[Span(plan_id, "改定プラン", date(2026, 3, 1), None)]),
                                 "2026-03", catalogue.price_book())

    # 3,300 × 14 ÷ 31 = 1,490.3… → 1,490 (1st–14th); 3,630 × 17 ÷ 31 = 1,990.6… → 1,990 (15th–31st)
    assert summary(items) == [
        ("plan", "改定プラン 月額基本料", 1, 1490, 1490, date(2026, 3, 1), date(2026, 3, 14),
         "日割り 14日/31日（月額3,300円）"),
        ("plan", "改定プラン 月額基本料", 1, 1990, 1990, date(2026, 3, 15), date(2026, 3, 31),
         "日割り 17日/31日（月額3,630円）"),
    ]
    # April is entirely at the new price
    april = rating.rate_contract(facts(start=date(2026, 3, 1), plans=[Span(plan_id, "改定プラン", date(2026, 3, 1), None)]),
                                 "2026-04", catalogue.price_book())
    assert [(i.amount, i.note) for i in april] == [(3630, None)]


# ---- levies, instalments, charges ------------------------------------------------------------------

def test_levies_are_per_number_in_service_on_any_day_of_the_month():
    lines = [LineInService(1, date(2025, 1, 1), None),            # all month
             LineInService(2, date(2026, 4, 30), None),           # from the last day: counted, not prorated
             LineInService(3, date(2025, 1, 1), date(2026, 3, 31)),  # ended before the month
             LineInService(4, date(2026, 5, 1), None)]            # starts after the month

    items = [i for i in rating.rate_contract(facts(lines=lines), "2026-04", BOOK) if i.kind == "levy"]

    # 2 numbers × 2 yen and 2 numbers × 1 yen
    assert [(i.description, i.quantity, i.unit_price, i.amount, i.note) for i in items] == [
        ("ユニバーサルサービス料", 2, 2, 4, "2番号 × 2円"),
        ("電話リレーサービス料", 2, 1, 2, "2番号 × 1円"),
    ]


def test_no_fee_and_no_levy_without_a_number_in_service():
    items = rating.rate_contract(facts(lines=[LineInService(1, date(2025, 1, 1), date(2026, 3, 20))]), "2026-04", BOOK)

    assert items == []


DEVICE = Instalment(instalment_id=5, description="端末代金 テスト端末", total=39800, months=24, first_period="2026-04",
                    tax_rate_percent=10, line_id=None)


def test_an_instalment_first_month_carries_the_remainder_then_equal_months():
    # 39,800 ÷ 24 = 1,658 remainder 8: the first bill 1,666, then 1,658
    april = [i for i in rating.rate_contract(facts(instalments=[DEVICE]), "2026-04", BOOK) if i.kind == "instalment"]
    may = [i for i in rating.rate_contract(facts(instalments=[DEVICE]), "2026-05", BOOK) if i.kind == "instalment"]
    before = [i for i in rating.rate_contract(facts(instalments=[DEVICE]), "2026-03", BOOK) if i.kind == "instalment"]
    last = [i for i in rating.rate_contract(facts(instalments=[DEVICE]), "2028-03", BOOK) if i.kind == "instalment"]
    after = [i for i in rating.rate_contract(facts(instalments=[DEVICE]), "2028-04", BOOK) if i.kind == "instalment"]

    assert [(i.description, i.amount) for i in april] == [("端末代金 テスト端末（分割 1/24回目）", 1666)]
    assert [(i.description, i.amount) for i in may] == [("端末代金 テスト端末（分割 2/24回目）", 1658)]
    assert [(i.description, i.amount) for i in last] == [("端末代金 テスト端末（分割 24/24回目）", 1658)]
    assert before == [] and after == []


def test_an_early_end_bills_what_is_left_of_the_instalments_at_once_on_the_final_bill():
    end = date(2026, 9, 15)

    items = [i for i in rating.rate_contract(facts(end=end, instalments=[DEVICE]), "2026-09", BOOK)
             if i.kind == "instalment"]

    # paid April–August: 1,666 + 4 × 1,658 = 8,298; left 39,800 − 8,298 = 31,502 (months 6 to 24)
    assert [(i.description, i.amount, i.note) for i in items] == [
        ("端末代金 テスト端末（分割 残額一括）", 31502, "契約終了のため 6〜24回目をまとめて請求")]


def test_after_the_final_bill_no_instalment_is_billed_again():
    """The contract ended in September and its final bill took the rest: October bills no instalment."""
    end = date(2026, 9, 15)

    october = rating.rate_contract(facts(end=end, instalments=[DEVICE]), "2026-10", BOOK)

    assert october == []


def test_pending_charges_and_a_discount_up_to_the_months_end_are_billed_once_in_date_order():
    charges = [Charge(21, "sim_issue", "SIM発行手数料", 1, 3300, 10, date(2026, 4, 5), 9),
               Charge(22, "campaign", "のりかえキャンペーン割引", 1, -500, 10, date(2026, 4, 1), None),
               Charge(23, "addon_data_1gb", "追加データ 1GB", 2, 550, 10, date(2026, 5, 2), 9)]  # next month's

    items = rating.rate_contract(facts(charges=charges), "2026-04", BOOK)

    assert [(i.kind, i.description, i.quantity, i.unit_price, i.amount, i.pending_charge_id, i.line_id)
            for i in items] == [
        ("plan", "ベーシック 月額基本料", 1, 3300, 3300, None, 9),
        ("levy", "ユニバーサルサービス料", 1, 2, 2, None, None),
        ("levy", "電話リレーサービス料", 1, 1, 1, None, None),
        ("discount", "のりかえキャンペーン割引", 1, -500, -500, 22, None),
        ("charge", "SIM発行手数料", 1, 3300, 3300, 21, 9),
    ]
    # 3,300 + 2 + 1 − 500 + 3,300 = 6,103; tax 610.3 → 610; total 6,713
    assert invoice_totals([{"quantity": i.quantity, "unit_price": i.unit_price, "tax_rate_percent": i.tax_rate_percent}
                           for i in items]) == (6103, 610, 6713)


# ---- tax: once per rate -----------------------------------------------------------------------------

def test_eight_and_ten_percent_in_one_bill_are_taxed_once_per_rate():
    book = price_book(plans={PLAN: [(date(2020, 1, 1), Terms(1009, 10))]},
                      options={OPTION: [(date(2020, 1, 1), Terms(1009, 10))]})
    charges = [Charge(31, "drink", "ドリンク（軽減税率対象）", 2, 1012, 8, date(2026, 4, 3), None)]

    items = rating.rate_contract(facts(options=[Span(OPTION, "かけ放題", date(2025, 1, 1), None)], charges=charges,
                                       lines=[LineInService(LINE, date(2025, 1, 1), None)]), "2026-04", book)
    items = [i for i in items if i.kind != "levy"]  # this book has no levies; kept explicit
    rows = [{"quantity": i.quantity, "unit_price": i.unit_price, "tax_rate_percent": i.tax_rate_percent}
            for i in items]

    # 10%: 1,009 + 1,009 = 2,018 → 201.8 → 201 (per line it would be 100 + 100 = 200)
    # 8%: 2 × 1,012 = 2,024 → 161.92 → 161 (per unit it would be 80 + 80 = 160)
    assert amounts_by_rate(rows) == {10: 2018, 8: 2024}
    assert tax_by_rate(amounts_by_rate(rows)) == {10: 201, 8: 161}
    assert invoice_totals(rows) == (4042, 362, 4404)


# ---- 初期契約解除 -----------------------------------------------------------------------------------

def test_an_initial_cancellation_within_8_days_bills_only_the_days_used_and_says_so():
    start, end = date(2026, 4, 10), date(2026, 4, 17)  # the 8th day, counting the first
    lines = [LineInService(1, start, end)]

    items = rating.rate_contract(facts(start=start, end=end, lines=lines), "2026-04", BOOK)

    # 3,300 × 8 ÷ 30 = 880; the number was in service: 2 + 1 yen of levies
    assert summary(items, kinds=("plan", "levy")) == [
        ("plan", "ベーシック 月額基本料", 1, 880, 880, start, end, "日割り 8日/30日（月額3,300円）・初期契約解除（ご利用日数分のみ）"),
        ("levy", "ユニバーサルサービス料", 1, 2, 2, None, None, "1番号 × 2円"),
        ("levy", "電話リレーサービス料", 1, 1, 1, None, None, "1番号 × 1円"),
    ]


@pytest.mark.parametrize(("end", "initial"), [(date(2026, 4, 17), True), (date(2026, 4, 18), False)])
def test_the_ninth_day_is_no_longer_an_initial_cancellation(end, initial):
    start = date(2026, 4, 10)

    [item] = [i for i in rating.rate_contract(facts(start=start, end=end), "2026-04", BOOK) if i.kind == "plan"]

    assert rating.is_initial_cancellation(start, end) is initial
    assert item.note.endswith("初期契約解除（ご利用日数分のみ）") is initial
