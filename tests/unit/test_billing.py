"""Invoices: amounts and tax, numbering, one invoice per contract and period, issue, void,
and the payment state derived from allocations."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event
from sqlmodel import select

import services.billing.invoices as billing_module
from services.billing.allocation import PAYMENT_STATE_LABELS_JA, allocated_amounts, invoice_payment_state
from services.billing.invoices import create_invoice, end_of_next_month, issue_invoice, void_invoice
from services.billing.payments import allocate_payment, mark_payment_unmatched, refund_payment
from services.models import AuditEntry, Invoice, InvoiceItem
from services.platform import clock
from services.platform.audit import record as real_record
from services.platform.db import read_session
from services.platform.errors import (
    Conflict,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)

# These tests are about the operations themselves; the approval step is tested in test_approvals.
pytestmark = pytest.mark.usefixtures("approved_execution")




def _all(model, *where):
    with read_session() as session:
        return list(session.exec(select(model).where(*where)).all())


def _item(unit_price: int, quantity: int = 1, description: str = "月額基本料", **extra) -> dict:
    return {"description": description, "quantity": quantity, "unit_price": unit_price, **extra}


def test_draft_invoice_has_items_totals_and_a_readable_number(world, accounting):
    contract = world.contract()
    invoice = create_invoice(actor=accounting, contract_id=contract.id, period="2024-05",
                             items=[_item(1980), _item(330, quantity=2, description="かけ放題オプション")])

    assert invoice.status == "draft"
    assert (invoice.subtotal, invoice.tax, invoice.total) == (2640, 264, 2904)
    assert invoice.invoice_no == f"INV-202405-{invoice.id:06d}"
    assert invoice.customer_id == contract.customer_id
    items = _all(InvoiceItem, InvoiceItem.invoice_id == invoice.id)
    assert sorted((i.description, i.quantity, i.unit_price, i.amount, i.tax_rate_percent) for i in items) == [
        ("かけ放題オプション", 2, 330, 660, 10), ("月額基本料", 1, 1980, 1980, 10)]
    [entry] = _all(AuditEntry, AuditEntry.action == "invoice.create")
    assert entry.entity_id == invoice.id and '"items"' in entry.after_json


def test_tax_is_rounded_down_once_per_invoice(world, accounting):
    # Per item, 10% of 15 yen is 1.5 -> 1 yen each (2 yen). Once per invoice: 10% of 30 = 3 yen.
    invoice = create_invoice(actor=accounting, contract_id=world.contract().id, period="2024-05",
                             items=[_item(15, description="SMS"), _item(15, description="SMS")])
    assert (invoice.subtotal, invoice.tax, invoice.total) == (30, 3, 33)


def test_tax_fraction_is_rounded_down(world, accounting):
    invoice = create_invoice(actor=accounting, contract_id=world.contract().id, period="2024-05",
                             items=[_item(1999)])
    assert (invoice.subtotal, invoice.tax, invoice.total) == (1999, 199, 2198)


def test_discount_item_reduces_the_subtotal_but_not_below_zero(world, accounting):
    contract = world.contract()
    invoice = create_invoice(actor=accounting, contract_id=contract.id, period="2024-05",
                             items=[_item(1980), _item(-500, description="キャンペーン割引")])
    assert (invoice.subtotal, invoice.tax, invoice.total) == (1480, 148, 1628)

    with pytest.raises(ValidationFailed) as excinfo:
        create_invoice(actor=accounting, contract_id=contract.id, period="2024-06",
                       items=[_item(100), _item(-500, description="割引")])
    assert "小計は0円以上" in excinfo.value.fields["items"]


def test_invoice_item_line_must_belong_to_the_contract(world, accounting):
    contract = world.contract()
    own_line = world.line(contract)
    other_line = world.line()

    invoice = create_invoice(actor=accounting, contract_id=contract.id, period="2024-05",
                             items=[_item(1980, line_id=own_line.id)])
    assert _all(InvoiceItem, InvoiceItem.invoice_id == invoice.id)[0].line_id == own_line.id

    with pytest.raises(ValidationFailed) as excinfo:
        create_invoice(actor=accounting, contract_id=contract.id, period="2024-06",
                       items=[_item(1980), _item(500, line_id=other_line.id)])
    assert excinfo.value.fields == {"items.1.line_id": "この回線は請求先の契約の回線ではありません。"}
    assert len(_all(Invoice)) == 1 and len(_all(InvoiceItem)) == 1


def test_period_items_and_contract_are_validated_in_japanese(world, accounting):
    with pytest.raises(ValidationFailed) as excinfo:
        create_invoice(actor=accounting, contract_id=9999, period="2024-13",
                       items=[{"description": "", "quantity": 0, "unit_price": 10.5}])
    assert excinfo.value.fields == {
        "period": "請求期間は YYYY-MM の形式で入力してください（例: 2024-05）。",
        "contract_id": "指定の契約が見つかりません。",
        "items.0.description": "明細の内容を入力してください。",
        "items.0.quantity": "数量は1以上の整数で入力してください。",
        "items.0.unit_price": "単価は円単位の整数で入力してください。",
    }
    with pytest.raises(ValidationFailed) as excinfo:
        create_invoice(actor=accounting, contract_id=world.contract().id, period="2024-05", items=[])
    assert excinfo.value.fields == {"items": "明細を1行以上入力してください。"}
    assert _all(Invoice) == []


def test_second_invoice_for_the_same_contract_and_period_is_refused(world, accounting):
    contract = world.contract()
    first = create_invoice(actor=accounting, contract_id=contract.id, period="2024-05", items=[_item(1980)])

    with pytest.raises(Conflict) as excinfo:
        create_invoice(actor=accounting, contract_id=contract.id, period="2024-05", items=[_item(1980)])

    assert first.invoice_no in excinfo.value.message and "既にあります" in excinfo.value.message
    assert len(_all(Invoice)) == 1


def test_voided_period_can_be_invoiced_again(world, accounting):
    contract = world.contract()
    first = create_invoice(actor=accounting, contract_id=contract.id, period="2024-05", items=[_item(1980)])
    void_invoice(first.id, actor=accounting, reason="金額誤り")

    second = create_invoice(actor=accounting, contract_id=contract.id, period="2024-05", items=[_item(2980)])

    assert second.invoice_no != first.invoice_no and second.total == 3278


def test_issue_sets_tokyo_issue_date_and_due_end_of_next_month(world, accounting, monkeypatch):
    invoice = world.invoice(issued=False)
    monkeypatch.setattr(billing_module, "today_in_tokyo", lambda: date(2024, 1, 31))

    issued = issue_invoice(invoice.id, actor=accounting)

    assert (issued.status, issued.issue_date, issued.due_date) == ("issued", date(2024, 1, 31), date(2024, 2, 29))
    assert len(_all(AuditEntry, AuditEntry.action == "invoice.issue")) == 1


@pytest.mark.parametrize(("day", "due"), [
    (date(2024, 1, 31), date(2024, 2, 29)),
    (date(2023, 1, 1), date(2023, 2, 28)),
    (date(2024, 11, 15), date(2024, 12, 31)),
    (date(2024, 12, 1), date(2025, 1, 31)),
])
def test_due_date_is_the_end_of_next_month(day, due):
    assert end_of_next_month(day) == due


def test_issue_date_is_the_date_in_tokyo(monkeypatch):
    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2024, 3, 31, 16, 30, tzinfo=UTC).astimezone(tz)

    monkeypatch.setattr(clock, "datetime", FrozenDatetime)
    assert clock.today_in_tokyo() == date(2024, 4, 1)  # 16:30 UTC is 01:30 next day in Tokyo


def test_issuing_twice_changes_nothing(world, accounting):
    invoice = world.invoice(issued=False)
    first = issue_invoice(invoice.id, actor=accounting)

    again = issue_invoice(invoice.id, actor=accounting)

    assert (again.status, again.issue_date) == ("issued", first.issue_date)
    assert len(_all(AuditEntry, AuditEntry.action == "invoice.issue")) == 1


def test_void_invoice_cannot_be_issued(world, accounting):
    invoice = world.invoice(issued=False)
    void_invoice(invoice.id, actor=accounting, reason="重複作成")

    with pytest.raises(InvalidTransition) as excinfo:
        issue_invoice(invoice.id, actor=accounting)
    assert excinfo.value.message == "請求書が「無効」の状態では「発行」はできません。"


def test_void_needs_a_reason_and_is_idempotent(world, accounting):
    invoice = world.invoice()
    with pytest.raises(ValidationFailed) as excinfo:
        void_invoice(invoice.id, actor=accounting, reason=" ")
    assert excinfo.value.fields == {"reason": "理由を入力してください。"}

    void_invoice(invoice.id, actor=accounting, reason="請求先誤り")
    void_invoice(invoice.id, actor=accounting, reason="請求先誤り")

    [entry] = _all(AuditEntry, AuditEntry.action == "invoice.void")
    assert entry.reason == "請求先誤り"


def test_invoice_with_allocated_payment_cannot_be_voided(world, accounting):
    invoice = world.invoice()
    payment = world.payment(amount=5000)
    allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=5000)

    with pytest.raises(Conflict) as excinfo:
        void_invoice(invoice.id, actor=accounting, reason="金額誤り")

    assert "返金" in excinfo.value.message and "消込" in excinfo.value.message
    assert _all(Invoice)[0].status == "issued"


def test_invoice_can_be_voided_after_the_payment_is_refunded(world, accounting):
    invoice = world.invoice()
    payment = world.payment(amount=5000)
    allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=5000)
    refund_payment(payment.id, actor=accounting, reason="二重払いのため返金")

    assert void_invoice(invoice.id, actor=accounting, reason="金額誤り").status == "void"


@pytest.mark.parametrize("role", ["sales", "support", "nobody"])
def test_only_accounting_and_admin_manage_invoices(world, role, request):
    actor = request.getfixturevalue(role)
    contract = world.contract()
    draft = world.invoice(issued=False, period="2024-04")
    with pytest.raises(PermissionDenied):
        create_invoice(actor=actor, contract_id=contract.id, period="2024-05", items=[_item(1980)])
    with pytest.raises(PermissionDenied):
        issue_invoice(draft.id, actor=actor)
    with pytest.raises(PermissionDenied):
        void_invoice(draft.id, actor=actor, reason="x")
    assert [(i.id, i.status) for i in _all(Invoice)] == [(draft.id, "draft")]


@pytest.mark.parametrize(("allocated", "total", "state", "label"), [
    (0, 11000, "unpaid", "未収"),
    (1, 11000, "partially_paid", "一部入金"),
    (10999, 11000, "partially_paid", "一部入金"),
    (11000, 11000, "paid", "入金済"),
    (11001, 11000, "overpaid", "過入金"),
    (0, 0, "paid", "入金済"),
])
def test_invoice_payment_state(allocated, total, state, label):
    assert invoice_payment_state(allocated, total) == state
    assert PAYMENT_STATE_LABELS_JA[invoice_payment_state(allocated, total)] == label


def test_allocated_amounts_for_many_invoices_in_one_query(world, accounting, engine):
    customer_id = world.customer()
    contracts = [world.contract(customer_id) for _ in range(3)]
    paid, partial, unpaid = (world.invoice(c) for c in contracts)
    first, second = world.payment(20000), world.payment(3000)
    allocate_payment(first.id, actor=accounting, invoice_id=paid.id, amount=11000)
    allocate_payment(first.id, actor=accounting, invoice_id=partial.id, amount=4000)
    allocate_payment(second.id, actor=accounting, invoice_id=partial.id, amount=3000)

    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731  (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with read_session() as session:
            amounts = allocated_amounts(session, [paid.id, partial.id, unpaid.id])
    finally:
        event.remove(engine, "before_cursor_execute", listener)

    assert amounts == {paid.id: 11000, partial.id: 7000, unpaid.id: 0}
    assert len([s for s in statements if re.match(r"\s*SELECT", s, re.I)]) == 1
    states = {i: invoice_payment_state(amounts[i], 11000) for i in amounts}
    assert states == {paid.id: "paid", partial.id: "partially_paid", unpaid.id: "unpaid"}


def test_refunded_payment_no_longer_counts_as_paid(world, accounting):
    invoice = world.invoice()
    payment = world.payment(11000)
    allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=11000)
    refund_payment(payment.id, actor=accounting, reason="誤入金")

    with read_session() as session:
        assert allocated_amounts(session, [invoice.id]) == {invoice.id: 0}


def test_failure_while_auditing_leaves_no_invoice_and_no_items(world, accounting, monkeypatch):
    contract = world.contract()

    def failing_record(*args, **kwargs):
        real_record(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(billing_module, "record", failing_record)
    with pytest.raises(RuntimeError):
        create_invoice(actor=accounting, contract_id=contract.id, period="2024-05", items=[_item(1980)])

    assert _all(Invoice) == [] and _all(InvoiceItem) == []
    assert _all(AuditEntry, AuditEntry.action == "invoice.create") == []


def test_unmatched_payment_does_not_pay_any_invoice(world, accounting):
    invoice = world.invoice()
    mark_payment_unmatched(world.payment().id, actor=accounting, reason="該当なし")
    with read_session() as session:
        assert allocated_amounts(session, [invoice.id]) == {invoice.id: 0}
