"""The monthly billing run (請求締め) under a frozen clock: asked once per ended month, drafted by the worker
body (run here by hand) into one invoice per billable contract, idempotent and resumable, anomalies to
acknowledge before review, then issued with dates, issuer, credit balances and a notice per invoice.
Every yen figure is worked out by hand in the test."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlmodel import col, select

from services.billing import billing_runs, invoices, payments, plan_changes
from services.billing.allocation import allocated_amounts
from services.ledger import catalogue, customers
from services.ledger.notifications import permalink
from services.models import (
    AuditEntry,
    BillingAnomaly,
    BillingRun,
    ExternalOperation,
    Invoice,
    InvoiceItem,
    InvoiceNumberSeries,
    Notification,
    PendingCharge,
)
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, InvalidTransition, ValidationFailed
from tests.unit.frozen_time import freeze


@pytest.fixture()
def clock(monkeypatch):
    return freeze(monkeypatch, date(2026, 3, 1))


def _invoices(period: str = "2026-03") -> list[Invoice]:
    with read_session() as s:
        return list(s.exec(select(Invoice).where(Invoice.period == period).order_by(Invoice.id)).all())


def _items(invoice_id: int) -> list[tuple]:
    with read_session() as s:
        return [(i.kind, i.description, i.quantity, i.unit_price, i.amount, i.tax_rate_percent) for i in s.exec(
            select(InvoiceItem).where(InvoiceItem.invoice_id == invoice_id).order_by(InvoiceItem.id)).all()]


def _anomalies(run_id: int) -> list[BillingAnomaly]:
    with read_session() as s:
        return list(s.exec(select(BillingAnomaly).where(BillingAnomaly.billing_run_id == run_id)
                           .order_by(BillingAnomaly.id)).all())


def _run(run_id: int) -> BillingRun:
    with read_session() as s:
        return s.get(BillingRun, run_id)


def _levies(world, day: str = "2026-03-01") -> None:
    for code, name, amount in (("universal_service", "ユニバーサルサービス料", 2), ("relay_service", "電話リレーサービス料", 1)):
        catalogue.set_charge_rate(actor=world.admin, reason="総務省告示", values={
            "code": code, "name": name, "kind": "levy", "amount": amount, "effective_from": day})


def _pending(contract_id: int, description: str, unit_price: int, day: date, *, quantity: int = 1) -> int:
    with write_session() as s:
        row = PendingCharge(contract_id=contract_id, code="adjustment", description=description, quantity=quantity,
                            unit_price=unit_price, tax_rate_percent=10, occurred_on=day)
        s.add(row)
        s.flush()
        return row.id


def _two_contracts(world):
    """On 2026-03-01: contract A (a customer with an e-mail address) on a 3,300-yen plan with one number in
    service, contract B on a 2,000-yen plan with a 500-yen option and one number in service; the levies are 2 + 1 yen per number."""
    _levies(world)
    with_mail = customers.create_customer(actor=world.admin, kind="individual", name="山田 太郎",
                                          name_kana="ヤマダ タロウ", email="taro@example.jp").id
    a = world.active_contract(with_mail, plan_id=world.priced_plan(3300))
    world.active_line(a)
    b = world.active_contract(plan_id=world.priced_plan(2000))
    world.active_line(b)
    plan_changes.add_option(b.id, actor=world.admin, option_id=world.priced_option(500), when="now", reason="申込")
    return a, b


# ---- asking for a run ------------------------------------------------------------------------------

def test_a_month_that_has_not_ended_in_tokyo_is_refused_in_japanese(world, clock, sent_tasks):
    clock.at(datetime(2026, 3, 31, 14, 59, tzinfo=UTC))  # 23:59 on the 31st in Tokyo

    with pytest.raises(ValidationFailed) as refused:
        billing_runs.request_run("2026-03", actor=world.admin)

    assert refused.value.fields == {"period": "2026-03 はまだ終わっていません。月末を過ぎてから締めてください。"}
    assert sent_tasks == []
    clock.at(datetime(2026, 3, 31, 15, 0, tzinfo=UTC))  # 00:00 on April 1st in Tokyo (still March 31st in UTC)
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    assert run.status == "queued"


def test_a_period_not_written_as_yyyy_mm_is_refused(world, clock):
    with pytest.raises(ValidationFailed) as refused:
        billing_runs.request_run("2026/2", actor=world.admin)

    assert refused.value.fields == {"period": "請求月は YYYY-MM の形式で入力してください（例: 2026-11）。"}


def test_one_run_per_period_asking_again_creates_nothing_and_says_so(world, clock, sent_tasks):
    clock.day(date(2026, 4, 6))

    first, started = billing_runs.request_run("2026-03", actor=world.admin)
    again, message = billing_runs.request_run("2026-03", actor=world.admin)

    assert started == "2026-03 の請求締めを開始しました。進み具合はこの画面に表示されます。"
    assert again.id == first.id
    assert message.startswith("2026-03 の請求締めは既にあります（")
    assert message.endswith("もう一度実行しても新しい請求書は作られません。")
    assert sent_tasks == [(billing_runs.DRAFT_TASK, first.id)]
    with read_session() as s:
        assert len(s.exec(select(BillingRun)).all()) == 1


def test_the_daily_schedule_asks_for_last_months_run_once_as_the_system(world, clock, sent_tasks):
    clock.day(date(2026, 4, 1))

    run = billing_runs.schedule_monthly_run()
    again = billing_runs.schedule_monthly_run()

    assert (run.period, run.created_by, again) == ("2026-03", None, None)
    assert sent_tasks == [(billing_runs.DRAFT_TASK, run.id)]


# ---- drafting --------------------------------------------------------------------------------------

def test_draft_run_makes_one_invoice_per_billable_contract_with_its_items_and_totals(world, clock):
    a, b = _two_contracts(world)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)

    run = billing_runs.draft_run(run.id)

    first, second = _invoices()
    # A: 3,300 + 2 + 1 = 3,303; tax 330.3 → 330; total 3,633 (one number each: plan once, levies once)
    assert (first.contract_id, first.invoice_no, first.status, first.subtotal, first.tax, first.total) == (
        a.id, "INV-202603-000001", "draft", 3303, 330, 3633)
    assert [(kind, quantity, unit, amount, rate) for kind, _, quantity, unit, amount, rate in _items(first.id)] == [
        ("plan", 1, 3300, 3300, 10), ("levy", 1, 2, 2, 10), ("levy", 1, 1, 1, 10)]
    assert [row[1] for row in _items(first.id)][1:] == ["ユニバーサルサービス料", "電話リレーサービス料"]
    assert _items(first.id)[0][1].endswith(" 月額基本料")
    # B: 2,000 + 500 + 2 + 1 = 2,503; tax 250.3 → 250; total 2,753
    assert (second.contract_id, second.invoice_no, second.subtotal, second.tax, second.total) == (
        b.id, "INV-202603-000002", 2503, 250, 2753)
    assert [(row[0], row[4]) for row in _items(second.id)] == [("plan", 2000), ("option", 500), ("levy", 2),
                                                               ("levy", 1)]
    assert (first.period_start, first.period_end) == (date(2026, 3, 1), date(2026, 3, 31))
    assert (run.status, run.invoice_count, run.total_amount, run.total_contracts, run.done_contracts,
            run.anomaly_count) == ("drafted", 2, 6386, 2, 2, 0)


def test_a_contract_started_on_the_16th_is_drafted_with_16_days_of_its_plan(world, clock):
    clock.day(date(2026, 3, 16))
    contract = world.active_contract(plan_id=world.priced_plan(3300))
    world.active_line(contract)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)

    billing_runs.draft_run(run.id)

    [invoice] = _invoices()
    # 3,300 × 16 ÷ 31 = 1,703.2… → 1,703; tax 170; total 1,873
    assert (invoice.contract_id, invoice.subtotal, invoice.tax, invoice.total) == (contract.id, 1703, 170, 1873)


def test_running_the_worker_again_creates_nothing_twice(world, clock, sent_tasks):
    _two_contracts(world)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    billing_runs.draft_run(run.id)

    again = billing_runs.draft_run(run.id)  # the message delivered twice
    _, message = billing_runs.request_run("2026-03", actor=world.admin)

    assert again.status == "drafted" and "既にあります" in message
    assert [i.invoice_no for i in _invoices()] == ["INV-202603-000001", "INV-202603-000002"]
    with read_session() as s:
        assert s.get(InvoiceNumberSeries, "INV-202603").last_number == 2


def _three_contracts(world):
    for fee in (1000, 2000, 3000):
        world.active_line(world.active_contract(plan_id=world.priced_plan(fee)))


def test_a_run_that_crashed_half_way_resumes_where_it_stopped_without_doubles_or_gaps(
        world, clock, monkeypatch, sent_tasks):
    _three_contracts(world)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    monkeypatch.setattr(billing_runs, "CHUNK", 1)
    real_chunk, calls = billing_runs._draft_chunk, []

    def crashing_once(*args):
        calls.append(args[2])
        if len(calls) == 2:
            raise RuntimeError("ワーカーが停止しました")
        return real_chunk(*args)

    monkeypatch.setattr(billing_runs, "_draft_chunk", crashing_once)
    with pytest.raises(RuntimeError):
        billing_runs.draft_run(run.id)
    failed = _run(run.id)
    assert (failed.status, failed.error) == ("failed", "RuntimeError: ワーカーが停止しました")
    assert len(_invoices()) == 1

    resumed, message = billing_runs.request_run("2026-03", actor=world.admin)
    assert message == "2026-03 の請求締めを、止まったところから再開しました。"
    assert sent_tasks == [(billing_runs.DRAFT_TASK, run.id), (billing_runs.DRAFT_TASK, run.id)]
    done = billing_runs.draft_run(run.id)

    drafted = _invoices()
    assert sorted(i.contract_id for i in drafted) == sorted({i.contract_id for i in drafted})  # one each
    assert [i.invoice_no for i in drafted] == ["INV-202603-000001", "INV-202603-000002", "INV-202603-000003"]
    # 1,000 + 2,000 + 3,000 = 6,000 tax excluded; 1,100 + 2,200 + 3,300 = 6,600
    assert sorted(i.total for i in drafted) == [1100, 2200, 3300]
    assert (done.status, done.invoice_count, done.total_amount, done.error) == ("drafted", 3, 6600, None)


def test_a_chunk_that_fails_after_taking_its_numbers_leaves_no_gap(world, clock, monkeypatch):
    _three_contracts(world)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    monkeypatch.setattr(billing_runs, "CHUNK", 1)
    real_record, drafts = billing_runs.record, []

    def failing_second_draft(session, actor, action, *args, **kwargs):
        real_record(session, actor, action, *args, **kwargs)
        if action == "billing_run.draft":
            drafts.append(action)
            if len(drafts) == 2:  # the chunk's invoice, items and number are written: now it fails
                raise RuntimeError("データベースとの接続が切れました")

    monkeypatch.setattr(billing_runs, "record", failing_second_draft)
    with pytest.raises(RuntimeError):
        billing_runs.draft_run(run.id)
    assert [i.invoice_no for i in _invoices()] == ["INV-202603-000001"]

    billing_runs.request_run("2026-03", actor=world.admin)
    billing_runs.draft_run(run.id)

    assert [i.invoice_no for i in _invoices()] == ["INV-202603-000001", "INV-202603-000002", "INV-202603-000003"]


# ---- anomalies and review ----------------------------------------------------------------------------

def test_anomalies_are_flagged_and_review_is_refused_until_each_is_acknowledged(world, clock):
    # C: last month 1,100 yen (1,000 + tax), this month a 3,000-yen plan: 3,300 (+200%)
    changed = world.active_contract(plan_id=world.priced_plan(3000))
    world.active_line(changed)
    invoices.create_invoice(actor=world.admin, contract_id=changed.id, period="2026-02",
                            items=[{"description": "月額基本料", "quantity": 1, "unit_price": 1000}])
    # a 0-yen plan with a number in service
    zero = world.active_contract(plan_id=world.priced_plan(0))
    world.active_line(zero)
    # a plan priced only from April, with a number in service in March: nothing to bill
    later = catalogue.create_plan(actor=world.admin, values={
        "code": "LATER", "name": "四月からのプラン", "monthly_fee": 1500, "data_cap_mb": 1024,
        "effective_from": "2026-04-01"})
    unpriced = world.active_contract(plan_id=later.id)
    world.active_line(unpriced)
    # a discount of 5,000 on a 2,000-yen plan
    negative = world.active_contract(plan_id=world.priced_plan(2000))
    world.active_line(negative)
    _pending(negative.id, "解約防止キャンペーン割引", -5000, date(2026, 3, 10))
    fine = world.active_contract(plan_id=world.priced_plan(1000))
    world.active_line(fine)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)

    run = billing_runs.draft_run(run.id)

    found = {a.contract_id: (a.kind, a.message) for a in _anomalies(run.id)}
    assert found == {
        changed.id: ("change", "前月の請求額 ￥1,100 から +200% 変わっています（今月 ￥3,300）。"),
        zero.id: ("zero", "利用中の番号があるのに請求額が0円です。"),
        unpriced.id: ("nothing_to_bill", "番号が利用中なのに請求する明細がありません（プランの設定を確認してください）。"),
        negative.id: ("negative", "値引きが請求額を上回ります（-￥3,000）。請求書は作っていません。"),
    }
    assert fine.id not in found and run.anomaly_count == 4
    drafted = {i.contract_id: i.total for i in _invoices()}
    assert drafted == {changed.id: 3300, zero.id: 0, fine.id: 1100}  # nothing for the unpriced and the negative

    with pytest.raises(Conflict) as refused:
        billing_runs.review_run(run.id, actor=world.admin, reason="確認しました")
    assert refused.value.message == "未確認の要確認項目が 4 件あります。すべて確認してから確認済にしてください。"
    anomalies = _anomalies(run.id)
    for anomaly in anomalies[:-1]:
        billing_runs.acknowledge_anomaly(anomaly.id, actor=world.admin, note="内容を確認した")
    with pytest.raises(Conflict, match="1 件"):
        billing_runs.review_run(run.id, actor=world.admin, reason="確認しました")
    with pytest.raises(ValidationFailed):
        billing_runs.acknowledge_anomaly(anomalies[-1].id, actor=world.admin, note="  ")
    billing_runs.acknowledge_anomaly(anomalies[-1].id, actor=world.admin, note="割引の登録誤り。別途訂正")

    reviewed = billing_runs.review_run(run.id, actor=world.admin, reason="前月比と要確認を確認")

    assert reviewed.status == "reviewed"
    assert all(a.acknowledged_at is not None and a.note for a in _anomalies(run.id))


def test_a_bill_within_50_percent_of_last_month_is_not_flagged(world, clock):
    steady = world.active_contract(plan_id=world.priced_plan(1500))
    world.active_line(steady)
    invoices.create_invoice(actor=world.admin, contract_id=steady.id, period="2026-02",
                            items=[{"description": "月額基本料", "quantity": 1, "unit_price": 1000}])
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)

    run = billing_runs.draft_run(run.id)

    # 1,650 against 1,100 is +50% exactly: not more than 50%
    assert [i.total for i in _invoices()] == [1650]
    assert _anomalies(run.id) == [] and run.previous_total_amount == 1100


# ---- issuing --------------------------------------------------------------------------------------

def test_issuing_a_run_dates_stamps_credits_and_tells_every_customer(world, clock, sent_tasks):
    a, b = _two_contracts(world)
    prepaid = payments.record_payment(actor=world.admin, amount=1000, method="bank_transfer",
                                      payer_name="ﾏｴｳｹ ﾀﾛｳ", customer_id=a.customer_id)  # an earlier over-payment
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    billing_runs.draft_run(run.id)
    billing_runs.review_run(run.id, actor=world.admin, reason="確認済")
    # issued just after midnight in Tokyo, still April 5th in UTC
    clock.at(datetime(2026, 4, 5, 15, 30, tzinfo=UTC))

    issuing = billing_runs.issue_run(run.id, actor=world.admin)
    assert issuing.status == "issuing" and sent_tasks[-1] == (billing_runs.ISSUE_TASK, run.id)
    done = billing_runs.issue_drafts(run.id)

    assert (done.status, done.issued_invoices) == ("issued", 2)
    first, second = _invoices()
    for invoice in (first, second):
        # issued on April 6th (Tokyo); due at the end of May, a Sunday: Monday June 1st
        assert (invoice.status, invoice.issue_date, invoice.due_date) == ("issued", date(2026, 4, 6), date(2026, 6, 1))
        assert (invoice.issuer_name, invoice.issuer_registration_number) == (
            settings.issuer.name, settings.issuer.registration_number)
        assert invoice.issuer_registration_number.startswith("T") and len(invoice.issuer_registration_number) == 14
    assert first.recipient_name == "山田 太郎"
    with read_session() as s:
        paid = allocated_amounts(s, [first.id, second.id])
        notices = s.exec(select(Notification).where(Notification.kind == "invoice_issued")
                         .order_by(Notification.id)).all()
        credit_left = billing_runs.credit_balances(s, [a.customer_id, b.customer_id])
    assert paid == {first.id: 1000, second.id: 0}  # A's 1,000 yen credit went to its new invoice
    assert credit_left == {}
    assert [(n.customer_id, n.channel) for n in notices] == [
        (a.customer_id, "mail"), (a.customer_id, "in_app"), (b.customer_id, "in_app")]  # B has no address
    with read_session() as s:
        [mail] = s.exec(select(ExternalOperation).where(ExternalOperation.provider == "messaging")).all()
    assert json.loads(mail.payload_json)["to"] == "taro@example.jp"
    notices = [n for n in notices if n.channel == "in_app"]
    assert notices[0].title == "2026年3月分のご請求（￥3,633）"
    assert "INV-202603-000001" in notices[0].body and "ご請求金額: ￥3,633（税込）" in notices[0].body
    assert "お支払期限: 2026年06月01日" in notices[0].body
    assert "前受金 ￥1,000 を充当しました。お支払いいただく金額は ￥2,633 です。" in notices[0].body
    assert "前受金" not in notices[1].body and notices[1].title == "2026年3月分のご請求（￥2,753）"
    assert notices[0].link == permalink("invoice", first.id) and notices[0].link.endswith(f"/go/invoice/{first.id}")
    assert prepaid.id is not None


def test_issuing_again_while_or_after_it_issues_changes_nothing(world, clock, sent_tasks):
    _two_contracts(world)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    billing_runs.draft_run(run.id)
    billing_runs.review_run(run.id, actor=world.admin, reason="確認済")
    billing_runs.issue_run(run.id, actor=world.admin)
    billing_runs.issue_run(run.id, actor=world.admin)
    billing_runs.issue_drafts(run.id)
    billing_runs.issue_drafts(run.id)

    assert [t for t in sent_tasks if t[0] == billing_runs.ISSUE_TASK] == [(billing_runs.ISSUE_TASK, run.id)]
    assert _run(run.id).issued_invoices == 2
    with read_session() as s:
        notices = s.exec(select(Notification).where(Notification.kind == "invoice_issued")).all()
        assert sorted((n.customer_id, n.channel) for n in notices) == sorted(  # one notice per invoice
            [(i.customer_id, "in_app") for i in _invoices()] + [(_invoices()[0].customer_id, "mail")])
        assert len(s.exec(select(AuditEntry).where(AuditEntry.action == "billing_run.issue")).all()) == 1


def test_a_run_cannot_be_issued_before_review(world, clock):
    _two_contracts(world)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    billing_runs.draft_run(run.id)

    with pytest.raises(InvalidTransition) as refused:
        billing_runs.issue_run(run.id, actor=world.admin)

    assert refused.value.message == "請求締めが「下書き確認待ち」の状態では「発行」はできません。"
    assert all(i.status == "draft" for i in _invoices())


def test_numbers_have_no_hole_even_when_a_draft_is_voided(world, clock):
    _three_contracts(world)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    billing_runs.draft_run(run.id)
    voided = _invoices()[1]
    invoices.void_invoice(voided.id, actor=world.admin, reason="契約の登録誤り")
    billing_runs.review_run(run.id, actor=world.admin, reason="確認済")
    billing_runs.issue_run(run.id, actor=world.admin)
    billing_runs.issue_drafts(run.id)
    again = invoices.create_invoice(actor=world.admin, contract_id=voided.contract_id, period="2026-03",
                                    items=[{"description": "月額基本料（訂正）", "quantity": 1, "unit_price": 2000}])

    numbered = [(i.invoice_no, i.status) for i in _invoices()]
    assert numbered == [("INV-202603-000001", "issued"), ("INV-202603-000002", "void"),
                        ("INV-202603-000003", "issued"), ("INV-202603-000004", "draft")]
    assert again.invoice_no == "INV-202603-000004"
    with read_session() as s:
        assert s.exec(select(Invoice.id).where(col(Invoice.invoice_no).like("INV-202604-%"))).all() == []
