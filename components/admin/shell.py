"""The staff back-office shell: header, navigation, global search and incident banner."""

from __future__ import annotations

import reflex as rx

from components.frame import language_switch, shown_once_loaded, usable_once_loaded
from components.i18n import t, tr
from state.admin.search import SearchState
from state.admin.shell import UiState
from telecom_app import routes


def search_box() -> rx.Component:
    """The global search box (finds numbers, identifiers, codes and names)."""
    return rx.form(
        rx.hstack(
            rx.input(name="q", placeholder=t("search_placeholder"), default_value=SearchState.query,
                     width="100%", id="global-search", type="search"),
            rx.button(rx.icon("search"), t("search"), type="submit"),
            width="100%", spacing="2",
        ),
        on_submit=SearchState.submit, reset_on_submit=False, width="100%",
    )


INCIDENT_COLORS = {"outage": "red", "maintenance": "amber"}


def _incident(incident) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.cond(incident["kind"] == "outage", rx.icon("triangle-alert"), rx.icon("wrench"))),
        rx.callout.text(
            rx.text.strong(incident["kind_label"], "（", incident["status_label"], "）: ", incident["title"]),
            rx.cond(incident["period"] != "", rx.text(incident["period"], size="1")),
            rx.cond(incident["scope"] != "", rx.text("対象: ", incident["scope"], size="1")),
            rx.cond(incident["description"] != "", rx.text(incident["description"], size="1")),
        ),
        color_scheme=rx.match(incident["kind"], *INCIDENT_COLORS.items(), "gray"), size="1",
        data_incident=incident["id"], role="status", width="100%",
    )


def incident_banner() -> rx.Component:
    """Outages and maintenance the monitoring provider reports as not yet over, on every staff page."""
    return rx.cond(UiState.incidents.length() > 0,
                   rx.vstack(rx.foreach(UiState.incidents, _incident), spacing="2", width="100%",
                             id="incidents", margin_top="0.75em"))


def admin_shell(*children, title: rx.Var | str = "") -> rx.Component:
    """The back-office frame around every staff page (usable once the page has loaded)."""
    return usable_once_loaded(rx.box(
        rx.box(
            rx.flex(
                rx.link(rx.heading(t("app_name"), size="4"), href=routes.AFTER_SIGN_IN, underline="none"),
                rx.flex(
                    rx.link(t("home"), href=routes.AFTER_SIGN_IN),
                    rx.link(t("customers"), href=routes.ADMIN_CUSTOMERS),
                    rx.link(t("lines"), href=routes.ADMIN_LINES),
                    rx.link(t("ticket_queue"), href=routes.ADMIN_TICKETS, id="nav-tickets"),
                    rx.link(t("new_customer"), href=routes.ADMIN_NEW_CUSTOMER),
                    rx.link(rx.hstack(t("approvals"), rx.cond(UiState.pending_approvals > 0,
                                                              rx.badge(UiState.pending_approvals, color_scheme="red",
                                                                       id="approval-count")),
                                      spacing="1", align="center"), href=routes.ADMIN_APPROVALS),
                    rx.link(rx.hstack(tr("要確認"), rx.cond(UiState.open_reviews > 0,
                                                          rx.badge(UiState.open_reviews, color_scheme="red",
                                                                   id="review-count")),
                                      spacing="1", align="center"), href=routes.ADMIN_REVIEW),
                    rx.link(t("billing"), href=routes.ADMIN_BILLING),
                    rx.link(t("payments_nav"), href=routes.ADMIN_PAYMENTS),
                    rx.link(t("receivables"), href=routes.ADMIN_RECEIVABLES),
                    rx.link(t("direct_debit"), href=routes.ADMIN_DIRECT_DEBIT),
                    rx.link(t("dunning"), href=routes.ADMIN_DUNNING),
                    rx.link(t("catalogue"), href=routes.ADMIN_CATALOGUE),
                    rx.link(t("audit"), href=routes.ADMIN_AUDIT),
                    rx.cond(UiState.role == "admin", rx.link(t("staff"), href=routes.ADMIN_STAFF)),
                    spacing="4", wrap="wrap",
                ),
                rx.spacer(),
                rx.flex(
                    rx.text(UiState.user_label, " ", rx.badge(UiState.role_label), size="2", id="signed-in-user"),
                    language_switch(),
                    rx.button(t("sign_out"), size="1", variant="outline", on_click=UiState.sign_out, id="sign-out"),
                    spacing="3", align="center", wrap="wrap",
                ),
                spacing="4", align="center", wrap="wrap", width="100%",
            ),
            rx.box(search_box(), margin_top="0.75em", width="100%"),
            incident_banner(),
            padding="0.75em 1em", border_bottom="1px solid var(--gray-5)", background="var(--gray-2)",
        ),
        shown_once_loaded(
            rx.vstack(rx.heading(title, size="6"), *children, spacing="4", width="100%"),
            padding="1em", max_width="1200px", margin="0 auto", width="100%",
        ),
        width="100%",
    ))
