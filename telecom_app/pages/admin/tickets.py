"""One support ticket and its conversation."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.records import loading
from components.admin.shell import admin_shell
from components.widgets import kv, link, messages, section, status_badge
from state.admin.tickets import TicketState
from telecom_app import routes


def ticket_page() -> rx.Component:
    """One support ticket and its conversation."""
    d = TicketState.data
    tk = d["ticket"].to(dict[str, Any])
    return admin_shell(
        messages(TicketState),
        loading(TicketState, rx.vstack(
            section(rx.hstack(rx.text(tk["subject"].to(str)), status_badge(tk["status"].to(str), tk["status_label"].to(str))),
                rx.data_list.root(
                    kv("顧客", link(d["customer"].to(dict[str, Any])["name"].to(str), routes.admin_customer(d["customer"].to(dict[str, Any])["id"]))),
                    kv("契約", rx.cond(tk["contract_id"].to(int) != 0, link(tk["contract_code"].to(str), routes.admin_contract(tk["contract_id"])), "—")),
                    kv("回線", rx.cond(tk["line_id"].to(int) != 0, link(tk["msisdn"].to(str), routes.admin_line(tk["line_id"])), "—")),
                    kv("受付日時", tk["created_at"].to(str)),
                ),
            ),
            section("やりとり", rx.foreach(d["messages"].to(list[dict[str, Any]]), lambda m: rx.card(
                rx.text(m["author"], " ・ ", m["at"], size="1", color="gray"), rx.text(m["body"]), width="100%"))),
            spacing="4", width="100%",
        )),
        title=rx.cond(TicketState.loaded, "問い合わせ #" + tk["id"].to(str), ""),
    )
