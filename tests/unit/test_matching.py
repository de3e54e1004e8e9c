"""Matching money to bills (消込の候補) and the receivables screens: payer names folded the way banks write them,
suggestions ranked with their reasons, unmatched payments with suggestions, and the aging table and its CSV."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from sqlmodel import select

from services.billing import payments
from services.billing.matching import Candidate, invoice_numbers_in, payer_key, suggest
from services.models import Invoice
from services.platform.db import read_session, write_session
from services.read.staff import receivables
from tests.unit.frozen_time import freeze


@pytest.mark.parametrize(("bank", "ours"), [
    ("ｶ)ﾃﾞﾓﾂｳｼﾝ", "デモツウシン（カブシキガイシャ）"),      # company form before the name, written out after it
    ("ｶ)ﾃﾞﾓﾂｳｼﾝ", "カブシキガイシャ デモツウシン"),
    ("ﾃﾞﾓﾂｳｼﾝ(ｶ", "カブシキガイシャデモツウシン"),          # after the name, written out before it
    ("(ｶ)ﾃﾞﾓﾂｳｼﾝ", "デモツウシン"),
    ("ﾕ)ｻｸﾗｼﾖｳｼﾞ", "サクラショウジ（ユウゲンガイシャ）"),
    ("ﾄﾞ)ｱｵｿﾞﾗ", "ゴウドウガイシャ アオゾラ"),
    ("ｷﾂﾄﾞ", "キッド"),                                    # small kana written large
    ("ｼﾖｳｼﾞ", "ショウジ"),
    ("ｾﾝﾀ-", "センター"),                                  # '-' for the long vowel
    ("ﾔﾏﾀﾞ ﾀﾛｳ", "やまだ　たろう"),                         # hiragana フリガナ, a full-width space
    ("ﾔﾏﾀﾞﾀﾛｳ", "ヤマダ タロウ"),
])
def test_a_name_as_the_bank_writes_it_folds_to_the_same_key_as_the_furigana(bank, ours):
    assert payer_key(bank) == payer_key(ours) != ""


@pytest.mark.parametrize(("one", "other"), [("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ ハナコ"), ("ｶ)ﾃﾞﾓﾂｳｼﾝ", "デモショウジ")])
def test_different_names_keep_different_keys(one, other):
    assert payer_key(one) != payer_key(other)


def test_invoice_numbers_are_found_however_the_bank_wrote_them():
    assert invoice_numbers_in("INV-202603-000012 ﾔﾏﾀﾞ") == {"INV-202603-000012"}
    assert invoice_numbers_in("ｲﾝﾎﾞｲｽ INV202603000012") == {"INV-202603-000012"}
    assert invoice_numbers_in("ＩＮＶ－２０２６０３－１２") == {"INV-202603-000012"}
    assert invoice_numbers_in("ﾔﾏﾀﾞ ﾀﾛｳ") == set()


def test_suggestions_rank_an_invoice_number_first_then_amount_and_name():
    candidates = [
        Candidate(1, "INV-202603-000001", 10, "山田 太郎", "ヤマダ タロウ", 3300),    # the name only
        Candidate(2, "INV-202603-000002", 10, "山田 太郎", "ヤマダ タロウ", 5500),    # name and amount
        Candidate(3, "INV-202603-000003", 20, "鈴木 一郎", "スズキ イチロウ", 9900),  # the number in the reference
        Candidate(4, "INV-202603-000004", 30, "佐藤 花子", "サトウ ハナコ", 1100),    # nothing in common
    ]

    ranked = suggest("ﾔﾏﾀﾞ ﾀﾛｳ", "INV202603000003", 5500, candidates)

    assert [(s.candidate.invoice_id, s.score, s.reasons) for s in ranked] == [
        (3, 100, ("請求書番号が一致",)),
        (2, 90, ("金額が未収額と一致", "振込名義がフリガナと一致")),
        (1, 50, ("振込名義がフリガナと一致",)),
    ]


def test_a_name_that_contains_the_furigana_is_a_weaker_reason():
    [only] = suggest("ﾔﾏﾀﾞ ﾀﾛｳ ｼﾞﾕﾆｱ", None, 1, [Candidate(1, "INV-202603-000001", 10, "山田 太郎", "ヤマダ タロウ", 3300)])

    assert (only.score, only.reasons) == (25, ("振込名義がフリガナの一部と一致",))


# ---- the screens ----------------------------------------------------------------------------------------

@pytest.fixture()
def clock(monkeypatch):
    return freeze(monkeypatch, date(2026, 4, 6))


def test_an_unmatched_payment_is_listed_with_what_is_left_and_its_suggestions(world, clock):
    yamada = world.customer("山田 太郎", "ヤマダ タロウ")
    owed = world.invoice(world.contract(yamada), period="2026-03", unit_price=10000)       # 11,000
    world.invoice(world.contract(world.customer("鈴木 一郎", "スズキ イチロウ")), period="2026-03", unit_price=5000)
    money = payments.record_payment(actor=world.admin, amount=11000, method="bank_transfer", payer_name="ﾔﾏﾀﾞ ﾀﾛｳ",
                                    reference="ZENGIN-0001")

    rows = receivables.unmatched_payments(actor=world.admin)

    [row] = rows
    assert (row["id"], row["payer_name"], row["amount"], row["left"], row["left_yen"], row["customer"]) == (
        money.id, "ﾔﾏﾀﾞ ﾀﾛｳ", "￥11,000", "￥11,000", 11000, "")
    assert [(s["invoice_no"], s["customer_name"], s["outstanding"], s["amount"], s["reasons"], s["score"])
            for s in row["suggestions"]] == [
        (owed.invoice_no, "山田 太郎", "￥11,000", 11000, "金額が未収額と一致・振込名義がフリガナと一致", 90)]


def test_one_transfer_for_two_invoices_stays_listed_with_what_is_left_until_fully_allocated(world, clock):
    yamada = world.customer("山田 太郎", "ヤマダ タロウ")
    march = world.invoice(world.contract(yamada), period="2026-03", unit_price=10000)    # 11,000
    february = world.invoice(world.contract(yamada), period="2026-02", unit_price=4000)  # 4,400
    money = payments.record_payment(actor=world.admin, amount=15400, method="bank_transfer", payer_name="ﾔﾏﾀﾞ ﾀﾛｳ")
    payments.allocate_payment(money.id, actor=world.admin, invoice_id=march.id, amount=11000)

    [row] = receivables.unmatched_payments(actor=world.admin)

    # 15,400 − 11,000 = 4,400 left, exactly what February still owes
    assert (row["id"], row["left"], row["customer"]) == (money.id, "￥4,400", "山田 太郎")
    assert [(s["invoice_no"], s["amount"], s["reasons"]) for s in row["suggestions"]] == [
        (february.invoice_no, 4400, "金額が未収額と一致・振込名義がフリガナと一致")]
    payments.allocate_payment(money.id, actor=world.admin, invoice_id=february.id, amount=4400)
    assert receivables.unmatched_payments(actor=world.admin) == []


def _due(invoice_id: int, day: date) -> None:
    with write_session() as s:
        invoice = s.get(Invoice, invoice_id)
        invoice.due_date = day
        s.add(invoice)


def test_aging_puts_what_is_owed_in_buckets_by_days_past_due(world, clock):
    yamada = world.customer("山田 太郎", "ヤマダ タロウ")
    suzuki = world.customer("鈴木 一郎", "スズキ イチロウ")
    today = date(2026, 6, 30)
    cases = [  # (customer, unit price → total with tax, due date): days late on 2026-06-30
        (yamada, 1000, date(2026, 6, 30)),   # 1,100, due today: 期日前
        (yamada, 2000, date(2026, 6, 29)),   # 2,200, 1 day: 1〜30日
        (yamada, 3000, date(2026, 5, 31)),   # 3,300, 30 days: 1〜30日
        (yamada, 4000, date(2026, 5, 30)),   # 4,400, 31 days: 31〜60日
        (suzuki, 5000, date(2026, 4, 1)),    # 5,500, 90 days: 61〜90日
        (suzuki, 6000, date(2026, 3, 31)),   # 6,600, 91 days: 90日超
    ]
    for n, (customer_id, unit_price, due) in enumerate(cases, 1):
        invoice = world.invoice(world.contract(customer_id), period=f"2025-{n:02d}", unit_price=unit_price)
        _due(invoice.id, due)
    part = world.invoice(world.contract(suzuki), period="2025-07", unit_price=10000)  # 11,000, 8,000 paid: 3,000
    _due(part.id, date(2026, 6, 1))                                                  # 29 days: 1〜30日
    money = world.payment(8000, customer_id=suzuki)
    payments.allocate_payment(money.id, actor=world.admin, invoice_id=part.id, amount=8000)
    paid = world.invoice(world.contract(yamada), period="2025-08", unit_price=9000)  # paid in full: not owed
    money = world.payment(9900, customer_id=yamada)
    payments.allocate_payment(money.id, actor=world.admin, invoice_id=paid.id, amount=9900)

    table = receivables.aging(actor=world.admin, today=today)

    buckets = ("current", "d1_30", "d31_60", "d61_90", "d90_plus")
    # suzuki: 3,000 + 5,500 + 6,600 = 15,100; yamada: 1,100 + 2,200 + 3,300 + 4,400 = 11,000
    assert [(r["customer_name"], r["total"], *(r[b] for b in buckets)) for r in table["rows"]] == [
        ("鈴木 一郎", 15100, 0, 3000, 0, 5500, 6600),
        ("山田 太郎", 11000, 1100, 5500, 4400, 0, 0),
    ]
    assert [(b["label"], b["total"]) for b in table["buckets"]] == [
        ("期日前", "￥1,100"), ("1〜30日", "￥8,500"), ("31〜60日", "￥4,400"), ("61〜90日", "￥5,500"),
        ("90日超", "￥6,600")]
    assert (table["as_of"], table["total"]) == ("2026-06-30", "￥26,100")

    name, content = receivables.aging_csv(actor=world.admin, today=today)

    assert name == "aging-2026-06-30.csv"
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows == [
        ["顧客番号", "顧客名", "期日前", "1〜30日", "31〜60日", "61〜90日", "90日超", "合計"],
        [f"K-{suzuki:06d}", "鈴木 一郎", "0", "3000", "0", "5500", "6600", "15100"],
        [f"K-{yamada:06d}", "山田 太郎", "1100", "5500", "4400", "0", "0", "11000"],
    ]


def test_only_what_issued_invoices_still_owe_is_a_receivable(world, clock):
    customer_id = world.customer("山田 太郎", "ヤマダ タロウ")
    world.invoice(world.contract(customer_id), issued=False, unit_price=5000)             # a draft
    wrong = world.invoice(world.contract(customer_id), period="2026-03", unit_price=10000)  # 11,000, corrected
    world.approve("invoice.correct", {"invoice_id": wrong.id, "items": [
        {"description": "月額基本料", "quantity": 1, "unit_price": 3000}]}, reason="金額誤り")

    table = receivables.aging(actor=world.admin, today=date(2026, 4, 6))

    # the original is settled by its credit note, the credit note is no bill: only the reissue's 3,300 is owed
    assert [(r["customer_name"], r["total"], r["current"]) for r in table["rows"]] == [("山田 太郎", 3300, 3300)]
    with read_session() as s:
        kinds = sorted((i.kind, i.status) for i in s.exec(select(Invoice)).all())
    assert kinds == [("credit_note", "issued"), ("invoice", "draft"), ("invoice", "issued"), ("invoice", "issued")]
