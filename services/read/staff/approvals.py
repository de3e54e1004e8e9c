"""The approval queue (承認待ち) as staff read it: requests with their before -> after rows, masked per role."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

from sqlmodel import col, select

from services.models import ApprovalRequest, CustomerUser, StaffUser
from services.models.base import utcnow
from services.models.workflow import ApprovalStatus
from services.platform.db import read_session
from services.platform.formatting import tokyo_time
from services.platform.labels import state_label
from services.platform.permissions import Actor, require
from services.security import masking
from services.workflow import approvals


def _row(request: ApprovalRequest, staff: dict[int, StaffUser], actor: Actor,
         people: dict[int, CustomerUser] | None = None) -> dict:
    policy = approvals.POLICIES.get(request.operation)
    expired = request.status == ApprovalStatus.PENDING and approvals.is_expired(request)
    status = "expired" if expired else request.status
    changes = json.loads(request.preview_json or "[]")
    created = request.created_at if request.created_at.tzinfo else request.created_at.replace(tzinfo=UTC)
    age_hours = int((utcnow() - created).total_seconds() // 3600)
    requester = staff.get(request.requested_by)
    asked_by = request.requested_by_customer_user_id
    person = (people or {}).get(asked_by) if asked_by else None
    decider = staff.get(request.decided_by) if request.decided_by else None
    can_decide = (status == ApprovalStatus.PENDING and policy is not None and actor.role in policy.approver_roles
                  and actor.id is not None and actor.id != request.requested_by)
    shown = (lambda text: text) if masking.can_see("msisdn", actor) else masking.mask_text
    return {
        "id": request.id, "operation": request.operation, "label": policy.label_ja if policy else request.operation,
        "summary": shown(request.summary), "reason": shown(request.reason),
        "changes": [{"field": shown(f), "before": b, "after": a} for f, b, a in changes],
        "requester": requester.display_name if requester else (
            f"お客様 {person.name}" if person else f"システム（{request.policy_rule}）" if request.policy_rule else ""),
        "requester_id": request.requested_by or 0, "urgent": request.urgent,
        "from_customer": request.requested_by_customer_user_id is not None,
        "decider": decider.display_name if decider else (f"システム（{request.policy_rule}）"
                                                         if request.policy_rule and request.decided_at else ""),
        "decision_reason": request.decision_reason or "",
        "result": request.result_message or "", "status": status, "status_label": state_label("approval", status),
        "created_at": tokyo_time(request.created_at), "expires_at": tokyo_time(request.expires_at),
        "age": f"{age_hours}時間前" if age_hours else "1時間以内", "hash": request.params_hash,
        "customer_id": request.customer_id or 0, "contract_id": request.contract_id or 0,
        "line_id": request.line_id or 0,
        "can_decide": can_decide, "mine": request.requested_by == actor.id,
    }


def list_requests(*, actor: Actor, status: str | None = "pending", operation: str | None = None,
                  requester_id: int | None = None, min_age_hours: int | None = None, mine: bool = False,
                  limit: int = 100) -> list[dict]:
    """Approval requests for the queue screen: urgent ones first (a customer's lost or stolen phone), then newest
    first, with their before -> after rows; a customer's own request names the customer user who asked."""
    require(actor, "approval.view")
    with read_session() as session:
        query = select(ApprovalRequest)
        if status:
            query = query.where(ApprovalRequest.status == status)
        if operation:
            query = query.where(ApprovalRequest.operation == operation)
        if requester_id:
            query = query.where(ApprovalRequest.requested_by == requester_id)
        if mine:
            query = query.where(ApprovalRequest.requested_by == actor.id)
        if min_age_hours:
            query = query.where(ApprovalRequest.created_at <= utcnow() - timedelta(hours=min_age_hours))
        requests = session.exec(query.order_by(col(ApprovalRequest.urgent).desc(), col(ApprovalRequest.id).desc())
                                .limit(limit)).all()
        ids = {r.requested_by for r in requests if r.requested_by} | {r.decided_by for r in requests if r.decided_by}
        staff = {u.id: u for u in session.exec(select(StaffUser).where(col(StaffUser.id).in_(ids)))} if ids else {}
        asked = {r.requested_by_customer_user_id for r in requests if r.requested_by_customer_user_id}
        people = {u.id: u for u in session.exec(select(CustomerUser).where(col(CustomerUser.id).in_(asked)))} \
            if asked else {}
        return [_row(r, staff, actor, people) for r in requests]


def requesters(*, actor: Actor) -> list[dict]:
    """Staff who have made requests (for the queue's filter)."""
    require(actor, "approval.view")
    with read_session() as session:
        rows = session.exec(select(StaffUser).where(
            col(StaffUser.id).in_(select(ApprovalRequest.requested_by).distinct()))).all()
        return [{"id": u.id, "name": u.display_name} for u in rows]
