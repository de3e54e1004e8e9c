"""Global search: one box that finds numbers, identifiers, codes and names."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.read import search
from state.feedback import MessagesMixin
from state.session import STAFF, actor, guarded
from telecom_app import routes


class SearchState(MessagesMixin, rx.State):
    """The search box in the shell and the grouped results page."""

    query: str = ""
    groups: list[dict[str, Any]] = []
    hint: str = ""
    searched: bool = False

    @rx.event
    @guarded(STAFF)
    def load_results(self):
        """Run the search named in the URL (?q=...) when the results page opens."""
        self.query = self.router.url.query_parameters.get("q", "")
        self._run()

    @rx.event
    @guarded(STAFF)
    def submit(self, form: dict):
        """Search from the box and show the results page."""
        self.query = (form.get("q") or "").strip()
        self._run()
        return rx.redirect(routes.admin_search(self.query)) if self.query else None

    def _run(self) -> None:
        self.groups, self.hint, self.searched = [], "", False
        if not self.query:
            return
        results = search.global_search(self.query, actor=actor())
        self.hint = results.hint or ""
        self.groups = [
            {"kind": g.kind, "label": g.label_ja, "more": g.more,
             "hits": [{"title": h.title, "subtitle": h.subtitle or "", "status": h.status or "", "status_label": h.status_label,
                       "url": routes.admin_record(*h.opens) if h.opens else ""} for h in g.hits]}
            for g in results.groups
        ]
        self.searched = True
