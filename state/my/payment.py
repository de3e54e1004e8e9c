"""Paying a bill in the customer app — 「カードで支払う」 on the gateway's page, waiting for the page and for the
gateway's confirmation, what to do when a payment failed — and the company's payment method (お支払い方法):
applying for 口座振替, registering a card on file on the gateway's page (waiting likewise) and removing it."""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

from services.billing import card_checkout, card_on_file, debit_applications
from services.read.customer import payments
from state.feedback import MessagesMixin, int_param, require_offered
from state.my.bills import MyBillState
from state.session import CUSTOMER, actor, guarded
from telecom_app import routes

POLL_SECONDS = 2  # the page asks again this often while it waits (the outbox relay runs every couple of seconds)
PAGE_POLLS = 30  # waiting for the gateway's page: at most about a minute
PAID_POLLS = 90  # waiting for the gateway's confirmation after paying: at most about three minutes
PREPARING = "決済ページを準備しています。そのままお待ちください…"
CHECKING = "お支払いを確認しています。そのままお待ちください…"
PAID = "お支払いが完了しました。ありがとうございます。"
WENT_BACK = "お支払いは完了していません。お支払いいただく場合は、もう一度「カードで支払う」を押してください。"
PAGE_SLOW = "決済ページの準備に時間がかかっています。しばらくしてから、もう一度「カードで支払う」を押してください。"
PAGE_FAILED = "決済ページを開けませんでした。しばらくしてから、もう一度「カードで支払う」を押してください。"
CHECK_SLOW = ("お支払いの確認に時間がかかっています。確認でき次第この画面に反映されます。"
              "二重のお支払いを避けるため、しばらくしてからページを開き直してご確認ください。")
APPLIED = "口座振替のお申し込みを受け付けました。担当者が確認のうえ登録します（登録までは請求書ごとにお支払いください）。"
CARD_PREPARING = "カード登録ページを準備しています。そのままお待ちください…"
CARD_CHECKING = "カードの登録を確認しています。そのままお待ちください…"
CARD_REGISTERED = "カードを登録しました。今後発行される請求書は、このカードに自動で請求します。"
CARD_WENT_BACK = "カードは登録されていません。登録する場合は、もう一度「カードを登録する」を押してください。"
CARD_PAGE_SLOW = "カード登録ページの準備に時間がかかっています。しばらくしてから、もう一度お試しください。"
CARD_PAGE_FAILED = "カード登録ページを開けませんでした。しばらくしてから、もう一度お試しください。"
CARD_CHECK_SLOW = ("カードの登録の確認に時間がかかっています。確認でき次第この画面に反映されます。"
                   "しばらくしてからページを開き直してご確認ください。")
CARD_REMOVED = "カードの登録を解除しました。今後の請求書は、請求書ごとにお支払いください。"
REMOVE_REASON = "お客様（法人管理者）がお支払い方法の画面で登録を解除"


def _go(url: str):
    """A full navigation to the gateway's page (another site: the router cannot take us there)."""
    return rx.call_script(f"window.location.assign({json.dumps(url)})")


class MyBillPaymentState(MessagesMixin, rx.State):
    """The payment part of one bill's page."""

    pay: dict[str, Any] = {}  # services.read.customer.payments.bill_payment (without checkout / problem)
    checkout: dict[str, Any] = {}
    problem: dict[str, Any] = {}
    waiting_page: bool = False  # tapped 「カードで支払う」: waiting for the gateway's page
    waiting_payment: bool = False  # came back from the page: waiting for the gateway's confirmation
    polls: int = 0

    def _invoice_id(self) -> int:
        return int_param(self.router._page.params.get("invoice_id"))

    def _read(self) -> None:
        data = payments.bill_payment(self._invoice_id(), actor=actor())
        self.checkout, self.problem = data.pop("checkout"), data.pop("problem")
        self.pay = data

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """The bill's payment part (mounted once the bill is shown): what is owed, the latest card payment, a
        failed payment's callout; back from the gateway's page, wait for its confirmation (or, when it came in
        already, read the bill again: it may have been read just before)."""
        self.pay, self.checkout, self.problem = {}, {}, {}
        self.notice, self.waiting_page, self.waiting_payment, self.polls = "", False, False, 0
        self._read()
        came_back = dict(self.router.url.query_parameters).get("card", "")
        if came_back == "done" and self.checkout.get("status") == "open":
            self.waiting_payment, self.notice = True, CHECKING
        elif came_back == "done" and self.checkout.get("paid"):
            self.notice = PAID
            return MyBillState.load  # confirmed while the bill above was being read: read it again
        elif came_back == "back" and self.checkout.get("status") == "open":
            self.notice = WENT_BACK
        return None

    @rx.event
    @guarded(CUSTOMER)
    def pay_by_card(self):
        """「カードで支払う」: open (or reuse) the gateway's page for what is owed, and go there once it is ready."""
        require_offered(bool(self.pay.get("can_pay_by_card")), "card payment of a bill with nothing to pay")
        invoice_id = self._invoice_id()
        origin = self.router.url.origin
        view = card_checkout.start_checkout(
            invoice_id, actor=actor(), success_url=origin + routes.my_bill_after_card(invoice_id, "done"),
            cancel_url=origin + routes.my_bill_after_card(invoice_id, "back"))
        self.checkout = view
        if view.get("payment_url"):
            return _go(view["payment_url"])
        self.waiting_page, self.waiting_payment, self.polls, self.notice = True, False, 0, PREPARING
        return None

    @rx.event
    @guarded(CUSTOMER)
    def refresh(self):
        """While waiting (every POLL_SECONDS): the gateway's page is ready -> go; the payment is confirmed -> say so."""
        if not (self.waiting_page or self.waiting_payment):
            return None
        self.polls += 1
        if self.waiting_page:
            view = card_checkout.checkout_status(self._invoice_id(), actor=actor())
            self.checkout = view
            if view.get("payment_url"):
                self.waiting_page = False
                return _go(view["payment_url"])
            if view.get("status") != "open" or self.polls >= PAGE_POLLS:
                self.waiting_page, self.notice = False, ""
                self.error = PAGE_SLOW if view.get("status") == "open" else PAGE_FAILED
            return None
        self._read()
        if self.checkout.get("paid"):
            self.waiting_payment, self.notice = False, PAID
            return MyBillState.load  # the bill above shows what is owed now
        if self.polls >= PAID_POLLS:
            self.waiting_payment, self.notice = False, CHECK_SLOW
        return None


class MyPaymentMethodState(MessagesMixin, rx.State):
    """お支払い方法: the company's payment method, applying for 口座振替, and the card on file."""

    method: dict[str, Any] = {}
    mandate: dict[str, Any] = {}
    card: dict[str, Any] = {}  # services.billing.card_on_file.card_view of the active card ({} for none)
    setup: dict[str, Any] = {}  # the latest card registration (card_on_file.setup_view) while it matters
    application: dict[str, Any] = {}
    account_types: list[dict[str, str]] = []
    waiting_card_page: bool = False  # tapped 「カードを登録する」: waiting for the gateway's page
    waiting_card: bool = False  # came back from the page: waiting for the gateway's confirmation
    confirming_remove: bool = False  # 「カードの登録を解除する」 tapped: asking to confirm
    polls: int = 0

    def _read(self) -> None:
        data = payments.my_payment_method(actor=actor())
        self.mandate, self.card, self.application = data.pop("mandate"), data.pop("card"), data.pop("application")
        self.account_types = data.pop("account_types")
        self.method = data

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the current method, the active 口座振替 account (****last4), the card on file and the latest
        application; back from the gateway's registration page, wait for its confirmation."""
        self.notice, self.setup, self.confirming_remove = "", {}, False
        self.waiting_card_page, self.waiting_card, self.polls = False, False, 0
        self._read()
        came_back = dict(self.router.url.query_parameters).get("card", "")
        if came_back not in ("done", "back") or not self.method.get("can_manage_card"):
            return
        self.setup = card_on_file.card_setup_status(actor=actor())
        status = self.setup.get("status")
        if came_back == "done" and status == "open":
            self.waiting_card, self.notice = True, CARD_CHECKING
        elif came_back == "done" and status == "completed":
            self.notice = CARD_REGISTERED
        elif came_back == "back" and status == "open":
            self.notice = CARD_WENT_BACK

    @rx.event
    @guarded(CUSTOMER)
    def apply_for_direct_debit(self, form: dict):
        """「口座振替を申し込む」: send the account for staff to confirm (the 法人管理者 only)."""
        require_offered(bool(self.method.get("can_apply")), "a direct debit application not offered")
        form = form or {}
        self.notice = ""
        debit_applications.apply_for_direct_debit(
            actor=actor(), bank_code=str(form.get("bank_code") or ""), branch_code=str(form.get("branch_code") or ""),
            account_type=str(form.get("account_type") or ""), account_number=str(form.get("account_number") or ""),
            holder_name=str(form.get("holder_name") or ""))
        self._read()
        self.notice = APPLIED

    @rx.event
    @guarded(CUSTOMER)
    def register_card(self):
        """「カードを登録する」 / 「カードを変更する」: open (or reuse) the gateway's registration page, go there once
        it is ready (the 法人管理者 only)."""
        require_offered(bool(self.method.get("can_manage_card")), "a card registration not offered")
        origin = self.router.url.origin
        view = card_on_file.start_card_setup(
            actor=actor(), success_url=origin + routes.my_payment_after_card("done"),
            cancel_url=origin + routes.my_payment_after_card("back"))
        self.setup, self.confirming_remove = view, False
        if view.get("setup_url"):
            return _go(view["setup_url"])
        self.waiting_card_page, self.waiting_card, self.polls, self.notice = True, False, 0, CARD_PREPARING
        return None

    @rx.event
    @guarded(CUSTOMER)
    def refresh(self):
        """While waiting (every POLL_SECONDS): the gateway's page is ready -> go; the card is stored -> say so."""
        if not (self.waiting_card_page or self.waiting_card):
            return None
        self.polls += 1
        view = card_on_file.card_setup_status(actor=actor())
        self.setup = view
        if self.waiting_card_page:
            if view.get("setup_url"):
                self.waiting_card_page = False
                return _go(view["setup_url"])
            if view.get("status") != "open" or self.polls >= PAGE_POLLS:
                self.waiting_card_page, self.notice = False, ""
                self.error = CARD_PAGE_SLOW if view.get("status") == "open" else CARD_PAGE_FAILED
            return None
        if view.get("completed"):
            self.waiting_card = False
            self._read()
            self.notice = CARD_REGISTERED
        elif self.polls >= PAID_POLLS:
            self.waiting_card, self.notice = False, CARD_CHECK_SLOW
        return None

    @rx.event
    @guarded(CUSTOMER)
    def ask_remove_card(self):
        """「カードの登録を解除する」: ask to confirm first."""
        require_offered(bool(self.method.get("can_manage_card")) and "id" in self.card, "removing a card not offered")
        self.confirming_remove, self.notice = True, ""

    @rx.event
    @guarded(CUSTOMER)
    def keep_card(self):
        """「やめる」: the card stays."""
        self.confirming_remove = False

    @rx.event
    @guarded(CUSTOMER)
    def remove_card(self):
        """「解除する」 (confirmed): end the card on file; later bills are paid by hand."""
        require_offered(self.confirming_remove and "id" in self.card, "removing a card not confirmed")
        card_on_file.remove_card(int(self.card["id"]), actor=actor(), reason=REMOVE_REASON)
        self.confirming_remove = False
        self._read()
        self.notice = CARD_REMOVED
