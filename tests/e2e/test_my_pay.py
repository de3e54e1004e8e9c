"""Paying a bill in the customer app on a phone (390×844): the demo 法人管理者 opens an unpaid bill, taps
「カードで支払う」, lands on the payment sandbox's card page, pays with the test card 4242…, comes back to the bill,
which refreshes until the gateway's webhook has been taken in, and sees it paid — the card payment recorded once
and allocated to the bill. No sideways scroll on either page, tap targets at least 44 px, labels tied to inputs."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from demo.customers import DEMO_CUSTOMERS
from services.billing.allocation import allocated_amounts
from services.models import CardCheckout, CustomerUser, Invoice, Payment, PaymentAllocation
from tests.e2e.conftest import open_context, query, sign_in_customer

pytestmark = pytest.mark.e2e
PHONE = 390


def _unpaid_bill(s: Session) -> tuple[int, str, int]:
    """(id, number, amount owed) of an issued bill of the demo company with something still to pay."""
    admin = s.exec(select(CustomerUser).where(CustomerUser.email == DEMO_CUSTOMERS["admin"][0])).one()
    bills = s.exec(select(Invoice).where(Invoice.customer_id == admin.customer_id, Invoice.status == "issued",
                                         Invoice.kind == "invoice").order_by(Invoice.id.desc())).all()
    paid = allocated_amounts(s, [b.id for b in bills])
    owed = [(b.id, b.invoice_no, b.total - paid[b.id]) for b in bills if b.total - paid[b.id] > 0]
    assert owed, "the demo company has no unpaid bill to pay"
    return owed[0]


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE


def _tall_enough(page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None and box["height"] >= 44, f"{selector} is {box and box['height']} px tall"


def _card_payments(s: Session, invoice_id: int) -> list[tuple[int, int]]:
    return [(p.amount, a.amount) for p, a in s.exec(
        select(Payment, PaymentAllocation).join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
        .where(PaymentAllocation.invoice_id == invoice_id, Payment.method == "card")).all()]


def test_the_company_admin_pays_an_unpaid_bill_by_card_on_the_gateways_page_and_sees_it_paid(app_server, browser):
    base = app_server["base"]
    invoice_id, invoice_no, owed = query(app_server, _unpaid_bill)
    bill_url = re.compile(rf".*/my/bills/{invoice_id}/?$")
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(f"{base}/my/login?next=%2Fmy%2Fbills%2F{invoice_id}")
        sign_in_customer(page, app_server, "admin")
        page.wait_for_url(bill_url, timeout=20000)
        page.wait_for_selector(f"text={invoice_no}", timeout=20000)
        page.wait_for_selector("#pay-by-card:not([disabled])", timeout=20000)
        _fits_the_phone(page)
        _tall_enough(page, "#pay-by-card")
        _tall_enough(page, "#payment-method-link")

        page.click("#pay-by-card")  # the page waits for the outbox to open the gateway's page, then goes there
        page.wait_for_url(re.compile(r".*/checkout/pay/cs_[0-9a-f]+$"), timeout=60000)
        assert page.url.startswith(app_server["payment"])
        page.wait_for_selector("#card_number", timeout=20000)
        assert f"¥{owed:,}" in page.inner_text("#amount")
        _fits_the_phone(page)
        _tall_enough(page, "#pay")
        page.get_by_label("カード番号").fill("4000 0000 0000 0002")  # declined first: the page says so
        page.click("#pay")
        page.wait_for_selector("[role=alert]:has-text('承認されませんでした')", timeout=20000)
        page.get_by_label("カード番号").fill("4242 4242 4242 4242")
        page.click("#pay")

        page.wait_for_url(re.compile(rf".*/my/bills/{invoice_id}/?\?card=done$"), timeout=30000)
        page.wait_for_selector("text=お支払いが完了しました。", timeout=60000)  # once the webhook is in
        page.wait_for_selector("#checkout-status [data-status=paid]", timeout=20000)
        page.wait_for_selector("text=入金済", timeout=20000)  # the bill itself, read again
        assert page.locator("#pay-by-card").count() == 0
        _fits_the_phone(page)

        assert query(app_server, lambda s: _card_payments(s, invoice_id)) == [(owed, owed)]
        checkouts = query(app_server, lambda s: [(c.status, c.amount) for c in s.exec(
            select(CardCheckout).where(CardCheckout.invoice_id == invoice_id)).all()])
        assert checkouts == [("paid", owed)]

        page.click("#payment-method-link")
        page.wait_for_selector("#current-method", timeout=20000)
        _fits_the_phone(page)
        page.get_by_label("金融機関コード（4桁）").fill("0005")  # the form's labels are tied to its inputs
        _tall_enough(page, "#apply-direct-debit")
    finally:
        context.close()
