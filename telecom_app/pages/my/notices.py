"""/my/notifications: the notices, newest first; each shows its deadline when it has one and opens its next
action (the button says which: 「請求を見る」「データを追加」 …)."""

from __future__ import annotations

import reflex as rx

from components.i18n import t, tr
from components.my.shell import my_shell
from components.widgets import messages
from state.my.notices import MyNoticesState


def _notice(notice: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.cond(~notice["read"].to(bool), rx.badge(t("my_unread"), color_scheme="red", size="1")),
                rx.text(notice["title"], weight="bold", size="3"),
                gap="2", align="center", wrap="wrap",
            ),
            rx.text(notice["body"], size="2", white_space="pre-wrap", word_break="break_word"),
            rx.cond(notice["deadline"] != "",
                    rx.text(rx.icon("clock", size=14), " ", notice["deadline"], size="2", weight="bold",
                            color="var(--orange-11)", class_name="notice-deadline")),
            rx.text(notice["created_at"], size="1", color="var(--gray-11)"),
            rx.cond(notice["link"] != "",  # the next action, in words: 「請求を見る」「データを追加」 …
                    rx.button(notice["action_label"], size="3", width="100%", min_height="48px",
                              on_click=MyNoticesState.open(notice["id"]), id=f"open-notice-{notice['id']}"),
                    rx.cond(~notice["read"].to(bool), rx.button(tr("既読にする"), size="3", variant="soft", width="100%",
                                                       on_click=MyNoticesState.open(notice["id"])))),
            spacing="2", width="100%",
        ),
        width="100%", id=f"notice-{notice['id']}",
    )


def my_notices_page() -> rx.Component:
    """The notification centre."""
    return my_shell(
        t("my_notices"),
        messages(MyNoticesState),
        rx.cond(MyNoticesState.notices.length() > 0,
                rx.vstack(rx.foreach(MyNoticesState.notices, _notice), spacing="2", width="100%"),
                rx.text(t("my_no_notices"))),
    )
