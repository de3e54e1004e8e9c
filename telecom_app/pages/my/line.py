"""/my/lines/[line_id]: one line — what may be asked for it now (利用停止・再開・解約・MNP予約番号・SIM再発行) with
the reason, what the app cannot do and where to ask instead, and each request's timeline."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.my.shell import TOUCH, my_shell
from components.widgets import form_label, messages, status_badge
from state.my.line import MyLineState as S
from telecom_app import routes


def _step(step: rx.Var) -> rx.Component:
    state = step["state"]
    return rx.flex(
        rx.box(rx.match(state,
                        ("done", rx.icon("circle-check", size=20, color="var(--green-10)")),
                        ("current", rx.icon("clock", size=20, color="var(--amber-10)")),
                        ("failed", rx.icon("circle-x", size=20, color="var(--red-10)")),
                        rx.icon("circle", size=20, color="var(--gray-8)")), flex_shrink="0"),
        rx.vstack(
            rx.text(step["label"], size="2", weight=rx.cond(state == "current", "bold", "medium"),
                    color=rx.cond(state == "waiting", "var(--gray-10)", "var(--gray-12)")),
            rx.cond(step["at"] != "", rx.text(step["at"], size="1", color="var(--gray-11)")),
            rx.cond(step["note"] != "", rx.text(step["note"], size="1", color="var(--gray-11)",
                                                word_break="break-word")),
            spacing="0", min_width="0",
        ),
        gap="2", align="start", width="100%", data_step=step["key"], data_state=state,
    )


def _request(r: rx.Var) -> rx.Component:
    return rx.card(rx.vstack(
        rx.flex(
            rx.text(r["kind_label"], weight="bold"),
            rx.cond(r["focused"].to(bool), rx.badge(t("my_line_this_request"), variant="soft")),
            rx.cond(r["urgent"].to(bool), rx.badge(t("my_line_urgent"), color_scheme="red", variant="solid")),
            rx.spacer(),
            status_badge(r["status"], r["status_label"]),
            align="center", gap="2", width="100%", wrap="wrap",
        ),
        rx.text(r["reference"], " · ", r["created_at"], size="1", color="var(--gray-11)"),
        rx.cond(r["reservation_number"] != "", rx.box(
            rx.text(t("my_line_mnp_number"), size="1", color="var(--gray-11)"),
            rx.text(r["reservation_number"], size="6", weight="bold", class_name="mnp-number",
                    letter_spacing="0.05em"),
            rx.text(t("my_line_valid_until"), ": ", r["expires_on"], size="2"),
        )),
        rx.vstack(rx.foreach(r["steps"].to(list[dict[str, str]]), _step), spacing="2", width="100%"),
        spacing="2", width="100%",
    ), width="100%", data_request=r["key"], data_kind=r["kind"], data_status=r["status"],
        data_focused=rx.cond(r["focused"].to(bool), "true", "false"),
        border=rx.cond(r["focused"].to(bool), "2px solid var(--accent-9)", "none"))


def _reason(choice: rx.Var) -> rx.Component:
    target = f"reason-{choice['value']}"
    return rx.el.label(
        rx.el.input(type="radio", name="reason", value=choice["value"], id=target,
                    style={"width": "20px", "height": "20px"}),
        rx.text(choice["label"], size="3"),
        html_for=target,
        style={"display": "flex", "gap": "0.6em", "align_items": "center", "min_height": TOUCH, "cursor": "pointer"},
    )


def _form(action: rx.Var) -> rx.Component:
    kind = action["kind"]
    errors = S.field_errors
    return rx.form(rx.vstack(
        rx.cond(kind == "terminate", rx.callout(rx.vstack(
            rx.text(t("my_line_terms"), weight="bold"),
            rx.el.ul(rx.foreach(S.line_terms, lambda term: rx.el.li(rx.text(term, size="2"))),
                     style={"padding_left": "1.2em", "margin": "0"}),
            spacing="1"), color_scheme="red", icon="triangle_alert", width="100%", id="termination-terms")),
        rx.cond(kind == "mnp", rx.text(t("my_line_mnp_help"), size="2")),
        rx.cond(kind == "sim_reissue", rx.vstack(
            rx.text(t("my_line_sim_fee"), ": ", rx.text.strong(S.line_view["sim_fee"]), size="2", id="sim-fee"),
            rx.text(t("my_line_sim_help"), size="2"), spacing="1")),
        rx.cond(action["reasons"].to(list).length() > 0, rx.vstack(
            rx.el.fieldset(
                rx.el.legend(rx.text(t("my_line_reason"), size="2", weight="medium")),
                rx.foreach(action["reasons"].to(list[dict[str, str]]), _reason),
                style={"border": "none", "padding": "0", "margin": "0", "width": "100%"},
            ),
            rx.cond(errors.contains("reason"), rx.text(errors["reason"], color="red", size="2", data_error="reason")),
            form_label(t("my_line_details"), "details"),
            rx.text_area(name="details", id="details", width="100%", rows="3", max_length=500),
            rx.cond(errors.contains("details"), rx.text(errors["details"], color="red", size="2",
                                                        data_error="details")),
            spacing="1", width="100%")),
        rx.cond(kind == "terminate", rx.vstack(
            form_label(t("my_line_confirm_number"), "confirm_number"),
            rx.input(name="confirm_number", id="confirm_number", width="100%", size="3", input_mode="tel",
                     placeholder=S.line_view["confirm_hint"], auto_complete="off"),
            rx.cond(errors.contains("confirm_word"), rx.text(errors["confirm_word"], color="red", size="2",
                                                             data_error="confirm_word")),
            spacing="1", width="100%")),
        rx.cond(kind == "suspend", rx.text(t("my_line_urgent_note"), size="2", weight="medium")),
        rx.text(t("my_line_staff_note"), size="1", color="var(--gray-11)"),
        rx.flex(
            rx.button(t("my_line_close"), type="button", variant="soft", color_scheme="gray", size="3",
                      on_click=S.close_form, min_height=TOUCH),
            rx.button(t("my_line_send"), type="submit", size="3", min_height=TOUCH, id="request-submit",
                      color_scheme=rx.cond(kind == "terminate", "red", "accent")),
            gap="2", justify="end", width="100%", wrap="wrap",
        ),
        spacing="3", width="100%",
    ), on_submit=S.submit_request, reset_on_submit=False, width="100%", id="request-form")


def _action(action: rx.Var) -> rx.Component:
    kind = action["kind"]
    allowed = action["allowed"].to(bool)
    return rx.vstack(
        rx.button(action["label"], on_click=S.open_form(kind), disabled=~allowed, size="3", width="100%",
                  min_height=TOUCH, variant=rx.cond(kind == "terminate", "outline", "soft"),
                  color_scheme=rx.cond(kind == "terminate", "red", "accent"), id=f"request-{kind}"),
        rx.cond(~allowed & S.line_view["can_request"].to(bool),
                rx.text(action["why"], size="1", color="var(--gray-11)", data_why=kind)),
        rx.cond(S.form_kind == kind, rx.card(_form(action), width="100%")),
        spacing="1", width="100%",
    )


def _cannot() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(t("my_line_cannot"), size="3", as_="h2"),
        rx.el.ul(
            rx.el.li(rx.text(t("my_line_cannot_holder"), size="2")),
            rx.el.li(rx.text(t("my_line_cannot_number"), size="2")),
            rx.el.li(rx.text(t("my_line_cannot_initial"), size="2")),
            rx.el.li(rx.text(t("my_line_cannot_undo"), size="2")),
            style={"padding_left": "1.2em", "margin": "0"},
        ),
        rx.text(t("my_line_cannot_how"), size="2"),
        rx.link(rx.button(t("my_line_ask"), size="3", variant="outline", min_height=TOUCH, width="100%"),
                href=routes.MY_TICKETS, width="100%", id="ask-support"),
        rx.text(t("my_line_plan_change"), size="2"),
        rx.link(t("my_contracts"), href=routes.my_contract(S.line_view["contract_id"]), size="2",
                min_height=TOUCH, display="flex", align_items="center"),
        spacing="2", width="100%",
    ), width="100%", id="cannot-do")


def my_line_page() -> rx.Component:
    """One line: the requests it offers, what cannot be done here, and its requests' timelines."""
    view = S.line_view
    return my_shell(
        t("my_line"),
        messages(S),
        rx.cond(view.contains("id"), rx.vstack(
            rx.card(rx.vstack(
                rx.flex(rx.text(view["msisdn"], weight="bold", size="5", id="line-number"), rx.spacer(),
                        status_badge(view["status"], view["status_label"]), align="center", width="100%",
                        wrap="wrap", gap="2"),
                rx.text(view["plan_name"], " · ", view["contract"], size="2", color="var(--gray-11)"),
                spacing="1", width="100%"), width="100%"),
            rx.heading(t("my_line_requests"), size="4", as_="h2"),
            rx.cond(view["no_right"] != "", rx.callout(view["no_right"], icon="info", color_scheme="gray",
                                                       width="100%", id="no-right")),
            rx.vstack(rx.foreach(S.line_actions, _action), spacing="2", width="100%", id="request-actions"),
            rx.heading(t("my_line_history"), size="4", as_="h2"),
            rx.cond(S.line_requests.length() > 0,
                    rx.vstack(rx.foreach(S.line_requests, _request), spacing="2", width="100%", id="line-requests"),
                    rx.text(t("my_line_no_requests"), size="2", color="var(--gray-11)")),
            _cannot(),
            spacing="3", width="100%",
        )),
    )
