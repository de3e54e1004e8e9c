"""Typed domain errors. The UI turns each into a message; none of them is a crash."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a user can cause; `message` is Japanese text for the screen."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PermissionDenied(DomainError):
    """The actor may not do this (deny by default)."""

    def __init__(self, message: str = "この操作を行う権限がありません。"):
        super().__init__(message)


class NotAuthenticated(PermissionDenied):
    """No valid session: the user must sign in again."""

    def __init__(self, message: str = "ログインが必要です。再度ログインしてください。"):
        super().__init__(message)


class NotFound(DomainError):
    """The referenced record does not exist."""


class InvalidTransition(DomainError):
    """The lifecycle table forbids this event in the current state."""


class ValidationFailed(DomainError):
    """Input is invalid; `fields` maps a field name to its message."""

    def __init__(self, fields: dict[str, str], message: str = "入力内容を確認してください。"):
        super().__init__(message)
        self.fields = fields


class Conflict(DomainError):
    """The change collides with existing data (duplicate, concurrent edit)."""


class ApprovalRequired(DomainError):
    """The operation must go through an approval request."""
