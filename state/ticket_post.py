"""The answer of a ticket form's post (components.ticket_post runs it in the browser, the route is
telecom_app.ticket_uploads): read defensively — it comes back from the browser, so it only ever becomes words on
the same person's page or the id of a record the next page loads through the services again."""

from __future__ import annotations

from typing import Any

from state.feedback import int_param

OFFLINE = "送信できませんでした。通信状態を確認して、もう一度お試しください。"
FAILED = "送信できませんでした。もう一度お試しください。"


def posted(result: Any) -> dict[str, Any] | None:
    """The answer when the post succeeded (HTTP 201 and ok), else None."""
    if isinstance(result, dict) and result.get("status") == 201 and result.get("ok") is True:
        return result
    return None


def posted_id(result: dict[str, Any], key: str) -> int:
    """A record id from a successful answer (0 when missing)."""
    return int_param(result.get(key))


def refusal(result: Any) -> tuple[str, dict[str, str]]:
    """(page error, field errors) from an answer that was not a success; ("", {}) for a post still running."""
    result = result if isinstance(result, dict) else {}
    status = result.get("status")
    if status == -1:
        return "", {}
    if not status:
        return OFFLINE, {}
    message = str(result.get("message") or FAILED)[:300]
    errors = result.get("errors") if isinstance(result.get("errors"), dict) else {}
    return message, {str(k)[:40]: str(v)[:300] for k, v in list(errors.items())[:10]}
