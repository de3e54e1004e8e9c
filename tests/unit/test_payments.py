"""Payments: recording, allocation (消込) rules, unmatched and refunds, permissions, atomicity."""

from __future__ import annotations

import pytest
from sqlmodel import select

import services.billing.allocation as allocation_module
from services.billing.allocation import allocated_amounts, invoice_payment_state
from services.billing.invoices import void_invoice
from services.billing.payments import (
    allocate_payment,
    mark_payment_unmatched,
    record_payment,
    refund_payment,
)
from services.models import AuditEntry, Payment, PaymentAllocation
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


def _payment(payment_id: int) -> Payment:
    with read_session() as session:
        return session.get(Payment, payment_id)


def _state(invoice) -> str:
    with read_session() as session:
        return invoice_payment_state(allocated_amounts(session, [invoice.id])[invoice.id], invoice.total)


def test_record_payment_is_received_without_a_customer(engine, accounting):
    payment = record_payment(actor=accounting, amount=11000, method="bank_transfer",
                             payer_name=" ヤマダ タロウ ", reference="ZENGIN-20240531-001")

    assert (payment.status, payment.amount, payment.customer_id, payment.payer_name) == (
        "received", 11000, None, "ヤマダ タロウ")
    [entry] = _all(AuditEntry, AuditEntry.action == "payment.record")
    assert entry.entity_id == payment.id


@pytest.mark.parametrize("amount", [0, -100, 10.5, "1000", True, None])
def test_payment_amount_must_be_a_positive_whole_yen(engine, accounting, amount):
    with pytest.raises(ValidationFailed) as excinfo:
        record_payment(actor=accounting, amount=amount, method="bank_transfer", payer_name="ヤマダ")
    assert excinfo.value.fields == {"amount": "入金額は1円以上の整数で入力してください。"}
    assert _all(Payment) == []


def test_method_payer_and_customer_are_validated(engine, accounting):
    with pytest.raises(ValidationFailed) as excinfo:
        record_payment(actor=accounting, amount=1000, method="cash", payer_name="", customer_id=9999)
    assert set(excinfo.value.fields) == {"method", "payer_name", "customer_id"}
    assert "銀行振込" in excinfo.value.fields["method"]


@pytest.mark.parametrize("role", ["sales", "support", "nobody"])
def test_only_accounting_and_admin_manage_payments(world, role, request):
    actor = request.getfixturevalue(role)
    invoice, payment = world.invoice(), world.payment()
    with pytest.raises(PermissionDenied):
        record_payment(actor=actor, amount=1000, method="card", payer_name="ヤマダ")
    with pytest.raises(PermissionDenied):
        allocate_payment(payment.id, actor=actor, invoice_id=invoice.id, amount=1000)
    with pytest.raises(PermissionDenied):
        mark_payment_unmatched(payment.id, actor=actor, reason="x")
    with pytest.raises(PermissionDenied):
        refund_payment(payment.id, actor=actor, reason="x")
    assert len(_all(Payment)) == 1 and _all(PaymentAllocation) == []
    assert _payment(payment.id).status == "received"


def test_allocation_matches_the_payment_and_takes_the_invoice_customer(world, accounting):
    invoice, payment = world.invoice(), world.payment(11000)

    allocation = allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=11000)

    assert (allocation.payment_id, allocation.invoice_id, allocation.amount) == (payment.id, invoice.id, 11000)
    stored = _payment(payment.id)
    assert (stored.status, stored.customer_id) == ("matched", invoice.customer_id)
    assert _state(invoice) == "paid"
    [entry] = _all(AuditEntry, AuditEntry.action == "payment.allocate")
    assert (entry.entity_type, entry.entity_id, entry.customer_id) == ("payment", payment.id, invoice.customer_id)


def test_one_payment_can_be_split_across_invoices(world, accounting):
    customer_id = world.customer()
    first, second = world.invoice(world.contract(customer_id)), world.invoice(world.contract(customer_id))
    payment = world.payment(22000)

    allocate_payment(payment.id, actor=accounting, invoice_id=first.id, amount=11000)
    allocate_payment(payment.id, actor=accounting, invoice_id=second.id, amount=11000)

    assert (_state(first), _state(second)) == ("paid", "paid")
    assert _payment(payment.id).status == "matched"


def test_allocation_cannot_exceed_payment_amount(world, accounting):
    customer_id = world.customer()
    first, second = world.invoice(world.contract(customer_id)), world.invoice(world.contract(customer_id))
    payment = world.payment(15000)
    allocate_payment(payment.id, actor=accounting, invoice_id=first.id, amount=11000)

    with pytest.raises(ValidationFailed) as excinfo:
        allocate_payment(payment.id, actor=accounting, invoice_id=second.id, amount=5000)

    assert excinfo.value.fields == {"amount": "入金額を超えて消込できません（消込可能な残額: 4,000円）。"}
    assert len(_all(PaymentAllocation)) == 1
    assert _state(second) == "unpaid"


def test_failed_first_allocation_leaves_the_payment_untouched(world, accounting):
    invoice, payment = world.invoice(), world.payment(5000)

    with pytest.raises(ValidationFailed):
        allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=5001)

    stored = _payment(payment.id)
    assert (stored.status, stored.customer_id) == ("received", None)
    assert _all(PaymentAllocation) == [] and _all(AuditEntry, AuditEntry.action == "payment.allocate") == []


def test_partially_paid_invoice_state(world, accounting):
    invoice, payment = world.invoice(), world.payment(5000)
    allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=5000)
    assert _state(invoice) == "partially_paid"


def test_overpaid_invoice_state(world, accounting):
    customer_id = world.customer()
    invoice = world.invoice(world.contract(customer_id))  # total 11,000
    first, second = world.payment(11000), world.payment(2000)
    allocate_payment(first.id, actor=accounting, invoice_id=invoice.id, amount=11000)

    allocate_payment(second.id, actor=accounting, invoice_id=invoice.id, amount=2000)

    assert _state(invoice) == "overpaid"


def test_allocation_to_draft_or_void_invoice_is_refused(world, accounting):
    draft, voided = world.invoice(issued=False), world.invoice()
    void_invoice(voided.id, actor=accounting, reason="誤発行")
    payment = world.payment()

    with pytest.raises(ValidationFailed) as excinfo:
        allocate_payment(payment.id, actor=accounting, invoice_id=draft.id, amount=1000)
    assert "発行済の請求書にのみ" in excinfo.value.fields["invoice_id"]
    with pytest.raises(ValidationFailed) as excinfo:
        allocate_payment(payment.id, actor=accounting, invoice_id=voided.id, amount=1000)
    assert "無効化された請求書" in excinfo.value.fields["invoice_id"]
    with pytest.raises(ValidationFailed) as excinfo:
        allocate_payment(payment.id, actor=accounting, invoice_id=9999, amount=1000)
    assert excinfo.value.fields == {"invoice_id": "指定の請求書が見つかりません。"}
    assert _all(PaymentAllocation) == [] and _payment(payment.id).status == "received"


def test_allocation_to_another_customers_invoice_is_refused(world, accounting):
    mine = world.invoice(world.contract(world.customer()))
    theirs = world.invoice(world.contract(world.customer("佐藤 次郎", "サトウ ジロウ")))
    payment = world.payment(30000)
    allocate_payment(payment.id, actor=accounting, invoice_id=mine.id, amount=11000)

    with pytest.raises(ValidationFailed) as excinfo:
        allocate_payment(payment.id, actor=accounting, invoice_id=theirs.id, amount=11000)

    assert excinfo.value.fields == {"invoice_id": "入金の顧客と請求書の顧客が一致しません。"}
    assert _state(theirs) == "unpaid"


def test_repeated_allocation_to_the_same_invoice_is_refused_as_duplicate(world, accounting):
    invoice, payment = world.invoice(), world.payment(20000)
    allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=5000)

    with pytest.raises(Conflict) as excinfo:
        allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=5000)

    assert invoice.invoice_no in excinfo.value.message and "二重" in excinfo.value.message
    assert len(_all(PaymentAllocation)) == 1
    assert len(_all(AuditEntry, AuditEntry.action == "payment.allocate")) == 1


def test_allocation_amount_must_be_positive(world, accounting):
    invoice, payment = world.invoice(), world.payment()
    with pytest.raises(ValidationFailed) as excinfo:
        allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=0)
    assert excinfo.value.fields == {"amount": "消込額は1円以上の整数で入力してください。"}


def test_unmatched_payment_can_be_matched_later(world, accounting):
    invoice, payment = world.invoice(), world.payment(11000)
    mark_payment_unmatched(payment.id, actor=accounting, reason="振込名義が不一致")
    assert _payment(payment.id).status == "unmatched"

    allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=11000)

    assert _payment(payment.id).status == "matched"


def test_marking_unmatched_twice_writes_one_audit_entry(world, accounting):
    payment = world.payment()
    mark_payment_unmatched(payment.id, actor=accounting, reason="該当なし")
    mark_payment_unmatched(payment.id, actor=accounting, reason="該当なし")
    [entry] = _all(AuditEntry, AuditEntry.action == "payment.mark_unmatched")
    assert entry.reason == "該当なし"


def test_refund_needs_a_reason_and_is_recorded_once(world, accounting):
    invoice, payment = world.invoice(), world.payment(11000)
    allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=11000)
    with pytest.raises(ValidationFailed) as excinfo:
        refund_payment(payment.id, actor=accounting, reason="")
    assert excinfo.value.fields == {"reason": "理由を入力してください。"}

    refund_payment(payment.id, actor=accounting, reason="二重払い")
    refund_payment(payment.id, actor=accounting, reason="二重払い")

    assert _payment(payment.id).status == "refunded"
    assert len(_all(AuditEntry, AuditEntry.action == "payment.refund")) == 1
    assert _state(invoice) == "unpaid"


def test_received_payment_must_be_classified_before_refund(world, accounting):
    payment = world.payment()
    with pytest.raises(InvalidTransition) as excinfo:
        refund_payment(payment.id, actor=accounting, reason="返金依頼")
    assert excinfo.value.message == "入金が「受領」の状態では「返金」はできません。"


def test_refunded_payment_cannot_be_allocated(world, accounting):
    invoice, payment = world.invoice(), world.payment()
    mark_payment_unmatched(payment.id, actor=accounting, reason="該当なし")
    refund_payment(payment.id, actor=accounting, reason="振込人へ返金")

    with pytest.raises(InvalidTransition, match="返金済"):
        allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=1000)
    assert _all(PaymentAllocation) == []


def test_failure_while_auditing_leaves_no_allocation_and_payment_unchanged(world, accounting, monkeypatch):
    invoice, payment = world.invoice(), world.payment(11000)

    def failing_record(*args, **kwargs):
        real_record(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(allocation_module, "record", failing_record)  # the allocation's audit is written there
    with pytest.raises(RuntimeError):
        allocate_payment(payment.id, actor=accounting, invoice_id=invoice.id, amount=11000)

    stored = _payment(payment.id)
    assert (stored.status, stored.customer_id) == ("received", None)
    assert _all(PaymentAllocation) == [] and _all(AuditEntry, AuditEntry.action == "payment.allocate") == []
