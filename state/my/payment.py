"""Paying a bill in the customer app — 「カードで支払う」 on the gateway's page, waiting for the page and for the
gateway's confirmation, what to do when a payment failed — and the company's payment method (お支払い方法)."""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

from services.billing import card_checkout, debit_applications
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
    """お支払い方法: the company's payment method and applying for 口座振替."""

    method: dict[str, Any] = {}
    mandate: dict[str, Any] = {}
    application: dict[str, Any] = {}
    account_types: list[dict[str, str]] = []

    def _read(self) -> None:
        data = payments.my_payment_method(actor=actor())
        self.mandate, self.application = data.pop("mandate"), data.pop("application")
        self.account_types = data.pop("account_types")
        self.method = data

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the current method, the active 口座振替 account (****last4) and the latest application."""
        self.notice = ""
        self._read()

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
