"""Support tickets (問い合わせ) and their messages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from services.models.base import status_check, utcnow, values_check


class TicketStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketEvent(StrEnum):
    START = "start"
    WAIT_FOR_CUSTOMER = "wait_for_customer"
    CUSTOMER_REPLIED = "customer_replied"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"


TICKET_PRIORITIES = ("low", "normal", "high")
AUTHOR_KINDS = ("staff", "customer")


class Ticket(SQLModel, table=True):
    """A support case linked to a customer and optionally a contract and a line."""

    __tablename__ = "ticket"
    __table_args__ = (
        status_check("status", TicketStatus, "ck_ticket_status"),
        values_check("priority", TICKET_PRIORITIES, "ck_ticket_priority"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    contract_id: int | None = Field(default=None, foreign_key="contract.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="line.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)  # a question about a bill
    subject: str = Field(max_length=200)
    status: str = Field(default=TicketStatus.OPEN.value, max_length=20)
    priority: str = Field(default="normal", max_length=8)
    assignee_id: int | None = Field(default=None, foreign_key="staff_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class TicketMessage(SQLModel, table=True):
    """One message in a ticket's conversation."""

    __tablename__ = "ticket_message"
    __table_args__ = (values_check("author_kind", AUTHOR_KINDS, "ck_ticket_message_author_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    author_kind: str = Field(max_length=8)
    author_id: int | None = None
    body: str
    internal: bool = False  # 社内メモ: staff only, never shown to the customer
    created_at: datetime = Field(default_factory=utcnow)


class TicketAttachment(SQLModel, table=True):
    """A file attached to a ticket message, stored privately (under data/, by its SHA-256), served only to
    the ticket's customer and to staff."""

    __tablename__ = "ticket_attachment"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="ck_ticket_attachment_size"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="ticket_message.id", index=True)
    file_name: str = Field(max_length=200)
    content_type: str = Field(max_length=100)
    size_bytes: int
    sha256: str = Field(max_length=64)
    uploaded_by_kind: str = Field(max_length=8)  # staff | customer
    uploaded_by_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
