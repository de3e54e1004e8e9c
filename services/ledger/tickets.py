"""Support tickets (問い合わせ): opening, conversation, status and assignment."""

from __future__ import annotations

from types import SimpleNamespace

from sqlmodel import Session, select

from services.models import Contract, Customer, Line, StaffUser, Ticket, TicketMessage
from services.models.base import utcnow
from services.models.support import TICKET_PRIORITIES, TicketEvent, TicketStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import write_session
from services.platform.errors import InvalidTransition, NotFound, ValidationFailed
from services.platform.lifecycle import Lifecycle, transition
from services.platform.permissions import Actor, require

T, TE = TicketStatus, TicketEvent
TICKET = Lifecycle("ticket", T, TE, {
    (T.OPEN, TE.START): T.IN_PROGRESS,
    (T.OPEN, TE.RESOLVE): T.RESOLVED,
    (T.IN_PROGRESS, TE.WAIT_FOR_CUSTOMER): T.WAITING_CUSTOMER,
    (T.IN_PROGRESS, TE.RESOLVE): T.RESOLVED,
    (T.WAITING_CUSTOMER, TE.CUSTOMER_REPLIED): T.IN_PROGRESS,
    (T.WAITING_CUSTOMER, TE.RESOLVE): T.RESOLVED,
    (T.RESOLVED, TE.REOPEN): T.IN_PROGRESS,
    (T.RESOLVED, TE.CLOSE): T.CLOSED,
})


SUBJECT_MAX_LENGTH = 200


def ticket_code(ticket_id: int) -> str:
    """The ticket number shown to people: T-000123."""
    return f"T-{ticket_id:06d}"


def _author_kind(actor: Actor) -> str:
    return "customer" if actor.kind == "customer" else "staff"


def _load_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.exec(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).first()
    if ticket is None:
        raise NotFound("問い合わせが見つかりません。")
    return ticket


def _refuse_if_closed(ticket: Ticket, what: str) -> None:
    if ticket.status == TicketStatus.CLOSED:
        raise InvalidTransition(f"クローズ済みの問い合わせには{what}できません。再度のお問い合わせは新しいチケットで受け付けてください。")


@mutating_service
def open_ticket(
    *,
    actor: Actor,
    customer_id: int,
    subject: str,
    body: str,
    contract_id: int | None = None,
    line_id: int | None = None,
    priority: str = "normal",
) -> Ticket:
    """Open a support case for a customer, with its first message (every staff role).

    The contract and the line, when given, must belong to the customer (and the line to the
    contract); a line without a contract links the ticket to the line's contract as well.
    Writes the ticket, its first TicketMessage and one audit entry (ticket.create).
    """
    require(actor, "ticket.create", SimpleNamespace(customer_id=customer_id))
    subject = (subject or "").strip()
    body = (body or "").strip()
    with write_session() as session:
        errors: dict[str, str] = {}
        if not subject:
            errors["subject"] = "件名を入力してください。"
        elif len(subject) > SUBJECT_MAX_LENGTH:
            errors["subject"] = f"件名は{SUBJECT_MAX_LENGTH}文字以内で入力してください。"
        if not body:
            errors["body"] = "内容を入力してください。"
        if priority not in TICKET_PRIORITIES:
            errors["priority"] = "優先度は「低」「通常」「高」から選んでください。"
        if session.get(Customer, customer_id) is None:
            errors["customer_id"] = "指定の顧客が見つかりません。"
        else:
            contract = session.get(Contract, contract_id) if contract_id is not None else None
            if contract_id is not None:
                if contract is None:
                    errors["contract_id"] = "指定の契約が見つかりません。"
                elif contract.customer_id != customer_id:
                    errors["contract_id"] = "この契約は指定の顧客の契約ではありません。"
            if line_id is not None:
                line = session.get(Line, line_id)
                if line is None:
                    errors["line_id"] = "指定の回線が見つかりません。"
                elif line.customer_id != customer_id:
                    errors["line_id"] = "この回線は指定の顧客の回線ではありません。"
                elif contract_id is not None and line.contract_id != contract_id:
                    errors["line_id"] = "この回線は指定の契約の回線ではありません。"
                elif contract_id is None:
                    contract_id = line.contract_id
        if errors:
            raise ValidationFailed(errors)
        now = utcnow()
        ticket = Ticket(customer_id=customer_id, contract_id=contract_id, line_id=line_id,
                        subject=subject, priority=priority, created_at=now, updated_at=now)
        session.add(ticket)
        session.flush()
        message = TicketMessage(ticket_id=ticket.id, author_kind=_author_kind(actor),
                                author_id=actor.id, body=body, created_at=now)
        session.add(message)
        session.flush()
        record(session, actor, "ticket.create", ticket,
               after={**snapshot(ticket), "first_message_id": message.id})
    return ticket


@mutating_service
def add_ticket_message(ticket_id: int, *, actor: Actor, body: str) -> TicketMessage:
    """Append a message to a ticket's conversation (sales, support, admin).

    The body must not be empty; closed tickets refuse new messages. Writes the message,
    touches the ticket's updated_at and writes one audit entry (ticket.message) on the ticket.
    """
    with write_session() as session:
        ticket = _load_ticket(session, ticket_id)
        require(actor, "ticket.update", ticket)
        body = (body or "").strip()
        if not body:
            raise ValidationFailed({"body": "内容を入力してください。"})
        _refuse_if_closed(ticket, "メッセージを追加")
        before = snapshot(ticket)
        message = TicketMessage(ticket_id=ticket.id, author_kind=_author_kind(actor),
                                author_id=actor.id, body=body)
        session.add(message)
        ticket.updated_at = message.created_at
        session.add(ticket)
        session.flush()
        record(session, actor, "ticket.message", ticket, before=before,
               after={**snapshot(ticket), "message_id": message.id})
    return message


@mutating_service
def change_ticket_status(
    ticket_id: int, *, actor: Actor, event: TicketEvent | str, reason: str | None = None,
) -> Ticket:
    """Apply a lifecycle event to a ticket (対応開始, 解決, クローズ...) (sales, support, admin).

    The TICKET transition table decides. Repeating an event whose result already holds
    (a double click) changes nothing and writes no audit entry.
    """
    ev = TicketEvent(event)
    with write_session() as session:
        ticket = _load_ticket(session, ticket_id)
        require(actor, "ticket.update", ticket)
        target = TICKET.target_of(ev)
        if target is not None and ticket.status == target:
            return ticket
        transition(session, ticket, TICKET, ev, actor=actor, reason=(reason or "").strip() or None)
    return ticket


@mutating_service
def assign_ticket(ticket_id: int, *, actor: Actor, assignee_id: int | None) -> Ticket:
    """Set the staff member (担当者) responsible for a ticket (sales, support, admin).

    The assignee must be an active staff user; None removes the assignment. Assigning the
    current assignee again changes nothing and writes no audit entry. Closed tickets refuse.
    """
    with write_session() as session:
        ticket = _load_ticket(session, ticket_id)
        require(actor, "ticket.update", ticket)
        if ticket.assignee_id == assignee_id:
            return ticket
        if assignee_id is not None:
            staff = session.get(StaffUser, assignee_id)
            if staff is None or not staff.is_active:
                raise ValidationFailed({"assignee_id": "担当者が見つからないか、無効化されています。"})
        _refuse_if_closed(ticket, "担当者を設定")
        before = snapshot(ticket)
        ticket.assignee_id = assignee_id
        ticket.updated_at = utcnow()
        session.add(ticket)
        record(session, actor, "ticket.assign", ticket, before=before)
    return ticket


