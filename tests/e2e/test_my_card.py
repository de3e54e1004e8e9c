"""Registering a card on file in the customer app on a phone (390×844): the demo 法人管理者 opens お支払い方法, taps
「カードを登録する」, lands on the payment sandbox's registration page, is declined with the test card 4000…0002, registers
4242…, comes back to お支払い方法, which refreshes until the gateway's webhook has been taken in, and sees the card
(VISA ****4242); then removes it after confirming. No sideways scroll on either page, tap targets at least 44 px,
labels tied to inputs."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from demo.customers import DEMO_CUSTOMERS
from services.models import CustomerCard, CustomerUser, DirectDebitMandate
from tests.e2e.conftest import open_context, query, sign_in_customer

pytestmark = pytest.mark.e2e
PHONE = 390


def _company(s: Session) -> int:
    return s.exec(select(CustomerUser.customer_id).where(CustomerUser.email == DEMO_CUSTOMERS["admin"][0])).one()


def _cards(s: Session) -> list[tuple[str, str, str]]:
    """(brand, last4, status) of the demo company's cards on file."""
    return [(c.brand, c.last4, c.status) for c in s.exec(
        select(CustomerCard).where(CustomerCard.customer_id == _company(s)).order_by(CustomerCard.id)).all()]


def _has_direct_debit(s: Session) -> bool:
    return s.exec(select(DirectDebitMandate).where(DirectDebitMandate.customer_id == _company(s),
                                                   DirectDebitMandate.status == "active")).first() is not None


def _fits_the_phone(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE


def _tall_enough(page, selector: str) -> None:
    box = page.locator(selector).first.bounding_box()
    assert box is not None and box["height"] >= 44, f"{selector} is {box and box['height']} px tall"


def test_the_company_admin_registers_a_card_on_the_gateways_page_sees_it_and_removes_it(app_server, browser):
    base = app_server["base"]
    assert query(app_server, _cards) == []
    context = open_context(browser, "phone", locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(f"{base}/my/login?next=%2Fmy%2Fpayment")
        sign_in_customer(page, app_server, "admin")
        page.wait_for_url(re.compile(r".*/my/payment/?$"), timeout=20000)
        page.wait_for_selector("#register-card:not([disabled])", timeout=20000)
        assert "カードを登録する" in page.inner_text("#register-card")
        _fits_the_phone(page)
        _tall_enough(page, "#register-card")

        page.click("#register-card")  # the page waits for the outbox to open the gateway's page, then goes there
        page.wait_for_url(re.compile(r".*/setup/pay/seti_[0-9a-f]+$"), timeout=60000)
        assert page.url.startswith(app_server["payment"])
        page.wait_for_selector("#card_number", timeout=20000)
        _fits_the_phone(page)
        _tall_enough(page, "#register")
        _tall_enough(page, "#card_expiry")
        page.get_by_label("カード番号").fill("4000 0000 0000 0002")  # declined first: the page says so
        page.get_by_label("有効期限（月/年）").fill("12/30")
        page.click("#register")
        page.wait_for_selector("[role=alert]:has-text('承認されませんでした')", timeout=20000)
        _fits_the_phone(page)
        page.get_by_label("カード番号").fill("4242 4242 4242 4242")
        page.click("#register")

        page.wait_for_url(re.compile(r".*/my/payment/?\?card=done$"), timeout=30000)
        page.wait_for_selector("text=カードを登録しました", timeout=60000)  # once the webhook is in
        page.wait_for_selector("#card-on-file:has-text('VISA ****4242')", timeout=20000)
        assert "12/30" in page.inner_text("#card-on-file")
        if query(app_server, _has_direct_debit):  # 口座振替 takes precedence, and the page says so
            page.wait_for_selector("#debit-first", timeout=20000)
        else:
            page.wait_for_selector("#current-method[data-method=card_on_file]", timeout=20000)
            assert "VISA ****4242" in page.inner_text("#current-card")
        assert "カードを変更する" in page.inner_text("#register-card")
        _fits_the_phone(page)
        assert query(app_server, _cards) == [("visa", "4242", "active")]

        page.click("#remove-card")  # a confirmation first
        page.wait_for_selector("#remove-card-confirmation", timeout=20000)
        _tall_enough(page, "#confirm-remove-card")
        _tall_enough(page, "#keep-card")
        _fits_the_phone(page)
        page.click("#confirm-remove-card")
        page.wait_for_selector("text=カードの登録を解除しました", timeout=20000)
        assert page.locator("#card-on-file").count() == 0
        assert query(app_server, _cards) == [("visa", "4242", "removed")]
    finally:
        context.close()
