"""Messaging sandbox: an SMTP server that keeps mail in memory with a web inbox, and a LINE-style push API.

    SMTP on its own port (aiosmtpd): accepts any sender and recipient, keeps every message.
    GET  /inbox                    受信箱: mail and LINE messages as an HTML page
    GET  /inbox.json               mail as JSON (?to=address filters on a recipient, ?message_id=<id@host> on the
                                   Message-ID header)
    POST /v2/bot/message/push      Authorization: Bearer <channel token>; {"to", "messages": [1-5 messages]}
                                   -> {"sentMessages": [{"id", "quoteToken"}]}; an `X-Line-Retry-Key` that was
                                   already accepted answers 409 and records nothing
    GET  /line/messages.json       recorded pushes (?to= filters)

Faults apply to the push API and to SMTP DATA (down: 421, error: 451; latency delays the answer).
Run-time config: line_channel_token.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import secrets
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.base import (
    ApiError,
    ProviderConfig,
    ProviderSettings,
    SandboxProvider,
    faults_table,
    html_page,
    html_table,
    jst_text,
    read_json,
)
from sandbox.webhooks import utc_now

LINE_MESSAGE_TYPES = {"text", "sticker", "image", "video", "audio", "location", "imagemap", "template", "flex"}


@dataclass
class MessagingConfig(ProviderConfig):
    """Messaging run-time settings."""

    line_channel_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))  # random unless given


def _parse_mail(envelope: Envelope) -> dict[str, Any]:
    raw = envelope.original_content or envelope.content or b""
    if isinstance(raw, str):
        raw = raw.encode()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = html_body = None
    for part, kind in ((message.get_body(preferencelist=("plain",)), "text"),
                       (message.get_body(preferencelist=("html",)), "html")):
        if part is not None:
            content = part.get_content()
            if kind == "text":
                text = content
            else:
                html_body = content
    return {"id": "mail_" + secrets.token_hex(8), "received_at": utc_now(), "envelope_from": envelope.mail_from,
            "envelope_to": list(envelope.rcpt_tos), "from": str(message.get("From", "")),
            "to": str(message.get("To", "")), "cc": str(message.get("Cc", "")),
            "subject": str(message.get("Subject", "")), "message_id": str(message.get("Message-ID", "")),
            "text": text, "html": html_body, "size": len(raw)}


class _SmtpHandler:
    """aiosmtpd handler: faults, then keep the message."""

    def __init__(self, provider: MessagingSandbox):
        self.provider = provider

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        faults = self.provider.faults
        if faults.down_remaining() > 0:
            return "421 4.3.2 Service not available (sandbox fault: down)"
        status, _ = faults.draw()
        if faults.settings.latency_ms:
            await asyncio.sleep(faults.settings.latency_ms / 1000)
        if status is not None:
            return "451 4.3.0 Temporary failure (sandbox fault: error_rate)"
        mail = _parse_mail(envelope)
        self.provider.mail.append(mail)
        self.provider.record_effect("mail", None, mail["id"], mail_id=mail["id"], to=mail["envelope_to"],
                                    mail_subject=mail["subject"])
        return "250 2.0.0 Message accepted for delivery"


class MessagingSandbox(SandboxProvider):
    """Mail (SMTP) and LINE push messages, kept in memory."""

    name = "messaging"
    sends_webhooks = False
    config_class = MessagingConfig
    exempt_paths = frozenset({"/inbox", "/inbox.json", "/line/messages.json"})

    def __init__(self, settings: ProviderSettings | None = None, *, smtp_host: str = "127.0.0.1",
                 smtp_port: int = 9107, line_token: str | None = None):
        self.smtp_host, self.smtp_port = smtp_host, smtp_port
        self.smtp_server: asyncio.AbstractServer | None = None
        super().__init__(settings)
        if line_token:
            self.initial_config = replace(self.initial_config, line_channel_token=line_token)
        self.config = replace(self.initial_config)

    def clear(self) -> None:
        """No mail, no LINE messages."""
        self.mail: list[dict[str, Any]] = []
        self.line_messages: list[dict[str, Any]] = []
        self.retry_keys: dict[str, str] = {}

    async def startup(self) -> None:
        """Start the SMTP server on the running loop."""
        loop = asyncio.get_running_loop()
        handler = _SmtpHandler(self)
        self.smtp_server = await loop.create_server(
            lambda: SMTP(handler, hostname="sandbox.localhost", ident="telecom sandbox SMTP",
                         enable_SMTPUTF8=True, loop=loop),
            host=self.smtp_host, port=self.smtp_port)

    async def shutdown(self) -> None:
        """Stop the SMTP server."""
        if self.smtp_server is not None:
            self.smtp_server.close()
            await self.smtp_server.wait_closed()
            self.smtp_server = None

    def routes(self) -> list[Route]:
        """The inbox and the LINE-style API."""
        return [
            Route("/", lambda request: RedirectResponse("/inbox"), methods=["GET"]),
            Route("/inbox", self.inbox_page, methods=["GET"]),
            Route("/inbox.json", self.inbox_json, methods=["GET"]),
            Route("/v2/bot/message/push", self.line_push, methods=["POST"]),
            Route("/line/messages.json", self.line_json, methods=["GET"]),
        ]

    async def inbox_json(self, request: Request) -> JSONResponse:
        """Kept mail, newest last (?to= filters on a recipient, ?message_id= on the Message-ID header)."""
        to, message_id = request.query_params.get("to"), request.query_params.get("message_id")
        found = [m for m in self.mail if (to is None or to in m["envelope_to"])
                 and (message_id is None or m["message_id"] == message_id)]
        return JSONResponse({"count": len(found), "messages": found})

    async def line_json(self, request: Request) -> JSONResponse:
        """Recorded LINE pushes, newest last (?to= filters)."""
        to = request.query_params.get("to")
        found = [m for m in self.line_messages if to is None or m["to"] == to]
        return JSONResponse({"count": len(found), "messages": found})

    async def line_push(self, request: Request) -> Response:
        """Record a push message like LINE's Messaging API would send it."""
        request_id = uuid.uuid4().hex
        headers = {"x-line-request-id": request_id}
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not secrets.compare_digest(
                auth[7:].encode(), self.config.line_channel_token.encode()):
            return JSONResponse({"message": "Authentication failed. Confirm that the access token in the "
                                 "authorization header is valid."}, status_code=401, headers=headers)
        try:
            body = await read_json(request)
        except ApiError as exc:
            return JSONResponse({"message": exc.message}, status_code=400, headers=headers)
        problems = []
        if not isinstance(body.get("to"), str) or not body["to"]:
            problems.append({"message": "Must not be empty", "property": "to"})
        messages = body.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            problems.append({"message": "Size must be between 1 and 5", "property": "messages"})
        else:
            for i, message in enumerate(messages):
                if not isinstance(message, dict) or message.get("type") not in LINE_MESSAGE_TYPES:
                    problems.append({"message": "Invalid message type", "property": f"messages[{i}].type"})
                elif message["type"] == "text" and not (isinstance(message.get("text"), str) and message["text"]):
                    problems.append({"message": "Must not be empty", "property": f"messages[{i}].text"})
        if problems:
            return JSONResponse({"message": "The request body has 1 error(s)" if len(problems) == 1 else
                                 f"The request body has {len(problems)} error(s)", "details": problems},
                                status_code=400, headers=headers)
        retry_key = request.headers.get("x-line-retry-key")
        if retry_key and retry_key in self.retry_keys:
            return JSONResponse({"message": "The retry key is already accepted"}, status_code=409,
                                headers=headers | {"x-line-accepted-request-id": self.retry_keys[retry_key]})
        if retry_key:
            self.retry_keys[retry_key] = request_id
        sent = [{"id": str(secrets.randbelow(10**18)), "quoteToken": secrets.token_urlsafe(16)} for _ in messages]
        record = {"request_id": request_id, "to": body["to"], "messages": messages, "sent": sent,
                  "retry_key": retry_key, "notification_disabled": bool(body.get("notificationDisabled")),
                  "received_at": utc_now()}
        self.line_messages.append(record)
        self.record_effect("line_push", retry_key, body["to"], request_id=request_id, to=body["to"],
                           message_count=len(messages))
        return JSONResponse({"sentMessages": sent}, headers=headers)

    async def inbox_page(self, request: Request) -> Response:
        """受信箱 for demos: mail, then LINE messages."""
        mail_rows = [[jst_text(m["received_at"]), m["from"] or m["envelope_from"], ", ".join(m["envelope_to"]),
                      m["subject"], (m["text"] or "").strip()[:200]] for m in reversed(self.mail)]
        line_rows = [[jst_text(m["received_at"]), m["to"], " / ".join(
            msg.get("text", f"[{msg.get('type')}]") for msg in m["messages"])] for m in reversed(self.line_messages)]
        body = (f"<p>メール: {len(self.mail)} 件 ／ LINE: {len(self.line_messages)} 件 ／ "
                f"SMTP: {self.smtp_host}:{self.smtp_port}</p>"
                "<h2>メール</h2>"
                + html_table(["受信日時", "差出人", "宛先", "件名", "本文"], mail_rows, "メールはまだありません")
                + "<h2>LINE メッセージ</h2>"
                + html_table(["受信日時", "送信先", "内容"], line_rows, "LINE メッセージはまだありません")
                + "<h2>障害注入</h2>" + faults_table(self.faults.snapshot()))
        return html_page("受信箱（メッセージ サンドボックス）", body)
