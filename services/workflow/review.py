"""The review queue (要確認) as an engine: closing items, one by one or as part of an approved request.

Items are opened where a doubt arises (the outbox's settle, the reconciler, a daily report comparison, a
provider's result); people work the queue from the recovery actions (services.operations.recovery).
"""

from __future__ import annotations

from sqlmodel import Session, select

from services.models import ReviewItem
from services.models.base import utcnow
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import write_session
from services.platform.errors import Conflict, NotFound
from services.platform.permissions import Actor, require
from services.workflow.approval_gate import require_approval


def close_item(item: ReviewItem, actor: Actor, reason: str) -> None:
    """Mark an item resolved by `actor` with the reason (the caller saves and audits it)."""
    item.status = "resolved"
    item.resolved_by = actor.id if actor.is_staff else None
    item.resolved_at = utcnow()
    item.resolution_reason = reason


def locked_open_item(session: Session, item_id: int) -> ReviewItem:
    """Lock an open review item for a change, or NotFound / Conflict in words."""
    item = session.exec(select(ReviewItem).where(ReviewItem.id == item_id).with_for_update()).first()
    if item is None:
        raise NotFound("要確認の項目が見つかりません。")
    if item.status != "open":
        raise Conflict("この要確認の項目は既に解消されています。")
    return item


@mutating_service
def resolve_confirmed_review_item(item_id: int, *, actor: Actor, reason: str) -> ReviewItem:
    """Mark a review item resolved as part of an approved "line.resolve" request (services.ledger.lines).

    Runs only inside that approved execution (and its transaction); one audit entry "review.resolve".
    """
    require(actor, "review.resolve")
    require_approval("line.resolve")
    with write_session() as session:  # joins the approval's transaction
        item = locked_open_item(session, item_id)
        before = snapshot(item)
        close_item(item, actor, reason)
        session.add(item)
        record(session, actor, "review.resolve", item, before=before, reason=reason)
    return item
