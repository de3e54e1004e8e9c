"""/my/payment: the company's payment method (口座振替, a card on file charged for every bill, or paying each bill
by card or transfer): applying for 口座振替, registering, changing and removing the card on file."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.my.payment import payment_method_content
from components.my.shell import my_shell


def my_payment_page() -> rx.Component:
    """お支払い方法."""
    return my_shell(t("my_payment_method"), payment_method_content())
