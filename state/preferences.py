"""Display preferences of whoever uses the page, signed in or not (the language, kept in a cookie)."""

from __future__ import annotations

import reflex as rx

from state.session import public


class Preferences(rx.State):
    """The UI language (ja by default, en on request), for every audience and the sign-in pages."""

    lang: str = rx.Cookie("ja", name="tsm_lang", same_site="lax")

    @rx.event
    @public
    def set_lang(self, lang: str):
        """Switch the UI language (ja / en)."""
        self.lang = "en" if lang == "en" else "ja"
