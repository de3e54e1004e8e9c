"""The staff ticket queue (問い合わせ一覧) and the ticket screen's working data.

The queue lists tickets filtered by state, priority, assignee (anyone, 未割当, 自分 or one person) and a
customer's name or number, sorted by priority (高 → 通常 → 低) and then by the longest wait since the last
change, one page (offset, limit) at a time. The ticket screen adds to the ticket the person it is assigned
to, the conversation with who wrote each message (internal notes, 社内メモ, marked as such) and the files attached
to each, and the staff it may be assigned to.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import case, false, func, or_
from sqlmodel import col, select

from services.ledger import ticket_files
from services.ledger.tickets import ticket_code
from services.models import Customer, CustomerUser, Invoice, Line, StaffUser, Ticket, TicketAttachment, TicketMessage
from services.models.support import TICKET_PRIORITIES, TicketStatus
from services.platform.db import read_session
from services.platform.errors import NotFound, ValidationFailed
from services.platform.formatting import tokyo_time
from services.platform.identifiers import customer_code, parse_msisdn
from services.platform.labels import label, state_label
from services.platform.permissions import Actor, can, require
from services.platform.text import normalize_name
from services.read.staff import views

OPEN_STATUSES = (TicketStatus.OPEN.value, TicketStatus.IN_PROGRESS.value, TicketStatus.WAITING_CUSTOMER.value)
ASSIGNEE_NONE = "none"  # 未割当
ASSIGNEE_ME = "me"      # 自分 (the person reading the queue)
PRIORITY_ORDER = ("high", "normal", "low")
MAX_LIMIT = 200
MAX_QUERY_LENGTH = 100

_CUSTOMER_CODE = re.compile(r"K-?0*(\d{1,12})", re.IGNORECASE)
_TICKET_CODE = re.compile(r"T-?0*(\d{1,12})", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_MAX_ID = 2**63 - 1


def ticket_queue(
    *,
    actor: Actor,
    status: str | None = None,
    open_only: bool = True,
    priority: str | None = None,
    assignee: str | int | None = None,
    customer: str = "",
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the ticket queue and the number of tickets matching the filters (every staff role).

    - `status`: one ticket state; without it `open_only` (the default) keeps 未対応, 対応中 and
      お客様回答待ち, and `open_only=False` shows every state. A chosen state wins over `open_only`.
    - `priority`: "low" | "normal" | "high", or None for every priority.
    - `assignee`: None or "" for anyone, "none" for 未割当, "me" for the reader, or a staff user's id.
    - `customer`: a customer number (K-000123, K123 or the bare number), a ticket number (T-000123), a
      phone number of one of the customer's lines, or part of the customer's name or kana (spaces, width
      and hiragana/katakana ignored).

    Sorted by priority (高 first), then the oldest last change (updated_at) first, then the ticket number.
    Each row says whether the reader may take the ticket (`can_assign_me`). Reads only; needs ticket.view.
    """
    require(actor, "ticket.view")
    conditions = _conditions(actor, status=status, open_only=open_only, priority=priority, assignee=assignee,
                             customer=customer)
    offset, limit = max(0, int(offset)), min(max(1, int(limit)), MAX_LIMIT)
    rank = case({p: n for n, p in enumerate(PRIORITY_ORDER)}, value=Ticket.priority, else_=len(PRIORITY_ORDER))
    with read_session() as session:
        count = select(func.count()).select_from(Ticket).join(Customer, Customer.id == Ticket.customer_id)
        total = int(session.exec(count.where(*conditions)).one())
        query = (select(Ticket, Customer.name, StaffUser.display_name)
                 .join(Customer, Customer.id == Ticket.customer_id)
                 .outerjoin(StaffUser, StaffUser.id == Ticket.assignee_id)
                 .where(*conditions)
                 .order_by(rank, col(Ticket.updated_at), col(Ticket.id))
                 .offset(offset).limit(limit))
        rows = [_queue_row(t, name, assignee_name, actor) for t, name, assignee_name in session.exec(query).all()]
    return rows, total


def assignee_choices(*, actor: Actor) -> list[dict[str, Any]]:
    """The active staff members a ticket may be assigned to, by name (every staff role may read the list).

    Each is {"id", "name", "role_label"}; disabled accounts are left out (assign_ticket refuses them).
    """
    require(actor, "ticket.view")
    with read_session() as session:
        staff = session.exec(select(StaffUser).where(StaffUser.is_active == True)  # noqa: E712
                             .order_by(StaffUser.display_name, StaffUser.id)).all()
        return [{"id": u.id, "name": u.display_name, "role_label": label("role", u.role, default=u.role)}
                for u in staff]


def ticket_screen(ticket_id: int, *, actor: Actor) -> dict[str, Any]:
    """A ticket as its screen shows it: the ticket, its customer, contract and line (views.ticket_detail),
    plus its number, priority, assignee and last change, the conversation with who wrote each message,
    whether the reader may work on it (ticket.update, not closed) and whom it may be assigned to.

    Every staff role may read it (ticket.view); nothing is written.
    """
    detail = views.ticket_detail(ticket_id, actor=actor)
    with read_session() as session:
        ticket = session.get(Ticket, ticket_id)
        assignee = session.get(StaffUser, ticket.assignee_id) if ticket.assignee_id else None
        messages = session.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
                                .order_by(TicketMessage.id)).all()
        staff_ids = {m.author_id for m in messages if m.author_kind == "staff" and m.author_id}
        authors = ({u.id: u.display_name for u in session.exec(select(StaffUser).where(col(StaffUser.id).in_(staff_ids)))}
                   if staff_ids else {})
        people_ids = {m.author_id for m in messages if m.author_kind == "customer" and m.author_id}
        people = ({u.id: u.name for u in session.exec(select(CustomerUser).where(col(CustomerUser.id).in_(people_ids)))}
                  if people_ids else {})
        files = ticket_files.attachments_by_message(session, [m.id for m in messages])
        invoice = session.get(Invoice, ticket.invoice_id) if ticket.invoice_id else None
        closed = ticket.status == TicketStatus.CLOSED
        may_update = can(actor, "ticket.update", ticket) and not closed
        return {
            **detail,
            "ticket": {
                **detail["ticket"], "code": ticket_code(ticket.id),
                "priority_label": label("ticket_priority", ticket.priority, default=ticket.priority),
                "assignee_id": ticket.assignee_id or 0, "assignee_name": assignee.display_name if assignee else "",
                "updated_at": tokyo_time(ticket.updated_at), "closed": closed,
                "invoice_id": ticket.invoice_id or 0, "invoice_no": invoice.invoice_no if invoice else "",
            },
            "messages": [_message_row(m, authors, people, files) for m in messages],
            "can_update": may_update,
            "can_assign_me": may_update and _is_staff_person(actor) and ticket.assignee_id != actor.id,
            "assignees": assignee_choices(actor=actor) if may_update else [],
        }


# --------------------------------------------------------------------------- filters


def _conditions(actor: Actor, *, status: str | None, open_only: bool, priority: str | None,
                assignee: str | int | None, customer: str) -> list:
    errors: dict[str, str] = {}
    conditions: list = []
    if status:
        if status not in {s.value for s in TicketStatus}:
            errors["status"] = "状態の指定が正しくありません。"
        conditions.append(Ticket.status == status)
    elif open_only:
        conditions.append(col(Ticket.status).in_(OPEN_STATUSES))
    if priority:
        if priority not in TICKET_PRIORITIES:
            errors["priority"] = "優先度は「低」「通常」「高」から選んでください。"
        conditions.append(Ticket.priority == priority)
    who = str(assignee).strip() if assignee is not None else ""
    if who == ASSIGNEE_NONE:
        conditions.append(col(Ticket.assignee_id).is_(None))
    elif who == ASSIGNEE_ME:
        if not _is_staff_person(actor):
            errors["assignee"] = "「自分」はログイン中の担当者だけが選べます。"
        conditions.append(Ticket.assignee_id == actor.id)
    elif who:
        if not who.isdigit() or int(who) > _MAX_ID:
            errors["assignee"] = "担当者の指定が正しくありません。"
        else:
            conditions.append(Ticket.assignee_id == int(who))
    text = unicodedata.normalize("NFKC", customer or "").strip()
    if len(text) > MAX_QUERY_LENGTH:
        errors["customer"] = f"顧客名・番号は{MAX_QUERY_LENGTH}文字以内で入力してください。"
    elif text:
        conditions.append(_customer_condition(text))
    if errors:
        raise ValidationFailed(errors)
    return conditions


def _customer_condition(text: str):
    """Tickets of the customer `text` names: by number, by a ticket's number, by a line's number, or by name."""
    ticket = _TICKET_CODE.fullmatch(text)
    if ticket:
        number = int(ticket.group(1))
        return Ticket.id == number if number <= _MAX_ID else false()
    e164 = parse_msisdn(text)
    if e164 is not None:
        return col(Ticket.customer_id).in_(select(Line.customer_id).where(Line.msisdn == e164))
    code = _CUSTOMER_CODE.fullmatch(text)
    if code or text.isdigit():
        number = int(code.group(1) if code else text)
        return Ticket.customer_id == number if number <= _MAX_ID else false()
    by_name = _without_spaces(Customer.name).ilike(f"%{_escape_like(_SPACES.sub('', text))}%", escape="\\")
    kana = normalize_name(text)  # katakana, no spaces: as a kana is written
    if not kana:
        return by_name
    return or_(by_name, _without_spaces(Customer.name_kana).ilike(f"%{_escape_like(kana)}%", escape="\\"))


def _without_spaces(column):
    return func.replace(func.replace(column, " ", ""), "\u3000", "")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --------------------------------------------------------------------------- rows


def _is_staff_person(actor: Actor) -> bool:
    return actor.kind == "staff" and actor.id is not None


def _queue_row(t: Ticket, customer_name: str, assignee_name: str | None, actor: Actor) -> dict[str, Any]:
    may_update = can(actor, "ticket.update", t) and t.status != TicketStatus.CLOSED
    return {
        "id": t.id, "code": ticket_code(t.id), "subject": t.subject,
        "status": t.status, "status_label": state_label("ticket", t.status),
        "priority": t.priority, "priority_label": label("ticket_priority", t.priority, default=t.priority),
        "customer_id": t.customer_id, "customer_code": customer_code(t.customer_id), "customer_name": customer_name,
        "assignee_id": t.assignee_id or 0, "assignee_name": assignee_name or "",
        "created_at": tokyo_time(t.created_at), "updated_at": tokyo_time(t.updated_at),
        "can_assign_me": may_update and _is_staff_person(actor) and t.assignee_id != actor.id,
    }


def _message_row(m: TicketMessage, authors: dict[int, str], people: dict[int, str],
                 files: dict[int, list[dict[str, Any]]]) -> dict[str, Any]:
    who = label("actor_kind", m.author_kind)
    name = (authors if m.author_kind == "staff" else people).get(m.author_id or 0, "")
    return {"id": m.id, "author_kind": m.author_kind, "author": f"{who}（{name}）" if name else who,
            "body": m.body, "at": tokyo_time(m.created_at), "internal": bool(m.internal),
            "attachments": files.get(m.id, [])}


def ticket_attachment(attachment_id: int, *, actor: Actor) -> tuple[str, bytes, str]:
    """(file name, bytes, content type) of a file attached to a ticket message, internal notes' included.

    Who: staff with ticket.view (every staff role); anyone else, or an unknown id: NotFound. Writes nothing.
    """
    with read_session() as session:
        row = session.get(TicketAttachment, attachment_id) if isinstance(attachment_id, int) else None
        if row is None or not can(actor, "ticket.view", session.get(Ticket, row.ticket_id)) or actor.kind != "staff":
            raise NotFound("添付ファイルが見つかりません。")
    return row.file_name, ticket_files.read_content(row), row.content_type
