"""Dunning (督促) under a frozen clock: the policy's steps on their days (notice, reminder, final notice,
suspension approved by the policy as the system), paying in full at any point, resumption by the next round,
the customer told at each step, every step audited; a payment delivered twice pays once."""

from __future__ import annotations

import json
from datetime import date, datetime, time

import pytest
from sqlmodel import select

from services.billing import card_payments, dunning, payments
from services.integrations.http import sign
from services.models import (
    ApprovalRequest,
    AuditEntry,
    DunningCase,
    Invoice,
    Line,
    Notification,
    Payment,
)
from services.platform import installation_secrets
from services.platform.clock import TOKYO
from services.platform.db import read_session, write_session
from services.workflow import webhooks
from tests.unit.frozen_time import freeze

OPENED = date(2026, 6, 2)  # the invoice was due on Monday 2026-06-01


def _tokyo(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TOKYO)


@pytest.fixture()
def clock(monkeypatch):
    return freeze(monkeypatch, date(2026, 4, 6))


@pytest.fixture()
def overdue(world, clock):
    """A contract with one number in service and its March invoice of 11,000 yen, issued on 2026-04-06 and
    due on Monday 2026-06-01 (May 31st is a Sunday)."""
    contract = world.active_contract()
    line = world.active_line(contract)
    invoice = world.invoice(contract, period="2026-03", unit_price=10000)
    assert (invoice.total, invoice.due_date) == (11000, date(2026, 6, 1))
    return invoice, line


def _advance(clock, moment: datetime) -> dict[str, int]:
    clock.at(moment)
    return dunning.advance(moment)


def _case(invoice_id: int) -> DunningCase:
    with read_session() as s:
        return s.exec(select(DunningCase).where(DunningCase.invoice_id == invoice_id)).one()


def _notices(customer_id: int) -> list[Notification]:
    with read_session() as s:
        return list(s.exec(select(Notification).where(Notification.customer_id == customer_id)
                           .order_by(Notification.id)).all())


def _line_status(line_id: int) -> str:
    with read_session() as s:
        return s.get(Line, line_id).status


def _pay(world, invoice, amount: int = 11000) -> Payment:
    money = payments.record_payment(actor=world.admin, amount=amount, method="bank_transfer", payer_name="ﾔﾏﾀﾞ ﾀﾛｳ")
    payments.allocate_payment(money.id, actor=world.admin, invoice_id=invoice.id, amount=amount)
    return money


def _actions(case_id: int) -> list[str]:
    with read_session() as s:
        return [e.action for e in s.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "dunning_case", AuditEntry.entity_id == case_id).order_by(AuditEntry.id)).all()]


# ---- the timeline -----------------------------------------------------------------------------------------

def test_nothing_happens_on_the_due_date_itself(world, overdue, clock):
    invoice, _ = overdue

    assert _advance(clock, _tokyo(date(2026, 6, 1), 23, 59)) == {"opened": 0}

    with read_session() as s:
        assert s.exec(select(DunningCase)).all() == []


def test_the_timeline_notice_reminder_final_notice_suspension_then_payment_and_resumption(world, overdue, clock):
    invoice, line = overdue

    # day 0: the case opens the day after the due date and the first notice goes out at once
    assert _advance(clock, _tokyo(OPENED)) == {"opened": 1, "payment_failed": 1}
    case = _case(invoice.id)
    assert (case.reason, case.status, case.step, case.started_on) == ("unpaid", "open", 1, OPENED)
    [first] = _notices(invoice.customer_id)
    assert first.kind == "payment_failed" and first.title == f"お支払いが確認できません（{invoice.invoice_no}）"
    # the deadline told: 20 days after the case opened, the day before suspension
    assert "お支払期限を過ぎても入金が確認できないため、￥11,000 のお支払いが確認できていません。" in first.body
    assert "2026年06月22日 までに" in first.body and first.link.endswith(f"/go/invoice/{invoice.id}")

    # day 6: nothing due; day 7 at 09:00 Tokyo: the reminder
    assert _advance(clock, _tokyo(date(2026, 6, 8), 23, 0)) == {"opened": 0}
    assert _advance(clock, _tokyo(date(2026, 6, 9), 9, 0)) == {"opened": 0, "payment_reminder": 1}
    # day 14: the final notice
    assert _advance(clock, _tokyo(date(2026, 6, 16), 9, 0)) == {"opened": 0, "payment_final_notice": 1}
    assert [n.kind for n in _notices(invoice.customer_id)] == ["payment_failed", "payment_reminder",
                                                               "payment_final_notice"]
    final = _notices(invoice.customer_id)[-1]
    assert final.title == f"【最終のご案内】2026年06月22日 までにお支払いください（{invoice.invoice_no}）"
    assert _line_status(line.id) == "active"

    # day 21: suspension, asked and approved by the dunning policy as the system
    assert _advance(clock, _tokyo(date(2026, 6, 23), 9, 0)) == {"opened": 0, "suspended_for_non_payment": 1}
    case = _case(invoice.id)
    assert (case.status, case.step, case.suspended_line_ids, case.next_step_at) == ("suspended", 4, str(line.id), None)
    with read_session() as s:
        [request] = s.exec(select(ApprovalRequest).where(ApprovalRequest.operation == "line.suspend")).all()
    assert (request.policy_rule, request.requested_by, request.status, request.line_id) == (
        "督促ポリシー", None, "executed", line.id)
    assert _line_status(line.id) == "suspending"
    world.carrier_done(line.id)
    assert _line_status(line.id) == "suspended"
    assert _advance(clock, _tokyo(date(2026, 6, 30), 9, 0)) == {"opened": 0}  # no fifth step

    # paying in full marks the case paid at once
    clock.at(_tokyo(date(2026, 7, 1), 14, 0))
    _pay(world, invoice)
    case = _case(invoice.id)
    assert case.status == "paid" and case.paid_at is not None

    # the next round resumes the line through the same policy and closes the case
    assert _advance(clock, _tokyo(date(2026, 7, 1), 14, 1)) == {"opened": 0, "resumed": 1}
    with read_session() as s:
        [resume] = s.exec(select(ApprovalRequest).where(ApprovalRequest.operation == "line.resume")).all()
    assert (resume.policy_rule, resume.requested_by, resume.status) == ("督促ポリシー", None, "executed")
    assert _line_status(line.id) == "resuming"
    world.carrier_done(line.id)
    assert _line_status(line.id) == "active"
    case = _case(invoice.id)
    assert case.status == "closed" and case.resumed_at is not None
    resumed = _notices(invoice.customer_id)[-1]
    assert (resumed.kind, resumed.title) == ("resumed_after_payment", "ご利用を再開しました")
    assert invoice.invoice_no in resumed.body

    # every step is in the audit trail
    assert _actions(case.id) == ["dunning.open", "dunning.step1", "dunning.step2", "dunning.step3", "dunning.step4",
                                 "dunning.pay", "dunning.close"]
    with read_session() as s:
        policy = [(e.action, e.actor_kind) for e in s.exec(select(AuditEntry).where(
            AuditEntry.action == "approval.policy_approve").order_by(AuditEntry.id)).all()]
        line_actions = [e.action for e in s.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "line", AuditEntry.entity_id == line.id).order_by(AuditEntry.id)).all()]
    assert policy == [("approval.policy_approve", "system"), ("approval.policy_approve", "system")]
    assert line_actions[-4:] == ["line.suspend", "line.carrier_confirmed", "line.resume", "line.carrier_confirmed"]


def test_paying_before_suspension_closes_the_case_without_suspending(world, overdue, clock):
    invoice, line = overdue
    _advance(clock, _tokyo(OPENED))
    _advance(clock, _tokyo(date(2026, 6, 9), 9, 0))

    clock.at(_tokyo(date(2026, 6, 10), 12, 0))
    _pay(world, invoice)
    assert _case(invoice.id).status == "paid"
    outcome = _advance(clock, _tokyo(date(2026, 6, 10), 12, 1))
    later = _advance(clock, _tokyo(date(2026, 6, 23), 9, 0))

    assert outcome == {"opened": 0, "closed": 1} and later == {"opened": 0}
    case = _case(invoice.id)
    assert (case.status, case.resumed_at, case.suspended_line_ids) == ("closed", None, None)
    assert _line_status(line.id) == "active"
    assert [n.kind for n in _notices(invoice.customer_id)] == ["payment_failed", "payment_reminder"]


def test_a_part_payment_does_not_stop_dunning_and_the_notices_ask_for_what_is_left(world, overdue, clock):
    invoice, _ = overdue
    _advance(clock, _tokyo(OPENED))

    _pay(world, invoice, 6000)
    _advance(clock, _tokyo(date(2026, 6, 9), 9, 0))

    assert _case(invoice.id).status == "open"
    assert "￥5,000 のお支払いがまだ確認できていません。" in _notices(invoice.customer_id)[-1].body  # 11,000 − 6,000


def test_a_failed_withdrawal_opens_a_case_whose_first_notice_says_why(world, overdue, clock):
    invoice, _ = overdue
    with write_session() as s:
        dunning.open_case(s, s.get(Invoice, invoice.id), "debit_failed")

    assert _advance(clock, _tokyo(date(2026, 4, 6), 10, 5)) == {"opened": 0, "payment_failed": 1}

    [notice] = _notices(invoice.customer_id)
    assert notice.body.endswith("お支払い方法は次のリンクからご確認いただけます。")
    assert "口座振替ができなかったため、￥11,000 のお支払いが確認できていません。" in notice.body
    assert "2026年04月26日 までに" in notice.body  # 2026-04-06 + 20 days


def test_a_declined_card_charge_opens_a_case_whose_first_notice_says_why_and_by_when(world, overdue, clock,
                                                                                     monkeypatch):
    invoice, _ = overdue
    op = card_payments.charge_invoice(invoice.id, actor=world.admin)
    event = {"id": "evt_card_no", "type": "charge.failed", "sequence": 1,
             "data": {"id": "ch_no", "status": "failed", "idempotency_key": op.idempotency_key, "amount": 11000,
                      "failure_code": "card_declined"}}

    _deliver(monkeypatch, "payment", event, event)  # the gateway's webhook, delivered twice

    case = _case(invoice.id)
    assert (case.reason, case.status) == ("card_failed", "open")
    assert _advance(clock, _tokyo(date(2026, 4, 6), 10, 5)) == {"opened": 0, "payment_failed": 1}
    [notice] = [n for n in _notices(invoice.customer_id) if n.channel == "in_app"]
    assert "クレジットカードでの決済ができなかったため、￥11,000 のお支払いが確認できていません。" in notice.body
    assert "2026年04月26日 までに" in notice.body  # 2026-04-06 + 20 days
    assert notice.link.endswith(f"/go/invoice/{invoice.id}")


# ---- a payment delivered twice ---------------------------------------------------------------------------

def _deliver(monkeypatch, provider: str, *events: dict) -> list[str]:
    """Accept each signed webhook as the web app would, then process what was queued, as the worker would."""
    queued: list[int] = []
    monkeypatch.setattr(webhooks, "_enqueue", queued.append)
    for event in events:
        body = json.dumps(event, ensure_ascii=False).encode()
        webhooks.accept(provider, body, sign(body, installation_secrets.webhook_secret(provider)))
    return [webhooks.process_event(row_id) for row_id in queued]


def test_a_bank_transfer_notified_twice_pays_the_case_once(world, overdue, clock, monkeypatch):
    invoice, _ = overdue
    _advance(clock, _tokyo(OPENED))
    event = {"id": "evt_pay_1", "type": "transfer.received", "sequence": 1, "subject": "1234567",
             "data": {"id": "trf_pay_1", "inquiry_number": 7, "amount": 11000, "direction": "in",
                      "payer_name": "ﾔﾏﾀﾞ ﾀﾛｳ", "edi": invoice.invoice_no, "booked_on": "2026-06-03",
                      "created_at": "2026-06-03T01:00:00.000+00:00"}}

    # the same event twice, and the same transfer under another event id
    results = _deliver(monkeypatch, "bank", event, event, {**event, "id": "evt_pay_1_again"})

    with read_session() as s:
        transfers = s.exec(select(Payment).where(Payment.method == "bank_transfer")).all()
    assert len(transfers) == 1 and results[-1] == f"payment #{transfers[0].id} already recorded"
    case = _case(invoice.id)
    assert case.status == "paid"
    assert _actions(case.id).count("dunning.pay") == 1


def test_a_card_payment_webhook_delivered_twice_pays_the_case_once(world, overdue, clock, monkeypatch):
    invoice, _ = overdue
    _advance(clock, _tokyo(OPENED))
    op = card_payments.charge_invoice(invoice.id, actor=world.admin)
    event = {"id": "evt_card_1", "type": "charge.succeeded", "sequence": 1,
             "data": {"id": "ch_1", "status": "succeeded", "idempotency_key": op.idempotency_key, "amount": 11000}}

    _deliver(monkeypatch, "payment", event, event, {**event, "id": "evt_card_1b"})

    with read_session() as s:
        cards = s.exec(select(Payment).where(Payment.method == "card")).all()
    assert [(p.amount, p.external_ref) for p in cards] == [(11000, "ch_1")]
    case = _case(invoice.id)
    assert case.status == "paid" and _actions(case.id).count("dunning.pay") == 1


def test_a_payment_that_arrives_before_the_carrier_confirms_the_suspension_still_resumes_the_line(
        world, overdue, clock):
    invoice, line = overdue
    for moment in (_tokyo(OPENED), _tokyo(date(2026, 6, 9), 9), _tokyo(date(2026, 6, 16), 9),
                   _tokyo(date(2026, 6, 23), 9)):
        _advance(clock, moment)
    assert _line_status(line.id) == "suspending"  # the carrier has not answered yet

    _pay(world, invoice)
    # a round while the suspension is still on its way: the case waits for it
    assert _advance(clock, _tokyo(date(2026, 6, 23), 9, 1)) == {"opened": 0, "waiting": 1}
    assert _case(invoice.id).status == "paid"
    world.carrier_done(line.id)                      # the carrier confirms the suspension
    assert _line_status(line.id) == "suspended"
    _advance(clock, _tokyo(date(2026, 6, 23), 9, 2))
    world.carrier_done(line.id)

    assert _line_status(line.id) == "active"
    case = _case(invoice.id)
    assert case.status == "closed" and case.resumed_at is not None
    assert [n.kind for n in _notices(invoice.customer_id)][-1] == "resumed_after_payment"
