"""Bank transfers without servers: the transfer.received webhook records a payment once and allocates it
when its EDI names the invoice, and the daily 入出金取引明細 (bank faked with httpx.MockTransport) is
compared with the ledger."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from sandbox.zengin import Account, Entry, statement
from services.billing import allocation, bank_transfers
from services.integrations.bank import BankClient
from services.integrations.http import sign
from services.integrations.zengin import ZenginFormatError, parse_statement
from services.models import AuditEntry, Invoice, Payment, PaymentAllocation, ReviewItem
from services.platform import installation_secrets
from services.platform.db import read_session
from services.workflow import daily_reconciliation, webhooks

DAY = date(2026, 4, 1)


class FakeBank:
    """Serves one statement file (or an error status) for any date."""

    def __init__(self, entries: list[Entry] | None = None, *, start: date = DAY, status: int = 200,
                 content: bytes | None = None):
        self.content = content if content is not None else statement(Account(), start, start, start, 1_000_000,
                                                                     entries or [])
        self.status = status
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": "down"})
        return httpx.Response(200, content=self.content, headers={"content-type": "text/plain; charset=shift_jis"})

    def client(self) -> BankClient:
        return BankClient("http://bank.test", transport=httpx.MockTransport(self.handler))


def _transfer_event(event_id: str, transfer_id: str, amount: int, *, payer: str = "ﾔﾏﾀﾞ ﾀﾛｳ", edi: str = "",
                    booked: date = DAY, number: int = 1) -> dict:
    created = datetime(booked.year, booked.month, booked.day, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
    return {"id": event_id, "type": "transfer.received", "sequence": 1, "subject": "1234567",
            "data": {"id": transfer_id, "inquiry_number": number, "amount": amount, "direction": "in",
                     "payer_name": payer, "payer_code": "", "edi": edi, "booked_on": booked.isoformat(),
                     "remitting_bank": "", "remitting_branch": "", "summary": "",
                     "created_at": created.isoformat(timespec="milliseconds")}}


def _deliver(monkeypatch, *events: dict) -> list[str]:
    queued: list[int] = []
    monkeypatch.setattr(webhooks, "_enqueue", queued.append)
    for event in events:
        body = json.dumps(event, ensure_ascii=False).encode()
        webhooks.accept("bank", body, sign(body, installation_secrets.webhook_secret("bank")))
    return [webhooks.process_event(row_id) for row_id in queued]


def _bank_payments() -> list[Payment]:
    with read_session() as s:
        return list(s.exec(select(Payment).where(Payment.method == "bank_transfer").order_by(Payment.id)).all())


def _allocations(payment_id: int) -> list[PaymentAllocation]:
    with read_session() as s:
        return list(s.exec(select(PaymentAllocation).where(PaymentAllocation.payment_id == payment_id)).all())


def _items(prefix: str = "bank.") -> list[ReviewItem]:
    with read_session() as s:
        return list(s.exec(select(ReviewItem).where(ReviewItem.kind.startswith(prefix)).order_by(ReviewItem.id)))


def _entry(number: int, amount: int, payer: str = "ﾔﾏﾀﾞ ﾀﾛｳ", *, deposit: bool = True, edi: str = "") -> Entry:
    return Entry(inquiry_number=number, booked_on=DAY, deposit=deposit, amount=amount, payer_name=payer, edi=edi)


# ---- the webhook --------------------------------------------------------------------------------

def test_a_transfer_delivered_twice_is_recorded_once_as_received_money(engine, monkeypatch):
    event = _transfer_event("evt_1", "trf_1", 5500)

    results = _deliver(monkeypatch, event, event, {**event, "id": "evt_1_again"})

    [payment] = _bank_payments()
    assert (payment.amount, payment.payer_name, payment.external_ref, payment.status, payment.customer_id) == (
        5500, "ﾔﾏﾀﾞ ﾀﾛｳ", "trf_1", "received", None)
    assert results == [f"payment #{payment.id} recorded", f"payment #{payment.id} already recorded"]
    assert payment.received_at.replace(tzinfo=UTC) == datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    with read_session() as s:
        [entry] = s.exec(select(AuditEntry).where(AuditEntry.entity_type == "payment")).all()
    assert (entry.action, entry.actor_kind) == ("payment.record", "system")


def test_a_transfer_naming_an_invoice_with_exactly_that_outstanding_amount_is_allocated(world, monkeypatch):
    invoice = world.invoice(unit_price=10000)  # 11,000 yen with tax

    _deliver(monkeypatch, _transfer_event("evt_2", "trf_2", 11000, edi=invoice.invoice_no))

    [payment] = _bank_payments()
    assert (payment.status, payment.customer_id, payment.reference) == ("matched", invoice.customer_id,
                                                                       invoice.invoice_no)
    assert [(a.invoice_id, a.amount) for a in _allocations(payment.id)] == [(invoice.id, 11000)]
    with read_session() as s:
        inv = s.get(Invoice, invoice.id)
        assert allocation.invoice_payment_state(allocation.allocated_amounts(s, [inv.id])[inv.id], inv.total) == "paid"
        actions = [e.action for e in s.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "payment", AuditEntry.entity_id == payment.id).order_by(AuditEntry.id))]
    assert actions == ["payment.record", "payment.allocate"]


def test_a_transfer_of_another_amount_or_for_an_unknown_invoice_waits_for_accounting(world, monkeypatch):
    invoice = world.invoice(unit_price=10000)

    _deliver(monkeypatch, _transfer_event("evt_3", "trf_3", 5000, edi=invoice.invoice_no),
             _transfer_event("evt_4", "trf_4", 11000, edi="INV-209912-999999"))

    assert [(p.status, p.customer_id) for p in _bank_payments()] == [("received", None), ("received", None)]
    assert all(_allocations(p.id) == [] for p in _bank_payments())


def test_an_unreadable_transfer_notification_is_queued_for_a_person_and_records_nothing(engine, monkeypatch):
    broken = _transfer_event("evt_5", "trf_5", 0)

    _deliver(monkeypatch, broken, {"id": "evt_6", "type": "withdrawal.booked", "data": {"amount": 880}})

    assert _bank_payments() == [] and [i.kind for i in _items()] == ["bank.transfer.invalid"]


# ---- the statement ------------------------------------------------------------------------------

def test_the_product_parser_refuses_a_statement_whose_totals_do_not_add_up():
    content = FakeBank([_entry(1, 3300)]).content
    trailer = len(content) - 400

    assert parse_statement(content)["trailer"]["in_total"] == 3300
    with pytest.raises(ZenginFormatError):
        parse_statement(content[:trailer + 7] + b"0000000009999" + content[trailer + 20:])


def test_the_statement_diff_queues_each_difference_once(engine, monkeypatch):
    _deliver(monkeypatch,
             _transfer_event("e1", "trf_agreed", 3300, number=1),
             _transfer_event("e2", "trf_wrong", 12100, payer="ｶ)ﾃｽﾄｼﾖｳｼﾞ", number=2),
             _transfer_event("e3", "trf_not_in_file", 770, payer="ｽｽﾞｷ ｲﾁﾛｳ", number=5),
             _transfer_event("e4", "trf_other_day", 990, payer="ｻﾄｳ ﾊﾅｺ", booked=DAY - timedelta(days=1), number=6))
    bank = FakeBank([_entry(1, 3300), _entry(2, 12000, "ｶ)ﾃｽﾄｼﾖｳｼﾞ"), _entry(3, 4400, "ﾀﾅｶ ｼﾞﾛｳ"),
                     _entry(4, 880, deposit=False)])

    assert bank_transfers.compare(DAY, client=bank.client()) == 3
    bank_transfers.compare(DAY, client=bank.client())

    found = {(i.kind, i.subject_key) for i in _items("bank.statement.")}
    assert found == {("bank.statement.amount_mismatch", "2026-04-01:00000002:trf_wrong"),
                     ("bank.statement.missing_in_ledger", "2026-04-01:00000003"),
                     ("bank.statement.missing_in_statement", "2026-04-01:trf_not_in_file")}
    mismatch = _items("bank.statement.amount_mismatch")[0]
    evidence = json.loads(mismatch.evidence_json)
    assert evidence["statement"]["amount"] == 12000 and evidence["ledger"]["amount"] == 12100
    assert bank.requests[0].url.params["date"] == "2026-04-01"


def test_the_statement_names_the_missing_one_of_two_identical_transfers_by_its_inquiry_number(
        engine, monkeypatch):
    _deliver(monkeypatch, _transfer_event("e8", "trf_second", 5500, number=8))  # the notice for 7 was lost
    bank = FakeBank([_entry(7, 5500), _entry(8, 5500)])

    assert bank_transfers.compare(DAY, client=bank.client()) == 2

    [missing] = _items("bank.statement.")
    assert (missing.kind, missing.subject_key) == ("bank.statement.missing_in_ledger", "2026-04-01:00000007")
    assert _bank_payments()[0].bank_inquiry_number == 8


def test_a_payment_without_an_inquiry_number_is_matched_on_amount_and_payer(engine, monkeypatch):
    event = _transfer_event("e1", "trf_1", 5500)
    del event["data"]["inquiry_number"]  # a bank whose notice does not carry it
    _deliver(monkeypatch, event)
    bank = FakeBank([_entry(4, 5500)])

    bank_transfers.compare(DAY, client=bank.client())

    assert _items("bank.statement.") == [] and _bank_payments()[0].bank_inquiry_number is None


def test_a_statement_for_another_day_or_a_malformed_file_fails_the_run(engine, monkeypatch):
    with pytest.raises(daily_reconciliation.ReportUnavailable, match="期間"):
        bank_transfers.compare(DAY, client=FakeBank(start=DAY - timedelta(days=1)).client())
    with pytest.raises(daily_reconciliation.ReportUnavailable):
        bank_transfers.compare(DAY, client=FakeBank(content=b"1" * 199).client())
    monkeypatch.setattr(bank_transfers, "default_client", lambda: FakeBank(status=503).client())

    run = daily_reconciliation.run("bank_statement", DAY)

    assert run.status == "failed" and "HTTP 503" in run.error and _items() == []
