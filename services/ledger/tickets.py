"""Support tickets (問い合わせ): opening, conversation, internal notes, attachments, status and assignment.

Staff open tickets for any customer and reply (sales, support, admin); they may also write an internal note
(社内メモ, `internal=True`), which no customer ever sees. A signed-in customer opens a ticket about one of the
lines or bills they may see and replies to the tickets they may see (`customer_sees_ticket`: a 法人管理者 every
ticket of the company; a 利用者 the tickets about their lines, and about bills only with can_view_bills); anything
else is NotFound in the same words as an id that does not exist. A customer's reply to a ticket waiting for
them moves it back to 対応中 (customer_replied); a reply to a resolved ticket reopens it (reopen); a closed
ticket takes no reply. Messages may carry files (services.ledger.ticket_files), written with the message in
one transaction and one audit entry. A staff reply (not an internal note) tells the customer in the same
transaction: an in-app notice and a mail that there is a reply, with a link to the ticket (never the reply's text).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

from sqlalchemy import and_, false, or_
from sqlmodel import Session, col, select

from services.ledger import ticket_files
from services.ledger.customer_users import CustomerScope, customer_scope
from services.ledger.notifications import notify_in, permalink
from services.ledger.ticket_files import Upload
from services.models import Contract, Customer, CustomerUser, Invoice, Line, StaffUser, Ticket, TicketMessage
from services.models.base import utcnow
from services.models.billing import InvoiceStatus
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
BODY_MAX_LENGTH = 10_000
TICKET_NOT_FOUND = "問い合わせが見つかりません。"
LINE_NOT_FOUND = "回線が見つかりません。"
BILL_NOT_FOUND = "請求書が見つかりません。"
# a customer's reply moves the ticket by these events (other states keep their state)
CUSTOMER_REPLY_EVENTS = {TicketStatus.WAITING_CUSTOMER.value: TicketEvent.CUSTOMER_REPLIED,
                         TicketStatus.RESOLVED.value: TicketEvent.REOPEN}
REPLY_NOTICE_CHANNELS = ("mail", "in_app")
REPLY_NOTICE_TITLE = "お問い合わせに返信がありました"


def ticket_code(ticket_id: int) -> str:
    """The ticket number shown to people: T-000123."""
    return f"T-{ticket_id:06d}"


def _author_kind(actor: Actor) -> str:
    return "customer" if actor.kind == "customer" else "staff"


def _load_ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.exec(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).first() \
        if isinstance(ticket_id, int) else None
    if ticket is None:
        raise NotFound(TICKET_NOT_FOUND)
    return ticket


def customer_sees_ticket(scope: CustomerScope, ticket: Ticket | None) -> bool:
    """True when the customer user of `scope` may see the ticket (the rule in the module's docstring)."""
    if ticket is None or ticket.customer_id != scope.customer_id:
        return False
    return (scope.is_admin or (ticket.line_id is not None and scope.sees_line(ticket.line_id))
            or (ticket.invoice_id is not None and scope.can_view_bills))


def customer_ticket_condition(scope: CustomerScope):
    """The same rule as a query condition on Ticket, for the lists of the customer app."""
    mine = Ticket.customer_id == scope.customer_id
    if scope.is_admin:
        return mine
    about = [col(Ticket.line_id).in_(sorted(scope.line_ids))] if scope.line_ids else []
    if scope.can_view_bills:
        about.append(col(Ticket.invoice_id).is_not(None))
    return and_(mine, or_(*about)) if about else false()


def _checked_body(body: str | None, errors: dict[str, str]) -> str:
    body = (body or "").strip()
    if not body:
        errors["body"] = "内容を入力してください。"
    elif len(body) > BODY_MAX_LENGTH:
        errors["body"] = f"内容は{BODY_MAX_LENGTH:,}文字以内で入力してください。"
    return body


def _tell_customer_of_reply(session: Session, ticket: Ticket, *, actor: Actor) -> list[int]:
    """「お問い合わせに返信がありました」 with the ticket's code, subject, next step and link (never the reply's text).

    Addressed to the person who wrote first on the ticket from the app (the one who opened it), while still an
    active person of the company; otherwise to the company. A service notice without a topic (NOTICE_TOPICS has
    none for a reply to the customer's own question): mail and in-app go out whatever the preferences say. Not
    audited here: the caller's entry names the returned notification ids.
    """
    author_id = session.exec(select(TicketMessage.author_id).where(
        TicketMessage.ticket_id == ticket.id, TicketMessage.author_kind == "customer")
        .order_by(col(TicketMessage.id)).limit(1)).first()
    person = session.get(CustomerUser, author_id) if author_id is not None else None
    addressee = person.id if (person is not None and person.is_active and person.disabled_at is None
                              and person.customer_id == ticket.customer_id) else None
    body = (f"お問い合わせ {ticket_code(ticket.id)}「{ticket.subject}」に担当者から返信がありました。\n"
            "次にすること: 内容をご確認のうえ、必要であれば返信してください。")
    result = notify_in(session, session.get(Customer, ticket.customer_id), actor=actor, kind="ticket.reply",
                       title=REPLY_NOTICE_TITLE, body=body, link=permalink("ticket", ticket.id),
                       channels=REPLY_NOTICE_CHANNELS, customer_user_id=addressee, line_id=ticket.line_id,
                       audit=False)  # about a line: only the people who see that line see the notice
    return [n.id for n in result.notifications]


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
def add_ticket_message(ticket_id: int, *, actor: Actor, body: str, internal: bool = False,
                       files: Sequence[Upload] = ()) -> TicketMessage:
    """Append a message to a ticket's conversation (sales, support, admin): a reply the customer sees, or with
    `internal` an internal note (社内メモ) only staff ever see.

    The body must not be empty; closed tickets refuse new messages; the files follow ticket_files' limits.
    Writes the message, its attachments, touches the ticket's updated_at; a reply (not a note) also tells the
    customer (`_tell_customer_of_reply`: in-app notice and mail, no reply text). One audit entry on the ticket
    (ticket.message with the notification ids, or ticket.note for an internal note).
    """
    with ticket_files.kept_only_if_committed() as written, write_session() as session:
        ticket = _load_ticket(session, ticket_id)
        require(actor, "ticket.update", ticket)
        errors: dict[str, str] = {}
        body = _checked_body(body, errors)
        if errors:
            raise ValidationFailed(errors)
        checked = ticket_files.check_uploads(files)
        _refuse_if_closed(ticket, "メッセージを追加")
        before = snapshot(ticket)
        message = TicketMessage(ticket_id=ticket.id, author_kind=_author_kind(actor),
                                author_id=actor.id, body=body, internal=bool(internal))
        session.add(message)
        ticket.updated_at = message.created_at
        session.add(ticket)
        session.flush()
        attached = ticket_files.add_attachments(session, ticket, message, checked, actor=actor, written=written)
        told = [] if message.internal else _tell_customer_of_reply(session, ticket, actor=actor)
        record(session, actor, "ticket.note" if message.internal else "ticket.message", ticket, before=before,
               after={**snapshot(ticket), "message_id": message.id, "internal": message.internal,
                      "attachments": ticket_files.audit_view(attached), "notification_ids": told})
    return message


@mutating_service
def open_my_ticket(*, actor: Actor, subject: str, body: str, line_id: int | None = None,
                   invoice_id: int | None = None, files: Sequence[Upload] = ()) -> Ticket:
    """A signed-in customer asks about one of their lines or one of their bills (exactly one of the two).

    The line must be in the person's scope, the bill an issued bill of the company they may see (a 利用者 only
    with can_view_bills); otherwise NotFound in the same words as an unknown id. Staff: PermissionDenied.
    Writes the ticket (linked to the line's or the bill's contract as well), its first message, the attached
    files (ticket_files' limits) and one audit entry (ticket.create).
    """
    with ticket_files.kept_only_if_committed() as written, write_session() as session:
        scope = customer_scope(session, actor)
        errors: dict[str, str] = {}
        contract_id = None
        if (line_id is None) == (invoice_id is None):
            errors["about"] = "お問い合わせの対象（回線または請求書）を選んでください。"
        elif line_id is not None:
            line = session.get(Line, line_id) if isinstance(line_id, int) else None
            if line is None or line.customer_id != scope.customer_id or not scope.sees_line(line.id):
                raise NotFound(LINE_NOT_FOUND)
            contract_id = line.contract_id
        else:
            invoice = session.get(Invoice, invoice_id) if isinstance(invoice_id, int) else None
            if (invoice is None or not scope.can_view_bills or invoice.customer_id != scope.customer_id
                    or invoice.status != InvoiceStatus.ISSUED.value):
                raise NotFound(BILL_NOT_FOUND)
            contract_id = invoice.contract_id
        subject = (subject or "").strip()
        if not subject:
            errors["subject"] = "件名を入力してください。"
        elif len(subject) > SUBJECT_MAX_LENGTH:
            errors["subject"] = f"件名は{SUBJECT_MAX_LENGTH}文字以内で入力してください。"
        body = _checked_body(body, errors)
        if errors:
            raise ValidationFailed(errors)
        checked = ticket_files.check_uploads(files)
        now = utcnow()
        ticket = Ticket(customer_id=scope.customer_id, contract_id=contract_id, line_id=line_id,
                        invoice_id=invoice_id, subject=subject, created_at=now, updated_at=now)
        session.add(ticket)
        session.flush()
        message = TicketMessage(ticket_id=ticket.id, author_kind="customer", author_id=actor.id, body=body,
                                created_at=now)
        session.add(message)
        session.flush()
        attached = ticket_files.add_attachments(session, ticket, message, checked, actor=actor, written=written)
        record(session, actor, "ticket.create", ticket,
               after={**snapshot(ticket), "first_message_id": message.id,
                      "attachments": ticket_files.audit_view(attached)})
    return ticket


@mutating_service
def reply_to_my_ticket(ticket_id: int, *, actor: Actor, body: str, files: Sequence[Upload] = ()) -> TicketMessage:
    """A signed-in customer's reply on a ticket they may see (customer_sees_ticket; otherwise NotFound).

    Waiting for the customer -> 対応中 (customer_replied); resolved -> reopened; closed: refused. Writes the
    message, its attached files and one audit entry on the ticket (ticket.customer_replied, ticket.reopen, or
    ticket.message when the state stays).
    """
    with ticket_files.kept_only_if_committed() as written, write_session() as session:
        scope = customer_scope(session, actor)
        ticket = _load_ticket(session, ticket_id)
        if not customer_sees_ticket(scope, ticket):
            raise NotFound(TICKET_NOT_FOUND)
        errors: dict[str, str] = {}
        body = _checked_body(body, errors)
        if errors:
            raise ValidationFailed(errors)
        checked = ticket_files.check_uploads(files)
        _refuse_if_closed(ticket, "返信")
        before = snapshot(ticket)
        event = CUSTOMER_REPLY_EVENTS.get(ticket.status)
        if event is not None:
            ticket.status = TICKET.next_state(ticket.status, event).value
        message = TicketMessage(ticket_id=ticket.id, author_kind="customer", author_id=actor.id, body=body)
        session.add(message)
        ticket.updated_at = message.created_at
        session.add(ticket)
        session.flush()
        attached = ticket_files.add_attachments(session, ticket, message, checked, actor=actor, written=written)
        record(session, actor, f"ticket.{event.value}" if event is not None else "ticket.message", ticket,
               before=before, after={**snapshot(ticket), "message_id": message.id,
                                     "attachments": ticket_files.audit_view(attached)})
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


