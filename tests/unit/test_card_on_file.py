"""A card on file (カード払いの登録): the 法人管理者 registers a card on the gateway's page in setup mode, and every bill
issued afterwards is charged to it once — unless 口座振替 is registered, which takes precedence. The product's
services and payment_client against the payment sandbox's own app in process (Starlette's TestClient behind PaymentClient),
the webhooks signed with the installation's secret and taken in through the real webhook intake.

Figures are written by hand: a bill of 10,000 yen + 10% tax = 11,000 yen; a month of a 3,300-yen plan + 10% tax =
3,630 yen."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from services.billing import billing_runs, card_on_file, card_payments, direct_debit, invoices
from services.billing.allocation import allocated_amounts
from services.integrations.payment import PaymentClient
from services.models import (
    AuditEntry,
    CardSetup,
    Customer,
    CustomerCard,
    DunningCase,
    ExternalOperation,
    Invoice,
    Notification,
    Payment,
    ReviewItem,
)
from services.platform.db import read_session, write_session
from services.platform.errors import NotFound, PermissionDenied, ValidationFailed
from services.platform.identifiers import customer_code
from services.read.customer import notices as my_notices
from services.read.customer import payments as my_payments
from services.tasks import outbox
from tests.unit.card_gateway import customer_token, deliver, ledger_rows, my_state, open_page, webhook_events
from tests.unit.customer_builders import company_user, customer_actor
from tests.unit.frozen_time import freeze

OK_CARD, DECLINED_CARD, DECLINES_LATER = "4242 4242 4242 4242", "4000 0000 0000 0002", "4000 0000 0000 0341"
EXPIRY = "12/30"
BACK = {"success_url": "http://app.test/my/payment?card=done", "cancel_url": "http://app.test/my/payment?card=back"}


@pytest.fixture()
def company(world):
    """A customer's 法人管理者 and a 利用者 allowed to see bills (customer id, admin, user)."""
    customer_id = world.contract().customer_id
    admin = customer_actor(company_user(customer_id, f"admin{world.n()}@example.jp", role="customer_admin",
                                        name="法人 管理者"))
    user = customer_actor(company_user(customer_id, f"user{world.n()}@example.jp", can_view_bills=True))
    return customer_id, admin, user


def _register(gateway: TestClient, url: str, card: str, expiry: str = EXPIRY) -> httpx.Response:
    return gateway.post(httpx.URL(url).path, data={"card_number": card, "card_expiry": expiry})


def _register_card(admin, gateway, payment_client, sent_tasks, card: str = OK_CARD) -> dict:
    """The whole registration: tap, the outbox opens the page, the card is typed, the webhook comes in."""
    card_on_file.start_card_setup(actor=admin, **BACK)
    open_page(payment_client, "card_setup")
    assert _register(gateway, card_on_file.card_setup_status(actor=admin)["setup_url"], card).status_code == 303
    deliver(webhook_events(gateway, "setup.completed")[-1], sent_tasks)
    return card_on_file.card_setup_status(actor=admin)["card"]


def _cards(customer_id: int) -> list[tuple[str, str, str]]:
    with read_session() as s:
        return [(c.brand, c.last4, c.status) for c in s.exec(
            select(CustomerCard).where(CustomerCard.customer_id == customer_id).order_by(CustomerCard.id))]


def _charges(invoice_id: int) -> list[ExternalOperation]:
    with read_session() as s:
        return list(s.exec(select(ExternalOperation).where(ExternalOperation.operation == "charge",
                                                           ExternalOperation.invoice_id == invoice_id)))


def _bill(world, customer_id: int, *, issued: bool = True) -> Invoice:
    """A bill of 11,000 yen of the customer (issued by accounting, unless asked for a draft)."""
    return world.invoice(world.contract(customer_id), issued=issued)


# ---- registering ---------------------------------------------------------------------------------------------

def test_the_company_admin_registers_a_card_declined_first_and_the_same_webhook_twice_stores_once(
        company, gateway, payment_client, sent_tasks):
    customer_id, admin, _ = company
    first = card_on_file.start_card_setup(actor=admin, **BACK)
    again = card_on_file.start_card_setup(actor=admin, **BACK)  # a double tap

    assert (first["status"], first["preparing"], first["setup_url"]) == ("open", True, "")
    assert again["id"] == first["id"]
    with read_session() as s:
        assert len(s.exec(select(ExternalOperation).where(ExternalOperation.operation == "card_setup")).all()) == 1
        assert [e.action for e in s.exec(select(AuditEntry).where(AuditEntry.actor_kind == "customer"))] == [
            "card_setup.start"]
    op = open_page(payment_client, "card_setup")
    assert json.loads(op.payload_json)["client_reference_id"] == f"cset{first['id']}"
    page = card_on_file.card_setup_status(actor=admin)
    assert page["setup_url"].startswith("http://testserver/setup/pay/seti_") and not page["preparing"]
    form = gateway.get(httpx.URL(page["setup_url"]).path)
    assert form.status_code == 200 and "¥" not in form.text  # no amount: nothing is charged here
    assert '<label for="card_number">' in form.text and 'for="card_expiry"' in form.text

    declined = _register(gateway, page["setup_url"], DECLINED_CARD)
    assert declined.status_code == 402 and "承認されませんでした" in declined.text
    assert webhook_events(gateway, "setup.completed") == [] and _cards(customer_id) == []
    done = _register(gateway, page["setup_url"], OK_CARD)
    assert (done.status_code, done.headers["location"]) == (303, BACK["success_url"])
    assert card_on_file.card_setup_status(actor=admin)["status"] == "open"  # until the webhook comes

    [event] = webhook_events(gateway, "setup.completed")
    assert deliver(event, sent_tasks).startswith("card #")
    assert deliver(event, sent_tasks) == "duplicate"  # the same delivery again
    resent = {**event, "id": event["id"] + "x"}  # the gateway sending it again as a new event
    assert deliver(resent, sent_tasks) == f"card setup #{first['id']}: card already stored"

    assert _cards(customer_id) == [("visa", "4242", "active")]
    status = card_on_file.card_setup_status(actor=admin)
    assert (status["status"], status["status_label"], status["completed"]) == ("completed", "登録済み", True)
    assert (status["card"]["masked"], status["card"]["expiry"]) == ("VISA ****4242", "12/30")
    with read_session() as s:
        card = s.exec(select(CustomerCard)).one()
        assert (card.gateway_ref, card.exp_month, card.exp_year, card.registered_by_customer_user_id) == (
            event["data"]["payment_method"], 12, 2030, admin.id)
        assert [e.action for e in s.exec(select(AuditEntry).where(AuditEntry.entity_type == "customer_card"))] == [
            "customer_card.register"]
    shown = my_payments.my_payment_method(actor=admin)
    assert (shown["method"], shown["method_label"], shown["card"]["masked"], shown["can_manage_card"]) == (
        "card_on_file", "登録カードで自動払い", "VISA ****4242", True)


def test_a_new_card_replaces_the_old_one(company, gateway, payment_client, sent_tasks):
    customer_id, admin, _ = company
    old = _register_card(admin, gateway, payment_client, sent_tasks)
    new = _register_card(admin, gateway, payment_client, sent_tasks, DECLINES_LATER)

    assert new["id"] != old["id"]
    assert _cards(customer_id) == [("visa", "4242", "replaced"), ("visa", "0341", "active")]
    assert my_payments.my_payment_method(actor=admin)["card"]["masked"] == "VISA ****0341"


def test_removing_the_card_is_audited_with_its_reason_and_bills_are_paid_by_hand_again(
        world, company, gateway, payment_client, sent_tasks):
    customer_id, admin, _ = company
    card = _register_card(admin, gateway, payment_client, sent_tasks)
    with pytest.raises(ValidationFailed):
        card_on_file.remove_card(card["id"], actor=admin, reason=" ")

    removed = card_on_file.remove_card(card["id"], actor=admin, reason="別の方法で支払うため")
    again = card_on_file.remove_card(card["id"], actor=admin, reason="二度押し")  # nothing more happens

    assert (removed["status"], again["status"]) == ("removed", "removed")
    with read_session() as s:
        entries = s.exec(select(AuditEntry).where(AuditEntry.action == "customer_card.remove")).all()
        assert [(e.actor_id, e.reason) for e in entries] == [(admin.id, "別の方法で支払うため")]
        assert s.get(CustomerCard, card["id"]).removed_at is not None
    assert my_payments.my_payment_method(actor=admin)["method"] == "per_bill"
    invoice = _bill(world, customer_id)
    assert _charges(invoice.id) == []


def test_the_company_is_told_when_a_card_is_registered_and_when_it_is_removed(
        company, gateway, payment_client, sent_tasks):
    customer_id, admin, user = company
    with write_session() as s:
        s.get(Customer, customer_id).email = "keiri@example.jp"
    card = _register_card(admin, gateway, payment_client, sent_tasks)
    card_on_file.remove_card(card["id"], actor=admin, reason="別の方法で支払うため")

    with read_session() as s:
        notes = s.exec(select(Notification).where(Notification.customer_id == customer_id)
                       .order_by(Notification.id)).all()
        audits = {e.action: json.loads(e.after_json) for e in s.exec(select(AuditEntry).where(
            AuditEntry.entity_type == "customer_card"))}
    assert [(n.kind, n.channel) for n in notes] == [
        ("payment_method.card_registered", "mail"), ("payment_method.card_registered", "in_app"),
        ("payment_method.card_removed", "mail"), ("payment_method.card_removed", "in_app")]
    registered, removed = notes[1], notes[3]
    assert registered.title == "お支払いに使うカードを登録しました"
    assert registered.body.startswith("VISA ****4242（有効期限 12/30）を登録しました。")
    assert removed.body.startswith("VISA ****4242の登録を解除しました。")
    assert "お心当たりがない場合は、至急お問い合わせください" in removed.body
    assert registered.link.endswith(f"/go/payment_method/{card['id']}")
    assert audits["customer_card.register"]["notification_ids"] == [notes[0].id, notes[1].id]
    assert audits["customer_card.remove"]["notification_ids"] == [notes[2].id, notes[3].id]
    # a person who may see bills sees them; the notices are about payments (services.ledger.notices_read)
    assert [n["kind"] for n in my_notices.my_notifications(actor=user)] == [
        "payment_method.card_removed", "payment_method.card_registered"]


def test_a_user_sees_the_method_but_may_not_change_it_and_staff_are_denied(
        world, company, gateway, payment_client, sent_tasks, engine):
    customer_id, admin, user = company
    card = _register_card(admin, gateway, payment_client, sent_tasks)
    before = ledger_rows(engine)

    for call in (lambda actor: card_on_file.start_card_setup(actor=actor, **BACK),
                 lambda actor: card_on_file.card_setup_status(actor=actor),
                 lambda actor: card_on_file.remove_card(card["id"], actor=actor, reason="解除")):
        with pytest.raises(PermissionDenied, match="法人管理者"):
            call(user)
        with pytest.raises(PermissionDenied):
            call(world.admin)

    assert ledger_rows(engine) == before
    shown = my_payments.my_payment_method(actor=user)
    assert (shown["method"], shown["card"]["masked"], shown["can_manage_card"]) == (
        "card_on_file", "VISA ****4242", False)
    assert [c["masked"] for c in card_on_file.customer_cards(customer_id, actor=world.admin)] == ["VISA ****4242"]


def test_another_companys_admin_cannot_remove_the_card_and_registers_only_their_own(
        world, company, gateway, payment_client, sent_tasks, engine):
    customer_id, admin, _ = company
    card = _register_card(admin, gateway, payment_client, sent_tasks)
    other = world.contract().customer_id
    stranger = customer_actor(company_user(other, "boss@other.example.jp", role="customer_admin"))
    before = ledger_rows(engine)

    with pytest.raises(NotFound) as refused:
        card_on_file.remove_card(card["id"], actor=stranger, reason="解除")
    with pytest.raises(NotFound) as missing:
        card_on_file.remove_card(10**6, actor=stranger, reason="解除")

    assert refused.value.message == missing.value.message == "登録カードが見つかりません。"
    assert ledger_rows(engine) == before
    assert card_on_file.card_setup_status(actor=stranger) == {}  # our registration is not theirs to see
    theirs = card_on_file.start_card_setup(actor=stranger, **BACK)
    with read_session() as s:
        assert s.get(CardSetup, theirs["id"]).customer_id == other
    assert _cards(customer_id) == [("visa", "4242", "active")]


def test_a_webhook_for_a_registration_the_ledger_does_not_know_stores_nothing_and_asks_staff(engine, sent_tasks):
    event = {"id": "evt_unknown", "type": "setup.completed", "data": {
        "id": "seti_nobody", "payment_method": "pm_nobody", "brand": "visa", "last4": "4242", "exp_month": 12,
        "exp_year": 2030, "client_reference_id": "cset999"}}
    assert deliver(event, sent_tasks) == "no matching card setup"
    with read_session() as s:
        assert s.exec(select(CustomerCard)).all() == []
        assert [i.kind for i in s.exec(select(ReviewItem))] == ["payment.card_setup.unmatched"]


def test_a_page_the_gateway_refused_to_open_is_cancelled_and_a_new_tap_opens_another(company):
    _, admin, _ = company
    first = card_on_file.start_card_setup(actor=admin, **BACK)
    refusing = PaymentClient("http://gw.test", transport=httpx.MockTransport(
        lambda r: httpx.Response(400, json={"error": "invalid_success_url", "message": "no"})))
    with read_session() as s:
        op = s.exec(select(ExternalOperation).where(ExternalOperation.operation == "card_setup")).one()

    assert outbox.run_operation(op.id, client=refusing) == "failed"

    assert card_on_file.card_setup_status(actor=admin)["status"] == "cancelled"
    assert card_on_file.start_card_setup(actor=admin, **BACK)["id"] != first["id"]


# ---- every bill issued afterwards is charged to it ----------------------------------------------------------------

def test_issuing_a_bill_charges_the_card_on_file_once_and_the_bill_says_so(
        world, company, gateway, payment_client, sent_tasks):
    customer_id, admin, _ = company
    card = _register_card(admin, gateway, payment_client, sent_tasks)
    draft = _bill(world, customer_id, issued=False)

    invoices.issue_invoice(draft.id, actor=world.admin)
    invoices.issue_invoice(draft.id, actor=world.admin)  # issuing twice charges once

    [op] = _charges(draft.id)
    with read_session() as s:
        ref = s.get(CustomerCard, card["id"]).gateway_ref
        audit = s.exec(select(AuditEntry).where(AuditEntry.action == "invoice.charge_card")).one()
    assert json.loads(op.payload_json) == {
        "amount": 11000, "currency": "JPY", "customer_ref": customer_code(customer_id), "description": draft.invoice_no,
        "payment_method": ref}
    assert (audit.actor_kind, audit.reason) == ("system", "登録カード（VISA ****4242）への自動請求")
    with read_session() as s:
        assert card_payments.charge_card_on_file(s, s.get(Invoice, draft.id)) is None  # a rerun: nothing more
        s.rollback()
    shown = my_payments.bill_payment(draft.id, actor=admin)
    assert (shown["can_pay_by_card"], shown["charged_to"]) == (False, "VISA ****4242")

    assert outbox.run_operation(op.id, client=payment_client) == "succeeded"

    with read_session() as s:
        assert allocated_amounts(s, [draft.id])[draft.id] == 11000
        assert [(p.amount, p.method) for p in s.exec(select(Payment))] == [(11000, "card")]
    shown = my_payments.bill_payment(draft.id, actor=admin)
    assert (shown["owed_yen"], shown["can_pay_by_card"], shown["charged_to"]) == (0, False, "")


def test_a_billing_run_charges_each_bill_once_even_when_issuing_is_delivered_again(
        world, company, gateway, payment_client, sent_tasks, monkeypatch):
    customer_id, admin, _ = company
    clock = freeze(monkeypatch, date(2026, 3, 1))
    _register_card(admin, gateway, payment_client, sent_tasks)
    contract = world.active_contract(customer_id, plan_id=world.priced_plan(3300))
    world.active_line(contract)
    clock.day(date(2026, 4, 6))
    run, _ = billing_runs.request_run("2026-03", actor=world.admin)
    billing_runs.draft_run(run.id)
    billing_runs.review_run(run.id, actor=world.admin, reason="確認済")
    billing_runs.issue_run(run.id, actor=world.admin)

    billing_runs.issue_drafts(run.id)
    billing_runs.issue_drafts(run.id)  # the task delivered twice

    with read_session() as s:
        [invoice] = s.exec(select(Invoice).where(Invoice.billing_run_id == run.id)).all()
        notice = s.exec(select(Notification).where(Notification.kind == "invoice_issued",
                                                   Notification.channel == "in_app")).one()
    assert invoice.total == 3630
    assert [json.loads(op.payload_json)["amount"] for op in _charges(invoice.id)] == [3630]
    assert "ご登録のカードにご請求します。" in notice.body


def test_direct_debit_takes_precedence_over_the_card_on_file(world, company, gateway, payment_client, sent_tasks):
    customer_id, admin, _ = company
    _register_card(admin, gateway, payment_client, sent_tasks)
    direct_debit.register_mandate(customer_id, actor=world.admin, bank_code="0005", branch_code="123",
                                  account_type=1, account_number="1234567", holder_name="ヤマダ タロウ")

    invoice = _bill(world, customer_id)

    assert _charges(invoice.id) == []
    shown = my_payments.my_payment_method(actor=admin)
    assert (shown["method"], shown["card"]["masked"]) == ("direct_debit", "VISA ****4242")
    bill = my_payments.bill_payment(invoice.id, actor=admin)
    assert (bill["can_pay_by_card"], bill["charged_to"]) == (True, "")


def test_a_declined_automatic_charge_opens_the_dunning_case_and_the_bill_offers_paying_by_hand(
        world, company, gateway, payment_client, sent_tasks):
    customer_id, admin, _ = company
    _register_card(admin, gateway, payment_client, sent_tasks, DECLINES_LATER)  # registers fine, every charge declined
    invoice = _bill(world, customer_id)
    [op] = _charges(invoice.id)

    assert outbox.run_operation(op.id, client=payment_client) == "failed"

    with read_session() as s:
        case = s.exec(select(DunningCase).where(DunningCase.invoice_id == invoice.id)).one()
        assert s.exec(select(Payment)).all() == []
    assert (case.reason, case.status) == ("card_failed", "open")
    bill = my_payments.bill_payment(invoice.id, actor=admin)
    assert (bill["owed_yen"], bill["can_pay_by_card"], bill["charged_to"]) == (11000, True, "")
    assert bill["problem"]["title"] == "カードでのお支払いができませんでした（カード決済失敗）"
    assert [o.id for o in _charges(invoice.id)] == [op.id]  # not charged again by itself


def test_a_bill_issued_before_the_card_was_registered_is_charged_to_it_when_accounting_charges_it(
        world, company, gateway, payment_client, sent_tasks):
    customer_id, admin, _ = company
    invoice = _bill(world, customer_id)
    card = _register_card(admin, gateway, payment_client, sent_tasks)

    assert _charges(invoice.id) == []  # only bills issued afterwards are charged by themselves
    op = card_payments.charge_invoice(invoice.id, actor=world.actor("accounting"))

    with read_session() as s:
        assert json.loads(op.payload_json)["payment_method"] == s.get(CustomerCard, card["id"]).gateway_ref
    assert outbox.run_operation(op.id, client=payment_client) == "succeeded"
    assert my_payments.bill_payment(invoice.id, actor=admin)["owed_yen"] == 0


# ---- the お支払い方法 page: tap, wait for the page, go; back from the page, wait for the card ------------------------

def test_the_payment_method_page_waits_for_the_registration_page_and_says_the_card_is_registered(
        world, gateway, payment_client, sent_tasks, monkeypatch):
    from state.my.payment import CARD_CHECKING, CARD_PREPARING, CARD_REGISTERED, CARD_REMOVED, MyPaymentMethodState
    from telecom_app import routes

    customer_id = world.contract().customer_id
    token = customer_token(monkeypatch, customer_id)
    page = my_state(MyPaymentMethodState, token, routes.MY_PAYMENT, routes.MY_PAYMENT, {})
    MyPaymentMethodState.load.fn(page)
    assert (page.method["method"], page.method["can_manage_card"], page.card) == ("per_bill", True, {})

    assert MyPaymentMethodState.register_card.fn(page) is None
    assert (page.waiting_card_page, page.notice) == (True, CARD_PREPARING)
    with read_session() as s:
        sent = json.loads(s.exec(select(ExternalOperation).where(ExternalOperation.operation == "card_setup")).one()
                          .payload_json)
    assert (sent["success_url"], sent["cancel_url"]) == (
        "http://app.test/my/payment?card=done", "http://app.test/my/payment?card=back")
    open_page(payment_client, "card_setup")
    go = MyPaymentMethodState.refresh.fn(page)
    assert "window.location.assign" in str(go) and page.setup["setup_url"] in str(go)
    _register(gateway, page.setup["setup_url"], OK_CARD)

    back = my_state(MyPaymentMethodState, token, routes.MY_PAYMENT, routes.my_payment_after_card("done"),
                    {"card": "done"})
    MyPaymentMethodState.load.fn(back)
    assert (back.waiting_card, back.notice) == (True, CARD_CHECKING)
    deliver(webhook_events(gateway, "setup.completed")[0], sent_tasks)
    MyPaymentMethodState.refresh.fn(back)
    assert (back.waiting_card, back.notice, back.card["masked"]) == (False, CARD_REGISTERED, "VISA ****4242")
    assert back.method["method"] == "card_on_file"

    MyPaymentMethodState.ask_remove_card.fn(back)
    assert back.confirming_remove
    MyPaymentMethodState.remove_card.fn(back)
    assert (back.notice, back.card, back.method["method"]) == (CARD_REMOVED, {}, "per_bill")
