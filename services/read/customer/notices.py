"""The customer app's notices (通知): the in-app messages the signed-in person sees, and how many are unread.

Who sees which notice is one rule, services.ledger.notices_read (a notice about one line only for the people who
see that line; a notice to one person is theirs alone; a notice to the whole company is everyone's, bill and
payment notices only for those who may see bills); marking one read is services.ledger.notices_read.mark_read.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from services.ledger.customer_users import customer_scope
from services.ledger.notices_read import visible_condition
from services.models import Notification
from services.platform.db import read_session
from services.platform.formatting import tokyo_time
from services.platform.permissions import Actor
from services.read.customer.notice_actions import next_steps

MAX_LIMIT = 200


def my_notifications(*, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    """The person's in-app notices, newest first (at most `limit`, 1 to 200).

    Who: a customer actor (staff: PermissionDenied). Writes nothing. Each row: id, kind, title, body, link,
    created_at (Asia/Tokyo, 2026/03/01 10:00), read, and its next step (services.read.customer.notice_actions):
    action, action_label (the button: 「請求を見る」 …), deadline ("" when it has none).
    """
    limit = max(1, min(int(limit), MAX_LIMIT))
    with read_session() as session:
        scope = customer_scope(session, actor)
        rows = session.exec(select(Notification).where(visible_condition(scope))
                            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
                            .limit(limit)).all()
        steps = next_steps(session, list(rows))
    return [{"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "link": n.link or "",
             "created_at": tokyo_time(n.created_at), "read": n.read_at is not None, **steps[n.id]} for n in rows]


def unread_count(*, actor: Actor) -> int:
    """How many of the person's in-app notices are not read yet (for the bell in the app's header).

    Who: a customer actor (staff: PermissionDenied). Writes nothing.
    """
    with read_session() as session:
        scope = customer_scope(session, actor)
        return int(session.exec(select(func.count()).select_from(Notification).where(
            visible_condition(scope), col(Notification.read_at).is_(None))).one())
