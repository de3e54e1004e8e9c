"""A server-paged list on a staff screen."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.platform.paging import Page
from state.feedback import MessagesMixin
from state.session import STAFF, guarded


class PagedListMixin(MessagesMixin, mixin=True):
    """A server-paged list: the current page of rows and the controls' numbers. Subclasses fetch a page
    (`_fetch(page)`) and show what came back (`_show_page`)."""

    rows: list[dict[str, Any]] = []
    page: int = 1
    pages: int = 1
    total: int = 0

    @rx.event
    @guarded(STAFF)
    def go(self, page: int):
        """Show another page."""
        self._fetch(page)

    def _show_page(self, result: Page) -> None:
        self.rows, self.page, self.pages, self.total = result.rows, result.page, result.pages, result.total
