"""Paying a bill from the customer app on the gateway's card page, and applying for 口座振替: the product's services
and the client against the payment sandbox's own app in process (Starlette's TestClient behind PaymentClient), the
webhooks signed with the installation's secret and taken in through the real webhook intake.

Figures are written by hand: a bill of 10,000 yen + 10% tax = 11,000 yen; 4,000 paid by transfer leaves 7,000."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from services.billing import (
    allocation,
    card_checkout,
    card_payments,
    debit_applications,
    direct_debit,
    dunning,
    payment_settlement,
    payments,
)
from services.integrations.payment import PaymentClient
from services.ledger import customer_users
from services.models import (
    ApprovalRequest,
    AuditEntry,
    CardCheckout,
    DirectDebitItem,
    DirectDebitMandate,
    DunningCase,
    ExternalOperation,
    Invoice,
    Payment,
    PaymentAllocation,
    ReviewItem,
)
from services.models.base import utcnow
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from services.read.customer import payments as my_payments
from services.tasks import outbox
from services.workflow import approvals
from tests.unit.card_gateway import customer_token, deliver, ledger_rows, my_state, open_page, webhook_events
from tests.unit.customer_builders import company_user, customer_actor

OK_CARD, DECLINED_CARD = "4242 4242 4242 4242", "4000 0000 0000 0002"
BACK = {"success_url": "http://app.test/my/bills/1?checkout=done", "cancel_url": "http://app.test/my/bills/1"}


@pytest.fixture()
def bill(world):
    """An issued bill of 11,000 yen, its company's 法人管理者 and a 利用者 who may not see bills."""
    invoice = world.invoice()
    admin_id = company_user(invoice.customer_id, f"admin{world.n()}@example.jp", role="customer_admin")
    user_id = company_user(invoice.customer_id, f"user{world.n()}@example.jp")
    return invoice, customer_actor(admin_id), customer_actor(user_id)


def _pay(gateway: TestClient, url: str, card: str) -> httpx.Response:
    return gateway.post(httpx.URL(url).path, data={"card_number": card})


def _card_payments(invoice_id: int) -> list[tuple[int, str, int]]:
    with read_session() as s:
        return [(p.amount, p.method, a.amount) for p, a in s.exec(
            select(Payment, PaymentAllocation).join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
            .where(PaymentAllocation.invoice_id == invoice_id, Payment.method == "card")).all()]


def _owed(invoice_id: int) -> int:
    with read_session() as s:
        invoice = s.get(Invoice, invoice_id)
        return invoice.total - allocation.allocated_amounts(s, [invoice_id])[invoice_id]


def _words(call) -> str:
    with pytest.raises(NotFound) as caught:
        call()
    return caught.value.message


# ---- paying a bill on the gateway's page -----------------------------------------------------------------------

def test_a_customer_pays_on_the_gateways_page_and_the_same_webhook_twice_pays_once(world, bill, gateway, payment_client,
                                                                                    sent_tasks):
    invoice, admin, _ = bill
    first = card_checkout.start_checkout(invoice.id, actor=admin, **BACK)
    again = card_checkout.start_checkout(invoice.id, actor=admin, **BACK)  # a double tap

    assert (first["amount"], first["preparing"], first["payment_url"]) == ("￥11,000", True, "")
    assert again["id"] == first["id"]
    with read_session() as s:
        assert len(s.exec(select(ExternalOperation).where(ExternalOperation.operation == "checkout")).all()) == 1
        assert [e.action for e in s.exec(select(AuditEntry).where(AuditEntry.actor_kind == "customer"))] == [
            "invoice.card_checkout"]
    op = open_page(payment_client, "checkout")
    page = card_checkout.checkout_status(invoice.id, actor=admin)
    assert page["payment_url"].startswith("http://testserver/checkout/pay/cs_") and not page["preparing"]
    assert json.loads(op.payload_json)["amount"] == 11000
    assert gateway.get(httpx.URL(page["payment_url"]).path).status_code == 200

    declined = _pay(gateway, page["payment_url"], DECLINED_CARD)
    assert declined.status_code == 402 and "承認されませんでした" in declined.text
    assert webhook_events(gateway, "checkout.completed") == [] and _card_payments(invoice.id) == []
    paid = _pay(gateway, page["payment_url"], OK_CARD)
    assert (paid.status_code, paid.headers["location"]) == (303, BACK["success_url"])
    assert card_checkout.checkout_status(invoice.id, actor=admin)["status"] == "open"  # until the webhook comes

    [event] = webhook_events(gateway, "checkout.completed")
    assert deliver(event, sent_tasks).startswith(f"card checkout #{first['id']} paid")
    assert deliver(event, sent_tasks) == "duplicate"  # the same delivery again
    resent = {**event, "id": event["id"] + "x"}  # the gateway sending it again as a new event
    assert deliver(resent, sent_tasks) == f"card checkout #{first['id']} already paid"

    assert _card_payments(invoice.id) == [(11000, "card", 11000)]
    assert _owed(invoice.id) == 0
    status = card_checkout.checkout_status(invoice.id, actor=admin)
    assert (status["status"], status["status_label"], status["paid"]) == ("paid", "お支払い済み", True)
    with read_session() as s:
        checkout = s.get(CardCheckout, first["id"])
        payment = s.get(Payment, checkout.payment_id)
        assert payment.external_ref == event["data"]["charge_id"]
        assert s.get(ExternalOperation, op.id).payment_id == payment.id  # a refund goes back to the gateway
        assert card_payments.enqueue_gateway_refund(s, payment, "返金").payload_json.count(payment.external_ref) == 1
        s.rollback()
    view = my_payments.bill_payment(invoice.id, actor=admin)
    assert (view["owed_yen"], view["can_pay_by_card"], view["problem"]) == (0, False, {})
    with pytest.raises(Conflict, match="お支払い済み"):
        card_checkout.start_checkout(invoice.id, actor=admin, **BACK)


def test_the_amount_is_what_is_still_owed_after_a_partial_payment(world, bill, gateway, payment_client):
    invoice, admin, _ = bill
    stale = card_checkout.start_checkout(invoice.id, actor=admin, **BACK)
    open_page(payment_client, "checkout")
    transfer = world.payment(amount=4000, customer_id=invoice.customer_id)
    payments.allocate_payment(transfer.id, actor=world.admin, invoice_id=invoice.id, amount=4000)

    fresh = card_checkout.start_checkout(invoice.id, actor=admin, **BACK)

    assert fresh["id"] != stale["id"] and (fresh["amount_yen"], fresh["amount"]) == (7000, "￥7,000")
    with read_session() as s:
        assert s.get(CardCheckout, stale["id"]).status == "expired"
        closing = s.exec(select(ExternalOperation).where(ExternalOperation.operation == "expire_checkout")).one()
        stale_ref = s.get(CardCheckout, stale["id"]).session_ref
        assert json.loads(closing.payload_json) == {"session_id": stale_ref}
    assert outbox.run_operation(closing.id, client=payment_client) == "succeeded"  # nobody can pay the old page any more
    assert gateway.get(f"/checkout/sessions/{stale_ref}").json()["status"] == "expired"
    open_page(payment_client, "checkout")
    page = card_checkout.checkout_status(invoice.id, actor=admin)
    assert gateway.get(f"/checkout/sessions/{page['payment_url'].rsplit('/', 1)[1]}").json()["amount"] == 7000


def test_another_companys_bill_is_not_found_and_nothing_is_written(world, bill, engine):
    invoice, _, _ = bill
    other = world.invoice()
    stranger = customer_actor(company_user(other.customer_id, "boss@other.example.jp", role="customer_admin"))
    before = ledger_rows(engine)

    refused = _words(lambda: card_checkout.start_checkout(invoice.id, actor=stranger, **BACK))

    assert refused == _words(lambda: card_checkout.start_checkout(10**6, actor=stranger, **BACK)) == "請求書が見つかりません。"
    assert _words(lambda: card_checkout.checkout_status(invoice.id, actor=stranger)) == refused
    assert _words(lambda: my_payments.bill_payment(invoice.id, actor=stranger)) == refused
    assert ledger_rows(engine) == before


def test_a_user_without_the_right_to_see_bills_is_refused_and_staff_are_denied(world, bill, engine):
    invoice, admin, user = bill
    before = ledger_rows(engine)

    assert _words(lambda: card_checkout.start_checkout(invoice.id, actor=user, **BACK)) == "請求書が見つかりません。"
    with pytest.raises(PermissionDenied):
        card_checkout.start_checkout(invoice.id, actor=world.admin, **BACK)
    assert ledger_rows(engine) == before

    customer_users.set_rights(user.id, actor=admin, can_view_bills=True, can_request=False)
    assert card_checkout.start_checkout(invoice.id, actor=user, **BACK)["amount_yen"] == 11000


def test_a_return_address_that_is_not_a_web_address_is_refused(bill):
    invoice, admin, _ = bill
    with pytest.raises(ValidationFailed) as caught:
        card_checkout.start_checkout(invoice.id, actor=admin, success_url="javascript:alert(1)", cancel_url="/my")
    assert set(caught.value.fields) == {"success_url", "cancel_url"}


def test_a_webhook_for_a_page_the_ledger_does_not_know_pays_nothing_and_asks_staff(engine, sent_tasks):
    event = {"id": "evt_unknown", "type": "checkout.completed", "data": {
        "id": "cs_nobody", "amount": 500, "charge_id": "ch_nobody", "client_reference_id": "chk999"}}
    assert deliver(event, sent_tasks) == "no matching checkout"
    with read_session() as s:
        assert s.exec(select(Payment)).all() == []
        assert [i.kind for i in s.exec(select(ReviewItem))] == ["payment.checkout.unmatched"]


def test_a_page_the_gateway_refused_to_open_is_cancelled_and_a_new_tap_opens_another(bill):
    invoice, admin, _ = bill
    first = card_checkout.start_checkout(invoice.id, actor=admin, **BACK)
    refusing = PaymentClient("http://gw.test", transport=httpx.MockTransport(
        lambda r: httpx.Response(400, json={"error": "invalid_amount", "message": "no"})))
    with read_session() as s:
        op = s.exec(select(ExternalOperation).where(ExternalOperation.operation == "checkout")).one()

    assert outbox.run_operation(op.id, client=refusing) == "failed"

    assert card_checkout.checkout_status(invoice.id, actor=admin)["status"] == "cancelled"
    assert card_checkout.start_checkout(invoice.id, actor=admin, **BACK)["id"] != first["id"]


def test_a_page_older_than_its_life_is_replaced(bill):
    invoice, admin, _ = bill
    first = card_checkout.start_checkout(invoice.id, actor=admin, **BACK)
    with write_session() as s:
        s.get(CardCheckout, first["id"]).created_at = utcnow() - timedelta(minutes=31)
    assert card_checkout.checkout_status(invoice.id, actor=admin)["status"] == "expired"
    assert card_checkout.start_checkout(invoice.id, actor=admin, **BACK)["id"] != first["id"]


def test_a_paid_page_whose_webhook_was_lost_shows_in_the_daily_settlement_check(bill, gateway, payment_client):
    invoice, admin, _ = bill
    card_checkout.start_checkout(invoice.id, actor=admin, **BACK)
    open_page(payment_client, "checkout")
    _pay(gateway, card_checkout.checkout_status(invoice.id, actor=admin)["payment_url"], OK_CARD)

    payment_settlement.compare(today_in_tokyo(), client=payment_client)

    with read_session() as s:
        assert [i.kind for i in s.exec(select(ReviewItem))] == ["payment.settlement.missing_in_ledger"]


# ---- a failed payment: what happened, what to do, by when ----------------------------------------------------------

def test_a_declined_card_charge_shows_what_happened_and_the_pay_by_date_and_paying_closes_it(
        world, bill, gateway, payment_client, sent_tasks):
    invoice, admin, _ = bill
    with write_session() as s:
        case = dunning.open_case(s, s.get(Invoice, invoice.id), "card_failed")
        started = case.started_on

    problem = my_payments.bill_payment(invoice.id, actor=admin)["problem"]

    assert problem["title"] == "カードでのお支払いができませんでした（カード決済失敗）"
    assert problem["deadline"] == f"{started + timedelta(days=20):%Y年%m月%d日}"
    assert "別のカード" in problem["what_to_do"] and problem["consequence"].startswith("期限までに")
    assert problem["next_retry"] == ""
    card_checkout.start_checkout(invoice.id, actor=admin, **BACK)
    open_page(payment_client, "checkout")
    _pay(gateway, card_checkout.checkout_status(invoice.id, actor=admin)["payment_url"], OK_CARD)
    deliver(webhook_events(gateway, "checkout.completed")[0], sent_tasks)
    with read_session() as s:
        assert s.exec(select(DunningCase).where(DunningCase.invoice_id == invoice.id)).one().status == "paid"
    assert my_payments.bill_payment(invoice.id, actor=admin)["problem"] == {}


def test_a_failed_withdrawal_shows_the_banks_reason_and_the_next_withdrawal(world, bill):
    invoice, admin, _ = bill
    direct_debit.register_mandate(invoice.customer_id, actor=world.admin, bank_code="0005", branch_code="123",
                                  account_type=1, account_number="1234567", holder_name="ヤマダ タロウ")
    first = direct_debit.create_batch(actor=world.admin, withdrawal_date=today_in_tokyo() + timedelta(days=3))
    with write_session() as s:
        s.get(type(first), first.id).status = "result_imported"
        item = s.exec(select(DirectDebitItem).where(DirectDebitItem.batch_id == first.id)).one()
        item.result_code = 1
        dunning.open_case(s, s.get(Invoice, invoice.id), "debit_failed")
    retry = direct_debit.create_batch(actor=world.admin, withdrawal_date=today_in_tokyo() + timedelta(days=10))

    problem = my_payments.bill_payment(invoice.id, actor=admin)["problem"]

    assert problem["title"] == "口座振替ができませんでした（振替不能）"
    assert problem["detail"].startswith("銀行からの結果: 資金不足。口座の残高が不足していました。")
    assert problem["next_retry"].startswith(f"{retry.withdrawal_date:%Y年%m月%d日}に口座から再度お引き落とし")


def test_an_overdue_bill_without_a_case_yet_says_it_is_late(world, bill):
    invoice, admin, _ = bill
    with write_session() as s:
        s.get(Invoice, invoice.id).due_date = today_in_tokyo() - timedelta(days=1)
    problem = my_payments.bill_payment(invoice.id, actor=admin)["problem"]
    assert (problem["title"], problem["deadline"]) == ("お支払期限を過ぎています", "")


# ---- 口座振替を申し込む --------------------------------------------------------------------------------------------

def test_a_company_admin_applies_for_direct_debit_and_accounting_confirms_it(world, bill):
    invoice, admin, user = bill
    request = debit_applications.apply_for_direct_debit(
        actor=admin, bank_code="０００５", branch_code="123", account_type="1", account_number="1234567",
        holder_name="やまだ たろう")

    assert (request.status, request.requested_by, request.requested_by_customer_user_id) == ("pending", None, admin.id)
    assert "1234567" not in request.params_json and "****4567" in request.summary
    assert ["****4567" in row for row in json.loads(request.preview_json)].count(True) == 1
    with pytest.raises(Conflict):
        debit_applications.apply_for_direct_debit(actor=admin, bank_code="0005", branch_code="123", account_type=1,
                                                  account_number="1234567", holder_name="ヤマダ タロウ")
    shown = my_payments.my_payment_method(actor=admin)
    assert (shown["method"], shown["can_apply"], shown["application"]["status"]) == ("per_bill", False, "pending")

    approvals.approve_request(request.id, actor=world.actor("accounting"), expected_hash=request.params_hash)

    with read_session() as s:
        mandate = s.exec(select(DirectDebitMandate).where(DirectDebitMandate.customer_id == invoice.customer_id)).one()
        assert (mandate.bank_code, mandate.branch_code, mandate.account_type, mandate.account_number_last4,
                mandate.holder_kana, mandate.status) == ("0005", "123", 1, "4567", "ﾔﾏﾀﾞ ﾀﾛｳ", "active")
    shown = my_payments.my_payment_method(actor=admin)
    assert (shown["method"], shown["mandate"]["account_number"], shown["application"]["status"]) == (
        "direct_debit", "****4567", "executed")


def test_an_application_is_checked_like_staffs_registration_and_only_the_company_admin_may_apply(world, bill, engine):
    invoice, admin, user = bill
    before = ledger_rows(engine)
    with pytest.raises(ValidationFailed) as caught:
        debit_applications.apply_for_direct_debit(actor=admin, bank_code="12", branch_code="1234", account_type=5,
                                                  account_number="12345678", holder_name="山田 太郎")
    with pytest.raises(ValidationFailed) as staffs:
        direct_debit.register_mandate(invoice.customer_id, actor=world.admin, bank_code="12", branch_code="1234",
                                      account_type=5, account_number="12345678", holder_name="山田 太郎")
    assert caught.value.fields == staffs.value.fields
    assert set(caught.value.fields) == {"bank_code", "branch_code", "account_type", "account_number", "holder_name"}
    with pytest.raises(PermissionDenied, match="法人管理者"):
        debit_applications.apply_for_direct_debit(actor=user, bank_code="0005", branch_code="123", account_type=1,
                                                  account_number="1234567", holder_name="ヤマダ タロウ")
    with pytest.raises(PermissionDenied):
        debit_applications.apply_for_direct_debit(actor=world.admin, bank_code="0005", branch_code="123",
                                                  account_type=1, account_number="1234567", holder_name="ヤマダ タロウ")
    assert ledger_rows(engine) == before
    assert my_payments.my_payment_method(actor=user)["visible"] is False
    with read_session() as s:
        assert s.exec(select(ApprovalRequest)).all() == []


# ---- the bill page's payment state: tap, wait for the page, go; back from the page, wait for the confirmation ------

def test_the_bill_page_waits_for_the_gateways_page_goes_there_and_says_paid_once_confirmed(
        world, gateway, payment_client, sent_tasks, monkeypatch):
    from state.my.bills import MyBillState
    from state.my.payment import PAID, PREPARING, MyBillPaymentState
    from telecom_app import routes

    invoice = world.invoice()
    token = customer_token(monkeypatch, invoice.customer_id)
    page = my_state(MyBillPaymentState, token, routes.MY_BILL, routes.my_bill(invoice.id),
                    {"invoice_id": str(invoice.id)})
    MyBillPaymentState.load.fn(page)
    assert page.error == "" and page.pay["can_pay_by_card"] and page.problem == {}

    assert MyBillPaymentState.pay_by_card.fn(page) is None
    assert (page.waiting_page, page.notice) == (True, PREPARING)
    with read_session() as s:
        sent = json.loads(s.exec(select(ExternalOperation).where(ExternalOperation.operation == "checkout")).one()
                          .payload_json)
    assert sent["success_url"] == f"http://app.test/my/bills/{invoice.id}?card=done"
    assert sent["cancel_url"] == f"http://app.test/my/bills/{invoice.id}?card=back"
    assert MyBillPaymentState.refresh.fn(page) is None and page.waiting_page  # not opened yet
    open_page(payment_client, "checkout")
    go = MyBillPaymentState.refresh.fn(page)
    assert "window.location.assign" in str(go) and page.checkout["payment_url"] in str(go)
    _pay(gateway, page.checkout["payment_url"], OK_CARD)

    back = my_state(MyBillPaymentState, token, routes.MY_BILL, routes.my_bill_after_card(invoice.id, "done"),
                    {"invoice_id": str(invoice.id), "card": "done"})
    MyBillPaymentState.load.fn(back)
    assert back.waiting_payment and back.checkout["status"] == "open"
    deliver(webhook_events(gateway, "checkout.completed")[0], sent_tasks)
    assert MyBillPaymentState.refresh.fn(back) == MyBillState.load  # the bill above is read again
    assert (back.waiting_payment, back.notice, back.pay["can_pay_by_card"]) == (False, PAID, False)

    again = my_state(MyBillPaymentState, token, routes.MY_BILL, routes.my_bill_after_card(invoice.id, "done"),
                     {"invoice_id": str(invoice.id), "card": "done"})
    assert MyBillPaymentState.load.fn(again) == MyBillState.load  # confirmed before the page came back: reread
    assert (again.waiting_payment, again.notice) == (False, PAID)


def test_the_payment_method_page_sends_the_application_and_shows_it_waiting(world, monkeypatch):
    from state.my.payment import APPLIED, MyPaymentMethodState
    from telecom_app import routes

    invoice = world.invoice()
    token = customer_token(monkeypatch, invoice.customer_id)
    page = my_state(MyPaymentMethodState, token, routes.MY_PAYMENT, routes.MY_PAYMENT, {})
    MyPaymentMethodState.load.fn(page)
    assert (page.method["method"], page.method["can_apply"], page.mandate, page.application) == (
        "per_bill", True, {}, {})
    assert [k["label"] for k in page.account_types] == ["普通", "当座", "その他"]

    MyPaymentMethodState.apply_for_direct_debit.fn(page, {"bank_code": "5", "branch_code": "123",
                                                          "account_type": "1", "account_number": "1234567",
                                                          "holder_name": "ヤマダ タロウ"})
    assert page.field_errors == {"bank_code": "金融機関コードは4桁の数字で入力してください。"}
    MyPaymentMethodState.apply_for_direct_debit.fn(page, {"bank_code": "0005", "branch_code": "123",
                                                          "account_type": "2", "account_number": "7654321",
                                                          "holder_name": "カ）デモツウシン"})
    assert (page.error, page.notice) == ("", APPLIED)
    assert page.application["waiting"] and not page.method["can_apply"]
    with read_session() as s:
        assert s.exec(select(ApprovalRequest)).one().summary.endswith("0005-123 当座 ****4321）")
