"""Frames every audience shares: the language switch, controls usable once the page has loaded, a page body shown
once its data is this page's, the sign-in frame."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from state.preferences import Preferences


def language_switch() -> rx.Component:
    """日本語 / EN buttons (the choice is kept in a cookie)."""
    return rx.hstack(
        rx.button("日本語", size="1", variant=rx.cond(Preferences.lang == "ja", "solid", "soft"),
                  on_click=Preferences.set_lang("ja")),
        rx.button("EN", size="1", variant=rx.cond(Preferences.lang == "en", "solid", "soft"),
                  on_click=Preferences.set_lang("en")),
        spacing="1",
    )


def usable_once_loaded(*children) -> rx.Component:
    """Keep every input and button disabled until the page has loaded its data from the server.

    An action sent before the page's load handler has run would be answered first and then
    overwritten by that handler (a sign-in clicked while the page is still connecting came back
    to the password step). Links stay usable.
    """
    return rx.el.fieldset(*children, disabled=~rx.State.is_hydrated, aria_busy=~rx.State.is_hydrated,
                          style={"border": "none", "padding": "0", "margin": "0", "min_width": "0"})


def shown_once_loaded(*children, **props) -> rx.Component:
    """A page body that stays hidden (keeping its place, so nothing jumps) until the page has loaded its data.

    A tab keeps the data of the page it showed last: opening another customer, invoice or queue would otherwise
    show the previous one for a moment as if it were this one. The shell's header and navigation stay visible.
    """
    return rx.box(*children, visibility=rx.cond(rx.State.is_hydrated, "visible", "hidden"), **props)


def auth_frame(*children) -> rx.Component:
    """A small centred frame for the sign-in steps (usable once the page has loaded)."""
    return usable_once_loaded(rx.center(
        rx.card(rx.vstack(rx.heading(t("app_name"), size="5"), *children, spacing="4", width="100%"),
                width="100%", max_width="420px"),
        padding="1em", min_height="100vh",
    ))
