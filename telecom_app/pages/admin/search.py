"""Grouped results of the global search."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.shell import admin_shell
from components.i18n import t
from components.widgets import link, messages, section, status_badge
from state.admin.search import SearchState


def _hit(hit) -> rx.Component:
    return rx.box(
        rx.hstack(rx.cond(hit["url"] != "", link(hit["title"], hit["url"]), rx.text(hit["title"])),
                  rx.cond(hit["status"] != "", status_badge(hit["status"], hit["status_label"])),
                  wrap="wrap", spacing="2", align="center"),
        rx.text(hit["subtitle"], size="1", color="gray"),
        padding_y="0.4em", border_bottom="1px solid var(--gray-4)", width="100%",
    )


def search_page() -> rx.Component:
    """Grouped results of the global search."""
    return admin_shell(
        messages(SearchState),
        rx.cond(SearchState.hint != "", rx.callout(SearchState.hint, icon="info")),
        rx.cond(SearchState.searched & (SearchState.groups.length() == 0) & (SearchState.hint == ""),
                rx.text(t("no_results"), id="no-results")),
        rx.foreach(SearchState.groups, lambda g: section(
            rx.hstack(rx.text(g["label"]), rx.badge(g["hits"].to(list[dict[str, Any]]).length())),
            rx.vstack(rx.foreach(g["hits"].to(list[dict[str, Any]]), _hit), spacing="0", width="100%"),
            rx.cond(g["more"], rx.text(t("more_results"), size="2", color="gray")),
            data_group=g["kind"],
        )),
        title=rx.cond(SearchState.query != "", "「" + SearchState.query + "」", t("search")),
    )
