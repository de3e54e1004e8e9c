"""Ticket messages with files, and the files themselves, as HTTP routes beside the Reflex app.

Reflex's own upload endpoint (/_upload) stays closed (telecom_app.http_policy): files come only through here.
The ticket pages post their form — text fields and up to 3 files — as one multipart request with a small
fetch() (the Content-Security-Policy allows connect-src 'self'), then show the JSON answer and refresh:

- POST /api/my/tickets                    a customer's new ticket (subject, topic "line:<id>"/"invoice:<id>", body, files)
- POST /api/my/tickets/{ticket_id}/messages a customer's reply (body, files)
- POST /api/tickets/{ticket_id}/messages    a staff reply, or with internal=on an internal note (body, files)
- GET  /api/my/attachments/{id}            a file, for the ticket's customer (never an internal note's)
- GET  /api/attachments/{id}               a file, for staff with ticket.view

Every post must come from this very site (Origin equal to Host; none at all is refused too) and carry the session
cookie of its audience (customer: MY_SESSION_COOKIE; staff: SESSION_COOKIE — the other audience's cookie is no
session here). The body is capped by HttpPolicy while it is read (UPLOAD_MAX_BODY_BYTES); the form by the parser
(3 files, a few fields of at most 64 KB). The file's claimed type is ignored: one service call checks scope,
text, size, count and type (services.ledger.tickets / ticket_files) and writes everything with one audit entry.
Answers: 201 {"ok": true, ...}, or 4xx {"error", "message", "errors"} with a short Japanese message — 401 no
session, 403 another site or no right, 404 not theirs (the same as an unknown id), 400 bad input or too many
files, 413 too large, 415 a type that may not be attached, 409 a closed ticket.
Downloads are `Content-Disposition: attachment`, `X-Content-Type-Options: nosniff`, a sandboxing CSP and no-store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlparse

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.ledger import tickets
from services.ledger.ticket_files import MAX_FILES_PER_MESSAGE, TOO_MANY, AttachmentRefused, Upload
from services.platform.errors import (
    DomainError,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from services.platform.permissions import Actor
from services.read.customer import tickets as my_tickets
from services.read.staff import tickets as staff_tickets
from services.security import auth, customer_auth
from telecom_app import routes

FORM_LIMITS = {"max_files": MAX_FILES_PER_MESSAGE, "max_fields": 8, "max_part_size": 64 * 1024}
SIGN_IN_FIRST = "ログインしてください。"
OTHER_SITE = "この画面からは送信できません。ページを開き直してください。"
UNREADABLE_FORM = "送信内容を読み取れませんでした。もう一度お試しください。"
NOT_FOUND = "見つかりません。"
_REFUSED_STATUS = {"too_large": 413, "wrong_type": 415, "too_many": 400, "empty": 400}


def _answer(status: int, code: str, message: str, errors: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, "errors": errors or {}}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return bool(origin) and urlparse(origin).netloc == request.headers.get("host")


def _actor(request: Request, customer: bool) -> Actor:
    """The signed-in person of the route's audience (NotAuthenticated otherwise)."""
    if customer:
        return customer_auth.resolve_session(request.cookies.get(routes.MY_SESSION_COOKIE),
                                             request_id=uuid.uuid4().hex)
    return auth.resolve_session(request.cookies.get(routes.SESSION_COOKIE), request_id=uuid.uuid4().hex)


async def _form(request: Request) -> tuple[dict[str, str], list[Upload]]:
    """The text fields and the files of the posted form (a file input left empty sends a nameless empty part:
    it is no file)."""
    form = await request.form(**FORM_LIMITS)
    fields: dict[str, str] = {}
    files: list[Upload] = []
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                if value.filename or data:
                    files.append(Upload(value.filename or "", data))
            else:
                fields.setdefault(name, value)
    finally:
        await form.close()
    return fields, files


async def _post(request: Request, *, customer: bool, call: Callable[[Actor, dict[str, str], list[Upload]], Any],
                created: Callable[[Any], dict[str, Any]]) -> JSONResponse:
    """The shape of every post: same site, session, form, one service call, JSON in words."""
    if not _same_origin(request):
        return _answer(403, "other_site", OTHER_SITE)
    try:
        current = await run_in_threadpool(_actor, request, customer)
    except DomainError:
        return _answer(401, "sign_in", SIGN_IN_FIRST)
    try:
        fields, files = await _form(request)
    except (MultiPartException, HTTPException) as exc:
        detail = str(getattr(exc, "message", None) or getattr(exc, "detail", ""))
        if "Too many files" in detail:
            return _answer(400, "too_many", TOO_MANY, {"files": TOO_MANY})
        return _answer(400, "bad_form", UNREADABLE_FORM)
    try:
        result = await run_in_threadpool(call, current, fields, files)
    except AttachmentRefused as exc:
        return _answer(_REFUSED_STATUS.get(exc.reason, 400), exc.reason, exc.message, dict(exc.fields))
    except ValidationFailed as exc:
        return _answer(400, "invalid", exc.message, dict(exc.fields))
    except NotAuthenticated:
        return _answer(401, "sign_in", SIGN_IN_FIRST)
    except NotFound as exc:
        return _answer(404, "not_found", exc.message)
    except PermissionDenied as exc:
        return _answer(403, "forbidden", exc.message)
    except InvalidTransition as exc:
        return _answer(409, "closed", exc.message)
    except DomainError as exc:
        return _answer(409, "conflict", exc.message)
    return JSONResponse({"ok": True, **created(result)}, status_code=201, headers={"Cache-Control": "no-store"})


def _id(request: Request, name: str) -> int:
    value = str(request.path_params[name])
    return int(value) if value.isdigit() and len(value) <= 18 else 0


async def my_new_ticket(request: Request) -> JSONResponse:
    """A signed-in customer opens a ticket about one of their lines or bills, with up to 3 files."""
    def call(actor: Actor, f: dict[str, str], files: list[Upload]):
        line_id, invoice_id = my_tickets.parse_topic(f.get("topic"))
        if line_id is None and invoice_id is None:
            raise ValidationFailed({"topic": "お問い合わせの対象（回線または請求書）を選んでください。"})
        return tickets.open_my_ticket(actor=actor, subject=f.get("subject", ""), body=f.get("body", ""),
                                      line_id=line_id, invoice_id=invoice_id, files=files)
    return await _post(request, customer=True, call=call,
                       created=lambda t: {"ticket_id": t.id, "url": routes.my_ticket(t.id)})


async def my_ticket_reply(request: Request) -> JSONResponse:
    """A signed-in customer replies on one of their tickets, with up to 3 files."""
    ticket_id = _id(request, "ticket_id")
    return await _post(request, customer=True, created=lambda m: {"ticket_id": m.ticket_id, "message_id": m.id},
                       call=lambda actor, f, files: tickets.reply_to_my_ticket(
                           ticket_id, actor=actor, body=f.get("body", ""), files=files))


async def staff_ticket_message(request: Request) -> JSONResponse:
    """Staff add a reply to the customer, or with internal=on an internal note (社内メモ), with up to 3 files."""
    ticket_id = _id(request, "ticket_id")
    return await _post(request, customer=False, created=lambda m: {"ticket_id": m.ticket_id, "message_id": m.id},
                       call=lambda actor, f, files: tickets.add_ticket_message(
                           ticket_id, actor=actor, body=f.get("body", ""), internal=f.get("internal") in ("on", "1", "true"),
                           files=files))


def _download(request: Request, read: Callable[[int, Actor], tuple[str, bytes, str]], customer: bool) -> Response:
    try:
        current = _actor(request, customer)
    except DomainError:
        return Response(SIGN_IN_FIRST, status_code=401, media_type="text/plain; charset=utf-8")
    try:
        name, content, media_type = read(_id(request, "attachment_id"), current)
    except (PermissionDenied, NotFound):
        return Response(NOT_FOUND, status_code=404, media_type="text/plain; charset=utf-8")
    except DomainError as exc:
        return Response(exc.message, status_code=409, media_type="text/plain; charset=utf-8")
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"attachment\"; filename*=UTF-8''{quote(name)}",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store, private"})


async def my_attachment(request: Request) -> Response:
    """A file on a ticket of the signed-in customer (404 for anything else, 401 without a session)."""
    return await run_in_threadpool(_download, request, lambda i, a: my_tickets.my_attachment(i, actor=a), True)


async def staff_attachment(request: Request) -> Response:
    """A file on any ticket, for signed-in staff (404 for an unknown id, 401 without a staff session)."""
    return await run_in_threadpool(_download, request, lambda i, a: staff_tickets.ticket_attachment(i, actor=a), False)
