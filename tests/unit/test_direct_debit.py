"""口座振替 (direct debit) end to end without a bank: mandates and their messages, the withdrawal-request file
(withdrawal day moved to the next bank business day, only what is owed by customers with an active mandate),
sending it through the outbox once, and reading the bank's result back for every 振替結果コード."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlmodel import select

from services.billing import direct_debit, payments
from services.billing.allocation import allocated_amounts
from services.integrations import direct_debit_file
from services.models import (
    AuditEntry,
    DirectDebitBatch,
    DirectDebitItem,
    DirectDebitMandate,
    DunningCase,
    ExternalOperation,
    Payment,
)
from services.platform import crypto
from services.platform.db import read_session
from services.platform.errors import Conflict, ValidationFailed
from services.workflow import outbox
from tests.unit.frozen_time import freeze

SATURDAY_IN_GOLDEN_WEEK = date(2026, 5, 2)  # Sat; 5/3 Sun, 5/4–5/5 holidays, 5/6 振替休日
NEXT_BANK_DAY = date(2026, 5, 7)


@pytest.fixture()
def clock(monkeypatch):
    return freeze(monkeypatch, date(2026, 4, 20))


def _mandate(world, customer_id: int, number: str = "1234567", holder: str = "ヤマダ タロウ") -> DirectDebitMandate:
    return direct_debit.register_mandate(customer_id, actor=world.admin, bank_code="0005", branch_code="001",
                                         account_type=1, account_number=number, holder_name=holder)


def _customer_with_mandate(world, number: str = "1234567") -> tuple[int, DirectDebitMandate]:
    customer_id = world.customer()
    return customer_id, _mandate(world, customer_id, number)


def _issued(world, customer_id: int, unit_price: int, period: str = "2026-03"):
    return world.invoice(world.contract(customer_id), period=period, unit_price=unit_price)


def _sent(world, batch_id: int, ref: str = "dd_test_1") -> None:
    direct_debit.submit_batch(batch_id, actor=world.admin)
    with read_session() as s:
        op = s.exec(select(ExternalOperation).where(ExternalOperation.provider == "bank")
                    .order_by(ExternalOperation.id.desc())).first()
    outbox.settle(op.id, "succeeded", detail="銀行が受付", evidence={"id": ref})


def _result(batch_id: int, codes: dict[str, int]) -> bytes:
    """The bank's result for a batch: each line's 振替結果コード by customer number (0 when not given)."""
    with read_session() as s:
        content = s.get(DirectDebitBatch, batch_id).request_file
    header, items = direct_debit_file.read_request(content)
    return direct_debit_file.write_result(header, [dataclasses.replace(i, result_code=codes.get(i.customer_number, 0))
                                                   for i in items])


def _batch(batch_id: int) -> DirectDebitBatch:
    with read_session() as s:
        return s.get(DirectDebitBatch, batch_id)


# ---- mandates -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "values", "message"), [
    ("bank_code", {"bank_code": "123"}, "金融機関コードは4桁の数字で入力してください。"),
    ("branch_code", {"branch_code": "12a"}, "支店コードは3桁の数字で入力してください。"),
    ("account_number", {"account_number": "12345678"}, "口座番号は7桁の数字で入力してください。"),
    ("account_number", {"account_number": "12-3456"}, "口座番号は7桁の数字で入力してください。"),
    ("holder_name", {"holder_name": "山田太郎"}, "口座名義はカタカナ（銀行に届け出た表記）で入力してください。"),
    ("holder_name", {"holder_name": "  "}, "口座名義を30文字以内のカタカナで入力してください。"),
    ("account_type", {"account_type": 5}, "預金種目（普通・当座・その他）を選んでください。"),
])
def test_a_mandate_is_refused_with_a_message_per_field(world, clock, field, values, message):
    customer_id = world.customer()
    given = {"bank_code": "0005", "branch_code": "001", "account_type": 1, "account_number": "1234567",
             "holder_name": "ヤマダ タロウ", **values}

    with pytest.raises(ValidationFailed) as refused:
        direct_debit.register_mandate(customer_id, actor=world.admin, **given)

    assert refused.value.fields == {field: message}
    with read_session() as s:
        assert s.exec(select(DirectDebitMandate)).all() == []


def test_a_short_account_number_is_zero_filled_and_the_holder_written_in_half_width_kana(world, clock):
    customer_id = world.customer()

    mandate = direct_debit.register_mandate(customer_id, actor=world.admin, bank_code="０００５", branch_code="001",
                                            account_type="1", account_number="12345", holder_name="やまだ たろう")

    assert (mandate.bank_code, mandate.account_number_last4, mandate.holder_kana) == ("0005", "2345", "ﾔﾏﾀﾞ ﾀﾛｳ")
    assert crypto.decrypt(mandate.account_number_enc) == "0012345"
    assert mandate.customer_number == f"{mandate.id:020d}"
    with read_session() as s:
        [entry] = s.exec(select(AuditEntry).where(AuditEntry.action == "debit_mandate.register")).all()
    assert "0012345" not in (entry.after_json or "")  # the account number is not in the audit trail


def test_a_new_mandate_replaces_the_active_one(world, clock):
    customer_id, first = _customer_with_mandate(world)

    second = _mandate(world, customer_id, "7654321")

    with read_session() as s:
        states = {m.id: m.status for m in s.exec(select(DirectDebitMandate)).all()}
    assert states == {first.id: "revoked", second.id: "active"}


# ---- the request file -----------------------------------------------------------------------------------

def test_a_batch_takes_what_is_owed_by_customers_with_an_active_mandate_on_the_next_bank_day(world, clock):
    # waiting in an earlier file: not taken again
    waiting_customer, waiting_mandate = _customer_with_mandate(world, "1000001")
    waiting = _issued(world, waiting_customer, 9000)
    earlier = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-27")
    # the customer of this file: one unpaid invoice, one partly paid, one paid, one draft
    customer_id, mandate = _customer_with_mandate(world, "2000002")
    unpaid = _issued(world, customer_id, 10000)                              # 11,000
    partly = _issued(world, customer_id, 5000, period="2026-02")             # 5,500, 2,000 paid: 3,500 owed
    money = world.payment(2000, customer_id=customer_id)
    payments.allocate_payment(money.id, actor=world.admin, invoice_id=partly.id, amount=2000)
    paid = _issued(world, customer_id, 1000, period="2026-01")               # 1,100 paid in full
    money = world.payment(1100, customer_id=customer_id)
    payments.allocate_payment(money.id, actor=world.admin, invoice_id=paid.id, amount=1100)
    world.invoice(world.contract(customer_id), issued=False, unit_price=3000)  # a draft
    # no mandate, and a revoked mandate
    _issued(world, world.customer(), 4000)
    revoked_customer, revoked = _customer_with_mandate(world, "3000003")
    direct_debit.revoke_mandate(revoked.id, actor=world.admin, reason="口座解約")
    _issued(world, revoked_customer, 6000)

    batch = direct_debit.create_batch(actor=world.admin, withdrawal_date=SATURDAY_IN_GOLDEN_WEEK)

    assert (batch.withdrawal_date, batch.item_count, batch.total_amount, batch.status) == (
        NEXT_BANK_DAY, 2, 14500, "created")  # 11,000 + 3,500
    with read_session() as s:
        items = s.exec(select(DirectDebitItem).where(DirectDebitItem.batch_id == batch.id)
                       .order_by(DirectDebitItem.invoice_id)).all()
        earlier_items = s.exec(select(DirectDebitItem).where(DirectDebitItem.batch_id == earlier.id)).all()
    assert [(i.invoice_id, i.amount, i.mandate_id) for i in items] == [(unpaid.id, 11000, mandate.id),
                                                                       (partly.id, 3500, mandate.id)]
    assert [(i.invoice_id, i.mandate_id) for i in earlier_items] == [(waiting.id, waiting_mandate.id)]
    header, lines = direct_debit_file.read_request(_batch(batch.id).request_file)
    assert header.withdrawal_date == NEXT_BANK_DAY
    assert [(ln.amount, ln.customer_number, ln.account_number, ln.holder_name, ln.new_code) for ln in lines] == [
        (11000, str(mandate.id), "2000002", "ﾔﾏﾀﾞ ﾀﾛｳ", 1), (3500, str(mandate.id), "2000002", "ﾔﾏﾀﾞ ﾀﾛｳ", 1)]


def test_a_batch_with_nothing_owed_is_refused(world, clock):
    _customer_with_mandate(world)

    with pytest.raises(Conflict, match="口座振替の対象となる未収の請求書がありません"):
        direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-27")


# ---- sending --------------------------------------------------------------------------------------------

def test_submitting_enqueues_one_bank_operation_once_and_the_banks_answer_marks_it_sent(world, clock):
    customer_id, _ = _customer_with_mandate(world)
    _issued(world, customer_id, 10000)
    batch = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-27")

    direct_debit.submit_batch(batch.id, actor=world.admin)
    direct_debit.submit_batch(batch.id, actor=world.admin)

    with read_session() as s:
        [op] = s.exec(select(ExternalOperation).where(ExternalOperation.provider == "bank")).all()
    assert (op.operation, op.status) == ("submit_debits", "pending")
    assert _batch(batch.id).status == "created"  # not sent until the bank answers
    [row] = direct_debit.batches(actor=world.admin)
    assert (row["status_label"], row["sending"], row["can_submit"], row["can_import"]) == ("銀行へ送信中", True, False, False)
    with pytest.raises(Conflict, match="まだ銀行に受け付けられていません"):
        direct_debit.import_result(batch.id, actor=world.admin)

    outbox.settle(op.id, "succeeded", detail="銀行が受付", evidence={"id": "dd_20260427_1"})

    sent = _batch(batch.id)
    assert (sent.status, sent.bank_ref) == ("submitted", "dd_20260427_1") and sent.submitted_at is not None
    [row] = direct_debit.batches(actor=world.admin)
    assert (row["status_label"], row["sending"], row["can_submit"], row["can_import"]) == ("銀行へ送信済", False, False, True)
    direct_debit.submit_batch(batch.id, actor=world.admin)
    with read_session() as s:
        assert len(s.exec(select(ExternalOperation).where(ExternalOperation.provider == "bank")).all()) == 1


def test_a_file_whose_sending_is_in_doubt_says_so_and_is_not_offered_again(world, clock):
    customer_id, _ = _customer_with_mandate(world)
    _issued(world, customer_id, 10000)
    batch = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-27")
    direct_debit.submit_batch(batch.id, actor=world.admin)
    with read_session() as s:
        [op] = s.exec(select(ExternalOperation).where(ExternalOperation.provider == "bank")).all()

    outbox.settle(op.id, "unknown", detail="応答なし", evidence={})

    [row] = direct_debit.batches(actor=world.admin)
    assert (row["status_label"], row["sending"], row["can_submit"]) == ("銀行へ送信中（要確認）", False, False)


# ---- the result -----------------------------------------------------------------------------------------

CODES = (0, 1, 2, 3, 4, 8, 9)


def test_every_result_code_becomes_a_payment_or_a_dunning_case_and_reading_it_again_changes_nothing(world, clock):
    invoices, mandates = {}, {}
    for n, code in enumerate(CODES, 1):
        customer_id, mandates[code] = _customer_with_mandate(world, f"{n:07d}")
        invoices[code] = _issued(world, customer_id, 1000 * n)  # 1,100, 2,200 … 7,700
    batch = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-27")
    _sent(world, batch.id)
    result = _result(batch.id, {str(mandates[code].id): code for code in CODES})

    done = direct_debit.import_result(batch.id, actor=world.admin, content=result)

    # collected: 1,100 (code 0); not collected: 2,200 + 3,300 + 4,400 + 5,500 + 6,600 + 7,700 = 29,700
    assert (done.status, done.collected_count, done.collected_amount, done.failed_count, done.failed_amount) == (
        "result_imported", 1, 1100, 6, 29700)
    with read_session() as s:
        debits = s.exec(select(Payment).where(Payment.method == "direct_debit")).all()
        paid = allocated_amounts(s, [i.id for i in invoices.values()])
        cases = {c.invoice_id: (c.reason, c.status) for c in s.exec(select(DunningCase)).all()}
        codes = {i.invoice_id: i.result_code for i in s.exec(select(DirectDebitItem)).all()}
    [debit] = debits
    assert (debit.amount, debit.reference, debit.status, debit.customer_id) == (
        1100, invoices[0].invoice_no, "matched", invoices[0].customer_id)
    assert paid == {invoices[0].id: 1100, **{invoices[c].id: 0 for c in CODES[1:]}}
    assert cases == {invoices[c].id: ("debit_failed", "open") for c in CODES[1:]}
    assert codes == {invoices[c].id: c for c in CODES}

    again = direct_debit.import_result(batch.id, actor=world.admin, content=result)

    assert again.status == "result_imported"
    with read_session() as s:
        assert len(s.exec(select(Payment).where(Payment.method == "direct_debit")).all()) == 1
        assert len(s.exec(select(DunningCase)).all()) == 6
        assert len(s.exec(select(AuditEntry).where(AuditEntry.action == "debit_batch.import_result")).all()) == 1


def test_a_failed_invoice_goes_into_the_next_file_and_a_collected_one_never_again(world, clock):
    first_customer, first_mandate = _customer_with_mandate(world, "0000001")
    collected = _issued(world, first_customer, 1000)
    second_customer, second_mandate = _customer_with_mandate(world, "0000002")
    failed = _issued(world, second_customer, 2000)
    batch = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-27")
    _sent(world, batch.id)
    direct_debit.import_result(batch.id, actor=world.admin, content=_result(batch.id, {str(second_mandate.id): 1}))

    retry = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-05-27")

    with read_session() as s:
        taken = s.exec(select(DirectDebitItem.invoice_id).where(DirectDebitItem.batch_id == retry.id)).all()
    assert taken == [failed.id] and collected.id not in taken
    assert (retry.item_count, retry.total_amount) == (1, 2200)


def test_two_invoices_of_one_customer_in_one_file_are_each_collected(world, clock):
    customer_id, mandate = _customer_with_mandate(world)
    march = _issued(world, customer_id, 3000)                    # 3,300
    february = _issued(world, customer_id, 2000, period="2026-02")  # 2,200
    batch = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-27")
    _sent(world, batch.id)

    direct_debit.import_result(batch.id, actor=world.admin, content=_result(batch.id, {}))

    with read_session() as s:
        paid = allocated_amounts(s, [march.id, february.id])
        debits = sorted(p.amount for p in s.exec(select(Payment).where(Payment.method == "direct_debit")).all())
    assert paid == {march.id: 3300, february.id: 2200}
    assert debits == [2200, 3300]


def test_a_result_for_another_batch_is_refused(world, clock):
    customer_id, mandate = _customer_with_mandate(world, "0000001")
    _issued(world, customer_id, 1000)
    first = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-27")
    _sent(world, first.id, "dd_1")
    other_customer, other_mandate = _customer_with_mandate(world, "0000002")
    _issued(world, other_customer, 1000)  # the same count and amount, another customer
    second = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-28")
    _sent(world, second.id, "dd_2")
    _issued(world, customer_id, 5000, period="2026-02")
    third = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-30")
    _sent(world, third.id, "dd_3")

    with pytest.raises(ValidationFailed) as other_counts:
        direct_debit.import_result(first.id, actor=world.admin, content=_result(third.id, {}))
    with pytest.raises(ValidationFailed) as other_customer_line:
        direct_debit.import_result(first.id, actor=world.admin, content=_result(second.id, {}))

    assert other_counts.value.fields["file"].startswith(f"この結果は口座振替データ #{first.id} のものではありません")
    assert other_customer_line.value.fields == {"file": f"顧客番号 {other_mandate.id} の行がこのデータにありません。"}
    assert _batch(first.id).status == "submitted"
    with read_session() as s:
        assert s.exec(select(Payment).where(Payment.method == "direct_debit")).all() == []


def test_an_unreadable_result_is_refused_in_japanese(world, clock):
    customer_id, _ = _customer_with_mandate(world)
    _issued(world, customer_id, 1000)
    batch = direct_debit.create_batch(actor=world.admin, withdrawal_date="2026-04-27")
    _sent(world, batch.id)

    with pytest.raises(ValidationFailed) as refused:
        direct_debit.import_result(batch.id, actor=world.admin, content=b"not a zengin file")

    assert refused.value.fields["file"].startswith("振替結果ファイルを読めません: ")
