"""Server-side paging of long lists: one page of rows and the numbers the pager shows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Page:
    """One page of a server-side paged list."""

    rows: list[dict]
    page: int
    page_size: int
    total: int
    pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.pages = max(1, math.ceil(self.total / self.page_size))
