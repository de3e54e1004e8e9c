"""External operations (外部連携処理) as staff see them: status, attempts and the history of one record's provider calls."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.i18n import t

OPERATION_STATUS_COLORS = {"pending": "amber", "in_flight": "blue", "succeeded": "green", "failed": "red",
                           "unknown": "red"}


# Request, response and evidence bodies: wrapped, small, on a light background.
PRE_STYLE = {"white_space": "pre-wrap", "word_break": "break-all", "font_size": "12px", "margin": "0",
        "padding": "0.5em", "background": "var(--gray-3)", "border_radius": "6px", "max_height": "16em",
        "overflow": "auto", "width": "100%"}


def operation_status_badge(status: rx.Var, label: rx.Var) -> rx.Component:
    """A coloured badge for an external operation's state (保留, 処理中, 成功, 失敗, 要確認)."""
    return rx.badge(label, color_scheme=rx.match(status, *OPERATION_STATUS_COLORS.items(), "gray"),
                    variant="soft", data_status=status)


def _attempt(a) -> rx.Component:
    return rx.box(
        rx.hstack(rx.text("#", a["no"], weight="bold", size="2"), rx.text(a["at"], size="2"),
                  rx.text(a["duration_ms"], " ms", size="2", color="gray"),
                  rx.text("HTTP ", a["http_status"], size="2", color="gray"),
                  operation_status_badge(a["outcome"], a["outcome_label"]),
                  spacing="2", wrap="wrap", align="center"),
        rx.cond(a["error"] != "", rx.text(a["error"], size="1", color="red")),
        rx.el.details(
            rx.el.summary("送受信の内容", style={"cursor": "pointer", "font_size": "12px"}),
            rx.text("リクエスト", size="1", color="gray"), rx.el.pre(a["request"], style=PRE_STYLE),
            rx.text("レスポンス", size="1", color="gray"), rx.el.pre(a["response"], style=PRE_STYLE),
        ),
        padding_y="0.3em", border_bottom="1px dashed var(--gray-5)", width="100%", data_attempt=a["no"],
    )


def attempts_list(attempts: rx.Var) -> rx.Component:
    """The attempts of one external operation: when, how long, HTTP status, outcome, error, bodies."""
    return rx.cond(attempts.length() > 0,
                   rx.vstack(rx.foreach(attempts, _attempt), spacing="0", width="100%"),
                   rx.text("まだ送信していません。", size="1", color="gray"))


def _operation(op) -> rx.Component:
    return rx.box(
        rx.hstack(rx.text("#", op["id"], weight="bold"), rx.text(op["label"], weight="medium"),
                  operation_status_badge(op["status"], op["status_label"]),
                  rx.text("試行 ", op["attempt_count"], " 回", size="2", color="gray"),
                  spacing="2", wrap="wrap", align="center"),
        rx.text("作成 ", op["created_at"], " ・ 更新 ", op["updated_at"],
                rx.cond(op["next_attempt_at"] != "", " ・ 次回送信 " + op["next_attempt_at"].to(str), ""),
                size="1", color="gray"),
        rx.text("冪等キー: ", rx.code(op["idempotency_key"]), size="1", word_break="break-all"),
        rx.cond(op["last_error"] != "", rx.text("最後のエラー: ", op["last_error"], size="2", color="red")),
        attempts_list(op["attempts"].to(list[dict[str, Any]])),
        border_left="3px solid var(--accent-8)", padding_left="0.75em", width="100%", data_operation=op["id"],
    )


def operation_history(operations: rx.Var) -> rx.Component:
    """A record's external operations (外部連携の履歴), newest first, each with its attempts."""
    return rx.cond(operations.length() > 0,
                   rx.vstack(rx.foreach(operations, _operation), spacing="4", width="100%"),
                   rx.text(t("empty"), size="2", color="gray"))
