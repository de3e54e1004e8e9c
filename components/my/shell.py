"""The customer app's frame: phone first — a slim top bar, the page, and a bottom bar of five large tabs."""

from __future__ import annotations

import reflex as rx

from components.frame import language_switch, shown_once_loaded, usable_once_loaded
from components.i18n import t
from state.my.shell import MyShellState
from telecom_app import routes

TOUCH = "48px"  # every tap target at least this tall (the guideline asks for 44 px)


def _tab(label_key: str, icon: str, href: str, tab_id: str, badge: rx.Var | None = None) -> rx.Component:
    return rx.link(
        rx.vstack(
            rx.box(rx.icon(icon, size=22), rx.cond(badge > 0, rx.badge(badge, color_scheme="red", size="1",
                                                                       position="absolute", top="-6px",
                                                                       right="-14px", id="unread-count"))
                   if badge is not None else rx.fragment(), position="relative"),
            rx.text(t(label_key), size="1"),
            spacing="0", align="center", justify="center",
        ),
        href=href, id=tab_id, flex="1", min_height=TOUCH, display="flex", align_items="center",
        justify_content="center", underline="none", color="var(--gray-12)",
    )


def my_shell(title: rx.Var | str, *children) -> rx.Component:
    """A /my page: its title and content in one column that fits a 390-px screen without sideways scroll."""
    return usable_once_loaded(rx.box(
        rx.flex(
            rx.text(t("my_app_name"), weight="bold", size="3"),
            rx.spacer(),
            rx.text(MyShellState.user_name, size="2", id="my-user", overflow="hidden", text_overflow="ellipsis",
                    white_space="nowrap", max_width="40vw"),
            language_switch(),
            align="center", spacing="2", padding="0.5em 1em", border_bottom="1px solid var(--gray-5)",
            background="var(--gray-2)", width="100%",
        ),
        shown_once_loaded(
            rx.vstack(rx.heading(title, size="5", as_="h1"), *children, spacing="4", width="100%"),
            padding="1em", padding_bottom="6em", max_width="640px", margin="0 auto", width="100%",
        ),
        rx.flex(
            _tab("my_home", "house", routes.MY_HOME, "tab-home"),
            _tab("my_bills", "receipt", routes.MY_BILLS, "tab-bills"),
            _tab("my_notices", "bell", routes.MY_NOTIFICATIONS, "tab-notices", MyShellState.unread),
            _tab("my_tickets", "message-circle-question", routes.MY_TICKETS, "tab-tickets"),  # 5 × 78 px fit 390
            _tab("my_security", "settings", routes.MY_SECURITY, "tab-settings"),
            position="fixed", bottom="0", left="0", right="0", background="var(--color-background)",
            border_top="1px solid var(--gray-5)", padding_bottom="env(safe-area-inset-bottom)", z_index="10",
            as_="nav", aria_label=t("my_app_name"),
        ),
        width="100%", overflow_x="hidden",
    ))
