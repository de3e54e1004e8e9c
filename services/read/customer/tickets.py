"""The customer app's tickets (問い合わせ): the ones the signed-in person may see, one ticket's conversation, what
a new ticket may be about, and an attached file.

Who sees which ticket is one rule, services.ledger.tickets.customer_sees_ticket (a 法人管理者 every ticket of the
company; a 利用者 those about their lines, and about bills only with can_view_bills). Internal notes (社内メモ)
and the files attached to them are never part of anything here. Opening and replying are
services.ledger.tickets.open_my_ticket / reply_to_my_ticket.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from services.ledger import ticket_files
from services.ledger.customer_users import customer_scope
from services.ledger.tickets import customer_sees_ticket, customer_ticket_condition, ticket_code
from services.models import CustomerUser, Invoice, Line, Ticket, TicketAttachment, TicketMessage
from services.models.billing import InvoiceStatus
from services.models.support import TicketStatus
from services.platform.db import read_session
from services.platform.errors import NotFound
from services.platform.formatting import tokyo_time
from services.platform.identifiers import format_msisdn
from services.platform.labels import label
from services.platform.permissions import Actor

ATTACHMENT_NOT_FOUND = "添付ファイルが見つかりません。"
TOPIC_BILLS = 12  # the newest bills a new ticket may name


def _status(t: Ticket) -> dict[str, Any]:
    return {"status": t.status, "status_label": label("customer_ticket_status", t.status)}


def _about(session, t: Ticket) -> str:
    """回線 090-1234-5678 / 請求書 INV-... (2026-03) / "" for a ticket about neither."""
    if t.line_id:
        line = session.get(Line, t.line_id)
        return f"{label('record', 'line')} {format_msisdn(line.msisdn)}" if line else ""
    if t.invoice_id:
        inv = session.get(Invoice, t.invoice_id)
        return f"{label('record', 'invoice')} {inv.invoice_no}（{inv.period}）" if inv else ""
    return ""


def my_tickets(*, actor: Actor) -> list[dict[str, Any]]:
    """The tickets the person may see, the most recently changed first.

    Who: a customer actor (staff: PermissionDenied). Writes nothing. Each row: id, code (T-000123), subject,
    status and its customer-facing label, about (the line or bill it concerns), created_at and updated_at (Tokyo).
    """
    with read_session() as session:
        scope = customer_scope(session, actor)
        rows = session.exec(select(Ticket).where(customer_ticket_condition(scope))
                            .order_by(col(Ticket.updated_at).desc(), col(Ticket.id).desc())).all()
        return [{"id": t.id, "code": ticket_code(t.id), "subject": t.subject, **_status(t), "about": _about(session, t),
                 "created_at": tokyo_time(t.created_at), "updated_at": tokyo_time(t.updated_at)} for t in rows]


def my_ticket(ticket_id: int, *, actor: Actor) -> dict[str, Any]:
    """One ticket and its conversation without internal notes.

    Who: a customer actor who may see the ticket; another company's ticket, one outside a 利用者's scope or an
    unknown id: NotFound in the same words. Writes nothing. Returns the list row's fields, can_reply (not
    closed) and messages: id, author_kind, author (お客様's name or サポート担当), body, at, attachments (id, name,
    size, type_label).
    """
    with read_session() as session:
        scope = customer_scope(session, actor)
        t = session.get(Ticket, ticket_id) if isinstance(ticket_id, int) else None
        if not customer_sees_ticket(scope, t):
            raise NotFound("問い合わせが見つかりません。")
        messages = session.exec(select(TicketMessage).where(TicketMessage.ticket_id == t.id,
                                                            TicketMessage.internal == False)  # noqa: E712
                                .order_by(TicketMessage.id)).all()
        people = {m.author_id for m in messages if m.author_kind == "customer" and m.author_id}
        names = ({u.id: u.name for u in session.exec(select(CustomerUser).where(col(CustomerUser.id).in_(people)))}
                 if people else {})
        files = ticket_files.attachments_by_message(session, [m.id for m in messages])
        return {
            "id": t.id, "code": ticket_code(t.id), "subject": t.subject, **_status(t), "about": _about(session, t),
            "created_at": tokyo_time(t.created_at), "updated_at": tokyo_time(t.updated_at),
            "can_reply": t.status != TicketStatus.CLOSED.value,
            "messages": [{
                "id": m.id, "author_kind": m.author_kind,
                "author": (names.get(m.author_id or 0) or label("ticket_author", "customer"))
                if m.author_kind == "customer" else label("ticket_author", "staff"),
                "body": m.body, "at": tokyo_time(m.created_at), "attachments": files.get(m.id, []),
            } for m in messages],
        }


def ticket_topics(*, actor: Actor) -> list[dict[str, str]]:
    """What a new ticket may be about: the person's lines ("line:<id>") and, when they may see bills, the
    company's newest issued bills ("invoice:<id>"); each {value, label}. Writes nothing."""
    with read_session() as session:
        scope = customer_scope(session, actor)
        lines = session.exec(select(Line).where(col(Line.id).in_(sorted(scope.line_ids))).order_by(Line.id)).all() \
            if scope.line_ids else []
        bills = session.exec(select(Invoice).where(
            Invoice.customer_id == scope.customer_id, Invoice.status == InvoiceStatus.ISSUED.value)
            .order_by(col(Invoice.issue_date).desc(), col(Invoice.id).desc()).limit(TOPIC_BILLS)).all() \
            if scope.can_view_bills else []
    return ([{"value": f"line:{line.id}", "label": f"{label('record', 'line')} {format_msisdn(line.msisdn)}"}
             for line in lines]
            + [{"value": f"invoice:{inv.id}", "label": f"{label('record', 'invoice')} {inv.invoice_no}（{inv.period}）"}
               for inv in bills])


def parse_topic(value: str | None) -> tuple[int | None, int | None]:
    """(line_id, invoice_id) from a topic's value ("line:12" / "invoice:34"); (None, None) when it is neither."""
    kind, _, number = str(value or "").partition(":")
    if not number.isdigit() or len(number) > 18:
        return None, None
    return (int(number), None) if kind == "line" else (None, int(number)) if kind == "invoice" else (None, None)


def my_attachment(attachment_id: int, *, actor: Actor) -> tuple[str, bytes, str]:
    """(file name, bytes, content type) of a file on a message the person may see.

    Who: a customer actor; a file of another company's ticket, of a ticket outside their scope, of an internal
    note, or an unknown id: NotFound in the same words. Writes nothing.
    """
    with read_session() as session:
        scope = customer_scope(session, actor)
        row = session.get(TicketAttachment, attachment_id) if isinstance(attachment_id, int) else None
        message = session.get(TicketMessage, row.message_id) if row is not None and row.message_id else None
        if (row is None or message is None or message.internal
                or not customer_sees_ticket(scope, session.get(Ticket, row.ticket_id))):
            raise NotFound(ATTACHMENT_NOT_FOUND)
    return row.file_name, ticket_files.read_content(row), row.content_type
