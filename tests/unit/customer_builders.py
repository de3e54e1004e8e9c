"""Builders for the customer app's tests: the people of a company (customer users, as an accepted invitation
would leave them), their signed-in actors and in-app notices addressed to the company or to one person."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

from services.models import CustomerSession, CustomerUser, CustomerUserLine, Notification
from services.models.base import utcnow
from services.platform.db import read_session, write_session
from services.platform.permissions import Actor, Role


def company_user(customer_id: int, email: str, *, role: str = "user", name: str = "利用者 太郎",
                 line_ids: Iterable[int] = (), can_view_bills: bool = False, can_request: bool = False) -> int:
    """An active customer user of `customer_id` with the lines they see; returns its id."""
    with write_session() as session:
        user = CustomerUser(customer_id=customer_id, email=email, name=name, role=role, password_hash="x",
                            can_view_bills=can_view_bills, can_request=can_request)
        session.add(user)
        session.flush()
        session.add_all([CustomerUserLine(customer_user_id=user.id, line_id=line_id) for line_id in line_ids])
        return user.id


def customer_actor(customer_user_id: int) -> Actor:
    """The actor a signed-in customer user's session resolves to."""
    with read_session() as session:
        user = session.get(CustomerUser, customer_user_id)
        return Actor(kind="customer", id=user.id, role=Role(user.role), label=f"{user.name} <{user.email}>",
                     customer_id=user.customer_id, session_id=None, request_id=uuid.uuid4().hex)


def signed_in_session(customer_user_id: int) -> int:
    """A signed-in device of the customer user (a CustomerSession row); returns its id."""
    with write_session() as session:
        row = CustomerSession(token_hash=uuid.uuid4().hex, customer_user_id=customer_user_id,
                              expires_at=utcnow() + timedelta(hours=8))
        session.add(row)
        session.flush()
        return row.id


def in_app_notice(customer_id: int, kind: str, title: str, *, customer_user_id: int | None = None,
                  channel: str = "in_app") -> int:
    """An in-app notice to the whole company, or to one of its people; returns its id."""
    with write_session() as session:
        row = Notification(customer_id=customer_id, customer_user_id=customer_user_id, channel=channel, kind=kind,
                           title=title, body=f"{title}の本文", link=None,
                           sent_at=utcnow() if channel == "in_app" else None)
        session.add(row)
        session.flush()
        return row.id


def user_with_line(world) -> tuple[int, int]:
    """(customer user id, line id): a 利用者 of a new customer with one line that is not yet theirs."""
    line = world.line()
    return company_user(line.customer_id, f"user{world.n()}@example.jp"), line.id
