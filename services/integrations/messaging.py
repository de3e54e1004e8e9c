"""Messaging to customers: mail over SMTP and LINE-style push messages, each under the operation's key.

mail: one message per operation, sent with smtplib (explicit timeout) to settings.smtp_host:smtp_port,
with a Message-ID made from the idempotency key, so a message already delivered is recognised:
before sending, the inbox is asked for that Message-ID (GET {messaging_url}/inbox.json?message_id=)
and a message found there is not sent again (an inbox that does not answer does not hold the mail back:
without it a retry may deliver twice). SMTP 4xx, a timeout or a broken connection -> unknown
(it may have been delivered), 5xx -> failed.

push: POST {messaging_url}/v2/bot/message/push with the channel token and an `X-Line-Retry-Key`
derived from the idempotency key (a UUID, the same on every retry). A 409 "already accepted" for
that retry key means an earlier attempt was delivered: succeeded. Other answers are classified as
for every provider (services.integrations.http).
"""

from __future__ import annotations

import json
import smtplib
import threading
import time
import uuid
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpx

from services.integrations.http import CallResult, HttpProvider, elapsed_ms, result_of, unsupported
from services.platform import installation_secrets
from services.platform.config import settings

PUSH_PATH = "/v2/bot/message/push"
RETRY_KEY_HEADER = "X-Line-Retry-Key"
RETRY_KEY_NAMESPACE = uuid.UUID("6f1c1f0e-4b7a-5d3e-9c61-2f8a7d0b5e43")
LINE_TEXT_LIMIT = 5000


def message_id(idempotency_key: str, mail_from: str | None = None) -> str:
    """The Message-ID header of the mail sent under `idempotency_key` (the same on every retry)."""
    domain = (mail_from or settings.mail_from).rpartition("@")[2] or "localhost"
    return f"<{idempotency_key}@{domain}>"


def line_retry_key(idempotency_key: str) -> str:
    """The X-Line-Retry-Key of the push sent under `idempotency_key`: a UUID derived from it."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, idempotency_key))


class MessagingClient(HttpProvider):
    """Mail (SMTP) and LINE push client (thread-safe: one SMTP connection per message)."""

    def __init__(self, base_url: str | None = None, *, smtp_host: str | None = None, smtp_port: int | None = None,
                 mail_from: str | None = None, line_token: str | None = None, smtp_timeout: float | None = None,
                 connect_timeout: float | None = None, read_timeout: float | None = None,
                 transport: httpx.BaseTransport | None = None):
        super().__init__(base_url or settings.messaging_url, connect_timeout=connect_timeout,
                         read_timeout=read_timeout, transport=transport)
        self.smtp_host = smtp_host or settings.smtp_host
        self.smtp_port = smtp_port or settings.smtp_port
        self.mail_from = mail_from or settings.mail_from
        self.line_token = line_token or installation_secrets.line_channel_token()
        self.smtp_timeout = settings.carrier_read_timeout_seconds if smtp_timeout is None else smtp_timeout

    def call(self, operation: Mapping[str, Any]) -> CallResult:
        """Send one message ("mail" or "push") and classify the answer."""
        payload = dict(operation.get("payload") or {})
        key = operation["idempotency_key"]
        if operation.get("operation") == "mail":
            if not payload.get("to") or not payload.get("subject"):
                return unsupported(operation, "mail needs to and subject")
            return self.send_mail(payload, key)
        if operation.get("operation") == "push":
            if not payload.get("to") or not payload.get("text"):
                return unsupported(operation, "push needs to and text")
            return self.push(payload, key)
        return unsupported(operation, "unsupported messaging operation")

    def send_mail(self, payload: Mapping[str, Any], key: str) -> CallResult:
        """Send one mail over SMTP unless the inbox already holds its Message-ID."""
        mid = message_id(key, self.mail_from)
        request = {"method": "SMTP", "message_id": mid, "subject": payload["subject"]}
        started = time.monotonic()
        if self._find_mail(mid) == "applied":
            return CallResult("succeeded", 250, json.dumps({"id": mid, "already_delivered": True}), None,
                              elapsed_ms(started), request)
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = payload["to"]
        message["Subject"] = payload["subject"]
        message["Message-ID"] = mid
        message["Date"] = formatdate(localtime=False)
        message.set_content(payload.get("text") or "")
        smtp = None
        try:
            smtp = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.smtp_timeout)
            refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            outcome = "failed" if codes and all(code >= 500 for code in codes) else "unknown"
            return CallResult(outcome, codes[0] if codes else None, "", f"SMTP recipient refused {codes}",
                              elapsed_ms(started), request)
        except smtplib.SMTPResponseException as exc:
            outcome = "failed" if exc.smtp_code >= 500 else "unknown"
            text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
            return CallResult(outcome, exc.smtp_code, "", f"SMTP {exc.smtp_code} {text}"[:500],
                              elapsed_ms(started), request)
        except (smtplib.SMTPException, OSError) as exc:
            return CallResult("unknown", None, "", f"{type(exc).__name__}: {exc}"[:500], elapsed_ms(started), request)
        finally:
            if smtp is not None:
                _quit(smtp)
        return CallResult("succeeded", 250, json.dumps({"id": mid, "refused": sorted(refused)}), None,
                          elapsed_ms(started), request)

    def push(self, payload: Mapping[str, Any], key: str) -> CallResult:
        """Send one LINE push message with the retry key derived from `key`."""
        body = {"to": payload["to"], "messages": [{"type": "text", "text": str(payload["text"])[:LINE_TEXT_LIMIT]}]}
        retry_key = line_retry_key(key)
        request = {"method": "POST", "path": PUSH_PATH, "retry_key": retry_key, "json": body}
        started = time.monotonic()
        try:
            response = self.http.post(PUSH_PATH, json=body, headers={
                "Authorization": f"Bearer {self.line_token}", RETRY_KEY_HEADER: retry_key})
        except httpx.HTTPError as exc:
            return CallResult("unknown", None, "", f"{type(exc).__name__}: {exc}"[:500], elapsed_ms(started), request)
        if response.status_code == 409 and _already_accepted(response):
            return result_of(response, started, request, outcome="succeeded")
        return result_of(response, started, request)

    def lookup(self, idempotency_key: str) -> str:
        """Was the message sent under this key delivered? "applied", "not_applied" or "unreachable"."""
        if idempotency_key.startswith("messaging-push-"):
            return self.find_by_key("/line/messages.json", line_retry_key(idempotency_key), key_field="retry_key",
                                    list_field="messages")
        return self._find_mail(message_id(idempotency_key, self.mail_from))

    def _find_mail(self, mid: str) -> str:
        try:
            response = self.http.get("/inbox.json", params={"message_id": mid})
            if response.status_code != 200:
                return "unreachable"
            found = [m for m in response.json().get("messages", []) if isinstance(m, dict) and m.get("message_id") == mid]
        except (httpx.HTTPError, ValueError, AttributeError):
            return "unreachable"
        return "applied" if found else "not_applied"


def _already_accepted(response: httpx.Response) -> bool:
    """A 409 that says this retry key was accepted before (not some other conflict)."""
    if response.headers.get("x-line-accepted-request-id"):
        return True
    try:
        return "already accepted" in str(response.json().get("message", "")).lower()
    except ValueError:
        return False


def _quit(smtp: smtplib.SMTP) -> None:
    """End the SMTP session; a failure here does not change the outcome of the message."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


_default: MessagingClient | None = None
_default_lock = threading.Lock()


def default_client() -> MessagingClient:
    """The process-wide client for the configured messaging URL and SMTP server."""
    global _default
    with _default_lock:
        if _default is None:
            _default = MessagingClient()
        return _default
