"""The gate in front of dangerous operations: they run only as the execution of an approved request.

A gated service calls `require_approval("line.suspend")` first; outside an approved execution
that raises ApprovalRequired, so no screen, batch or API can skip the maker-checker step. While an
approved request executes, `executing_request()` names it and its maker (for records that must say
who checked and who approved, such as the 本人確認記録).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from services.platform.errors import ApprovalRequired


@dataclass(frozen=True)
class ExecutingRequest:
    """The approved request being executed: its number and the staff member who asked for it (None when a
    written rule asked as the system)."""

    id: int
    requested_by: int | None


_executing: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("approved_operations",
                                                                          default=frozenset())
_request: contextvars.ContextVar[ExecutingRequest | None] = contextvars.ContextVar("approved_request",
                                                                                 default=None)


def require_approval(operation: str) -> None:
    """Raise ApprovalRequired unless the approved request for `operation` is executing now."""
    if operation not in _executing.get():
        raise ApprovalRequired("この操作は承認が必要です。承認申請を作成してください。")


def executing_request() -> ExecutingRequest | None:
    """The approved request whose operation runs now (None outside an approval's execution)."""
    return _request.get()


@contextmanager
def approved(*operations: str, request: ExecutingRequest | None = None) -> Iterator[None]:
    """Run the block as the execution of approved operations (services.workflow.approvals; tests of the operations)."""
    token = _executing.set(_executing.get() | frozenset(operations))
    request_token = _request.set(request or _request.get())
    try:
        yield
    finally:
        _request.reset(request_token)
        _executing.reset(token)
