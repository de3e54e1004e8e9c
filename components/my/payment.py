"""The customer app's payment pieces: a bill's payment part (a failed payment's callout, 「カードで支払う」 or the
card on file it is charged to, the card payment's state while the page waits) and the お支払い方法 page's content
(the method, the card on file with registering, changing and removing it, 口座振替). Phone first: one column, tap
targets of 48 px, every input tied to its label."""

from __future__ import annotations

import reflex as rx

from components.i18n import t, tr
from components.my.shell import TOUCH
from components.widgets import field, form_label, messages
from state.my.payment import POLL_SECONDS, MyBillPaymentState, MyPaymentMethodState
from telecom_app import routes

CHECKOUT_COLORS = {"open": "amber", "paid": "green", "expired": "gray", "cancelled": "gray"}


def _problem() -> rx.Component:
    """What went wrong with paying the bill, what to do, by when, and what happens after (role=alert)."""
    problem = MyBillPaymentState.problem
    return rx.cond(
        problem.contains("title"),
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle_alert")),
            rx.vstack(
                rx.text(problem["title"], weight="bold", size="3"),
                rx.cond(problem["detail"] != "", rx.text(problem["detail"], size="2")),
                rx.text(rx.text.strong(t("my_what_to_do"), "："), problem["what_to_do"], size="2"),
                rx.cond(problem["deadline"] != "",
                        rx.text(rx.text.strong(t("my_pay_by"), "："), problem["deadline"], t("my_pay_by_end"), size="3",
                                id="pay-by")),
                rx.cond(problem["next_retry"] != "", rx.text(problem["next_retry"], size="2", id="next-retry")),
                rx.cond(problem["consequence"] != "", rx.text(problem["consequence"], size="2")),
                spacing="1", width="100%", min_width="0",
            ),
            color_scheme="red", role="alert", width="100%", id="payment-problem",
            data_reason=problem["reason"],
        ),
    )


def _checkout_state() -> rx.Component:
    checkout = MyBillPaymentState.checkout
    return rx.cond(
        checkout.contains("id"),
        rx.flex(
            rx.text(t("my_card_payment"), " ", checkout["amount"], size="2"),
            rx.spacer(),
            rx.badge(checkout["status_label"], color_scheme=rx.match(
                checkout["status"], *CHECKOUT_COLORS.items(), "gray"), variant="soft", size="2",
                data_status=checkout["status"]),
            align="center", width="100%", gap="2", id="checkout-status",
        ),
    )


def bill_payment_panel() -> rx.Component:
    """Paying one bill: the callout of a failed / late payment, 「カードで支払う」 and the card payment's state.

    Loads itself when it appears (it sits under the bill, which the page's own load fills first); while it waits
    for the gateway's page or its confirmation it asks again every POLL_SECONDS."""
    state = MyBillPaymentState
    return rx.box(
        rx.vstack(
            messages(state),
            _problem(),
            _checkout_state(),
            rx.cond(state.pay["charged_to"] != "",
                    rx.callout(rx.text(t("my_charged_to_card"), "（", state.pay["charged_to"], "）"), icon="credit_card",
                               color_scheme="blue", width="100%", id="charged-to-card")),
            rx.cond(
                state.pay["can_pay_by_card"],
                rx.vstack(
                    rx.button(rx.icon("credit_card", size=20), t("my_pay_by_card"), on_click=state.pay_by_card,
                              size="4", width="100%", min_height=TOUCH, id="pay-by-card",
                              loading=state.waiting_page, disabled=state.waiting_payment),
                    rx.text(t("my_card_note"), size="1", color="var(--gray-11)"),
                    spacing="1", width="100%",
                ),
            ),
            rx.cond(state.pay.contains("invoice_id"),
                    rx.link(t("my_payment_method"), " ›", href=routes.MY_PAYMENT, id="payment-method-link",
                            min_height=TOUCH, display="flex", align_items="center")),
            rx.cond(state.waiting_page | state.waiting_payment,
                    rx.moment(interval=POLL_SECONDS * 1000, on_change=state.refresh, display="none")),
            spacing="2", width="100%",
        ),
        on_mount=state.load, width="100%", id="bill-payment",
    )


# ---- お支払い方法 ------------------------------------------------------------------------------------------------

def _row(label: str | rx.Var, value: rx.Var) -> rx.Component:
    return rx.flex(rx.text(label, size="2", color="var(--gray-11)"), rx.spacer(),
                   rx.text(value, size="2", word_break="break_all", text_align="right"), width="100%", gap="2")


def _current() -> rx.Component:
    state = MyPaymentMethodState
    mandate = state.mandate
    return rx.card(
        rx.vstack(
            rx.heading(tr("現在のお支払い方法"), size="3", as_="h2"),
            rx.text(state.method["method_label"], weight="bold", id="current-method",
                    data_method=state.method["method"]),
            rx.cond(state.method["method"] == "card_on_file",
                    rx.text(state.card["masked"], " ", t("my_card_expiry"), " ", state.card["expiry"], size="2",
                            id="current-card")),
            rx.cond(mandate.contains("bank_code"), rx.vstack(
                _row(tr("金融機関コード"), mandate["bank_code"]),
                _row(tr("支店コード"), mandate["branch_code"]),
                _row(tr("預金種目"), mandate["account_type"]),
                _row(tr("口座番号"), mandate["account_number"]),
                _row(tr("口座名義"), mandate["holder"]),
                spacing="1", width="100%", id="mandate",
            )),
            spacing="2", width="100%",
        ),
        width="100%",
    )


def _remove_confirmation() -> rx.Component:
    state = MyPaymentMethodState
    return rx.callout.root(
        rx.vstack(
            rx.text(state.card["masked"], t("my_remove_card_ask"), size="2"),
            rx.button(t("my_remove_card_confirm"), on_click=state.remove_card, color_scheme="red", size="3",
                      width="100%", min_height=TOUCH, id="confirm-remove-card"),
            rx.button(t("my_keep_card"), on_click=state.keep_card, variant="outline", size="3", width="100%",
                      min_height=TOUCH, id="keep-card"),
            spacing="2", width="100%",
        ),
        color_scheme="red", role="alertdialog", width="100%", id="remove-card-confirmation",
    )


def _card_buttons() -> rx.Component:
    state = MyPaymentMethodState
    has_card = state.card.contains("id")
    return rx.vstack(
        rx.button(rx.icon("credit_card", size=20), rx.cond(has_card, t("my_change_card"), t("my_register_card")),
                  on_click=state.register_card, size="4", width="100%", min_height=TOUCH, id="register-card",
                  loading=state.waiting_card_page, disabled=state.waiting_card),
        rx.cond(has_card, rx.cond(
            state.confirming_remove, _remove_confirmation(),
            rx.button(t("my_remove_card"), on_click=state.ask_remove_card, variant="outline", color_scheme="red",
                      size="3", width="100%", min_height=TOUCH, id="remove-card"))),
        spacing="2", width="100%",
    )


def _card() -> rx.Component:
    state = MyPaymentMethodState
    card = state.card
    return rx.card(
        rx.vstack(
            rx.heading(tr("クレジットカード"), size="3", as_="h2"),
            rx.cond(
                card.contains("id"),
                rx.vstack(
                    _row(t("my_card_on_file"), card["masked"]),
                    _row(t("my_card_expiry"), card["expiry"]),
                    _row(tr("登録日時"), card["registered_at"]),
                    rx.text(t("my_card_on_file_note"), size="2"),
                    rx.cond(state.mandate.contains("bank_code"),
                            rx.text(t("my_card_debit_first"), size="2", weight="bold", id="debit-first")),
                    spacing="1", width="100%", id="card-on-file", data_last4=card["last4"],
                ),
                rx.text(t("my_no_card_note"), size="2"),
            ),
            rx.cond(state.method["can_manage_card"], _card_buttons()),
            rx.text(t("my_card_note"), size="1", color="var(--gray-11)"),
            rx.link(t("my_bills"), " ›", href=routes.MY_BILLS, min_height=TOUCH, display="flex",
                    align_items="center"),
            rx.cond(state.waiting_card_page | state.waiting_card,
                    rx.moment(interval=POLL_SECONDS * 1000, on_change=state.refresh, display="none")),
            spacing="2", width="100%",
        ),
        width="100%", id="card-section",
    )


def _application() -> rx.Component:
    application = MyPaymentMethodState.application
    return rx.cond(
        application.contains("id"),
        rx.callout(
            rx.text(t("my_debit_application"), application["id"], t("my_debit_application_on"),
                    application["created_at"], t("my_debit_application_end"), application["words"]),
            color_scheme=rx.cond(application["waiting"], "blue", "gray"), width="100%", id="debit-application",
            data_status=application["status"],
        ),
    )


def _apply_form() -> rx.Component:
    state = MyPaymentMethodState
    errors = state.field_errors
    box = {"height": TOUCH, "size": "3"}
    return rx.form(
        rx.vstack(
            rx.heading(t("my_apply_direct_debit"), size="3", as_="h2"),
            rx.text(t("my_debit_help"), size="2"),
            field("bank_code", "金融機関コード（4桁）", errors, input_mode="numeric", max_length=8,
                  placeholder="0005", auto_complete="off", **box),
            field("branch_code", "支店コード（3桁）", errors, input_mode="numeric", max_length=6, placeholder="123",
                  auto_complete="off", **box),
            rx.vstack(
                form_label(tr("預金種目"), "account_type"),
                rx.el.select(
                    rx.foreach(state.account_types, lambda kind: rx.el.option(kind["label"], value=kind["value"])),
                    name="account_type", id="account_type", default_value="1",
                    style={"width": "100%", "min_height": TOUCH, "font_size": "16px", "padding": "0 0.5em",
                           "border": "1px solid var(--gray-7)", "border_radius": "6px",
                           "background": "var(--color-background)"},
                ),
                rx.cond(errors.contains("account_type"),
                        rx.text(errors["account_type"], color="red", size="2", data_error="account_type")),
                spacing="1", width="100%",
            ),
            field("account_number", "口座番号（7桁）", errors, input_mode="numeric", max_length=14,
                  placeholder="1234567", auto_complete="off", **box),
            field("holder_name", "口座名義（カタカナ）", errors, placeholder="ヤマダ タロウ", max_length=60,
                  auto_complete="off", **box),
            rx.text(t("my_holder_help"), size="1", color="var(--gray-11)"),
            rx.button(t("my_apply_direct_debit"), type="submit", size="4", width="100%", min_height=TOUCH,
                      id="apply-direct-debit"),
            spacing="3", width="100%",
        ),
        on_submit=state.apply_for_direct_debit, width="100%",
    )


def payment_method_content() -> rx.Component:
    """The お支払い方法 page's content: the current method, card payments, the 口座振替 application."""
    state = MyPaymentMethodState
    return rx.vstack(
        messages(state),
        rx.cond(
            state.method["visible"],
            rx.vstack(
                _current(),
                _application(),
                _card(),
                rx.cond(state.method["can_apply"], rx.card(_apply_form(), width="100%"),
                        rx.cond(~state.method["is_admin"].to(bool),
                                rx.text(t("my_method_admin_only"), size="2", id="admin-only"))),
                spacing="3", width="100%",
            ),
            rx.cond(state.method.contains("visible"),
                    rx.text(t("my_method_ask_admin"), size="2", id="not-visible")),
        ),
        spacing="3", width="100%",
    )
