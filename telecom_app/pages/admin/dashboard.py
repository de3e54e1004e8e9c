"""Home: line counts by state and open tickets."""

from __future__ import annotations

import reflex as rx

from components.admin.shell import admin_shell
from components.i18n import t
from components.widgets import messages, status_badge
from state.admin.dashboard import DashboardState
from telecom_app import routes


def dashboard_page() -> rx.Component:
    """Home: line counts by state and open tickets."""
    return admin_shell(
        messages(DashboardState),
        rx.grid(
            rx.foreach(DashboardState.line_counts, lambda c: rx.card(
                rx.link(rx.vstack(status_badge(c["status"], c["label"]), rx.heading(c["count"], size="6")),
                        href=routes.admin_lines_in(c["status"]), underline="none"))),
            rx.card(rx.vstack(rx.text(t("open_tickets"), size="2"), rx.heading(DashboardState.open_tickets, size="6"))),
            columns=rx.breakpoints(initial="2", sm="3", md="4"), spacing="3", width="100%",
        ),
        title=t("home"),
    )
