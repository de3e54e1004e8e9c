"""The gate in front of dangerous operations: they run only as the execution of an approved request.

A gated service calls `require_approval("line.suspend")` first; outside an approved execution
that raises ApprovalRequired, so no screen, batch or API can skip the maker-checker step.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from services.errors import ApprovalRequired

_executing: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("approved_operations",
                                                                          default=frozenset())


def require_approval(operation: str) -> None:
    """Raise ApprovalRequired unless the approved request for `operation` is executing now."""
    if operation not in _executing.get():
        raise ApprovalRequired("この操作は承認が必要です。承認申請を作成してください。")


@contextmanager
def approved(*operations: str) -> Iterator[None]:
    """Run the block as the execution of approved operations (services.approvals; tests of the operations)."""
    token = _executing.set(_executing.get() | frozenset(operations))
    try:
        yield
    finally:
        _executing.reset(token)
