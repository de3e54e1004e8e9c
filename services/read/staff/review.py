"""The review queue (要確認キュー) as staff read it: items with their evidence, the operation's attempts, the
record they concern (masked per role), and which recovery actions the reader may take; the daily runs."""

from __future__ import annotations

import json

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.ledger.lines import CONFIRMABLE_LINE_STATES, RETRYABLE_LINE_STATES
from services.models import ApprovalRequest, Customer, ExternalOperation, Line, ReviewItem, StaffUser
from services.models.base import utcnow
from services.models.workflow import ApprovalStatus, ExternalOperationStatus
from services.platform.db import read_session
from services.platform.formatting import tokyo_time
from services.platform.identifiers import customer_code, format_msisdn
from services.platform.labels import label, state_label
from services.platform.paging import Page
from services.platform.permissions import Actor, can, can_handle_external, require
from services.read.staff.views import external_operation_label, external_operation_rows
from services.security.masking import can_see, mask, mask_text
from services.workflow import daily_reconciliation


def kind_label(kind: str) -> str:
    """The on-screen name of a review item's kind: "carrier.suspend.unknown" -> "キャリア停止: 結果不明"."""
    provider, _, rest = kind.partition(".")
    operation, _, outcome = rest.rpartition(".") if "." in rest else ("", "", rest)
    subject = external_operation_label(provider, operation)
    return f"{subject}: {label('review_outcome', outcome)}" if outcome else subject


def _pretty(evidence_json: str | None) -> str:
    if not evidence_json:
        return ""
    try:
        data = json.loads(evidence_json)
    except ValueError:
        return evidence_json
    if data in ({}, [], None, ""):
        return ""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def _pending_resolutions(session: Session, line_ids: set[int]) -> dict[int, int]:
    """review item id -> id of its live "line.resolve" approval request."""
    if not line_ids:
        return {}
    requests = session.exec(select(ApprovalRequest).where(
        ApprovalRequest.operation == "line.resolve", ApprovalRequest.status == ApprovalStatus.PENDING,
        ApprovalRequest.expires_at > utcnow(), col(ApprovalRequest.line_id).in_(line_ids))).all()
    return {int(json.loads(r.params_json).get("review_item_id") or 0): r.id for r in requests}


def _rows(session: Session, items: list[ReviewItem], actor: Actor) -> list[dict]:
    shown = (lambda text: text) if can_see("msisdn", actor) else mask_text
    line_ids = {i.line_id for i in items if i.line_id}
    lines = {ln.id: ln for ln in session.exec(select(Line).where(col(Line.id).in_(line_ids)))} if line_ids else {}
    customer_ids = {i.customer_id for i in items if i.customer_id} | {ln.customer_id for ln in lines.values()}
    customers = ({c.id: c for c in session.exec(select(Customer).where(col(Customer.id).in_(customer_ids)))}
                 if customer_ids else {})
    op_ids = {i.external_operation_id for i in items if i.external_operation_id}
    ops = session.exec(select(ExternalOperation).where(col(ExternalOperation.id).in_(op_ids))).all() if op_ids else []
    op_rows = {row["id"]: row for row in external_operation_rows(session, list(ops), actor=actor)}
    staff_ids = {i.resolved_by for i in items if i.resolved_by}
    staff = ({u.id: u.display_name for u in session.exec(select(StaffUser).where(col(StaffUser.id).in_(staff_ids)))}
             if staff_ids else {})
    approvals_by_item = _pending_resolutions(session, set(line_ids))
    rows = []
    for item in items:
        provider = item.kind.partition(".")[0]
        may_resolve = can_handle_external(actor, "review.resolve", provider)
        may_retry = can_handle_external(actor, "external.retry", provider)
        may_resync = can_handle_external(actor, "line.review", provider)  # as reconciliation.resync_operation
        line = lines.get(item.line_id) if item.line_id else None
        customer = customers.get(item.customer_id or (line.customer_id if line else 0))
        op = op_rows.get(item.external_operation_id or 0, {})
        is_open = item.status == "open"
        approval_id = approvals_by_item.get(item.id, 0)
        retryable = op.get("status") == ExternalOperationStatus.UNKNOWN or (
            op.get("status") == ExternalOperationStatus.FAILED and line is not None
            and line.status in RETRYABLE_LINE_STATES)
        rows.append({
            "id": item.id, "kind": item.kind, "kind_label": kind_label(item.kind),
            "status": item.status, "status_label": label("review_status", item.status),
            "reason": shown(item.reason), "evidence": shown(_pretty(item.evidence_json)),
            "created_at": tokyo_time(item.created_at),
            "line_id": line.id if line else 0,
            "msisdn": mask("msisdn", format_msisdn(line.msisdn), actor) if line else "",
            "line_status": line.status if line else "",
            "line_status_label": state_label("line", line.status) if line else "",
            "customer_id": customer.id if customer else 0,
            "customer_name": customer.name if customer else "",
            "customer_code": customer_code(customer.id) if customer else "",
            "operation_id": op.get("id", 0), "operation_label": op.get("label", ""),
            "operation_status": op.get("status", ""), "operation_status_label": op.get("status_label", ""),
            "idempotency_key": op.get("idempotency_key", ""), "attempt_count": op.get("attempt_count", 0),
            "last_error": op.get("last_error", ""), "attempts": op.get("attempts", []),
            "resolved_by": staff.get(item.resolved_by, "") if item.resolved_by else "",
            "resolved_at": tokyo_time(item.resolved_at), "resolution_reason": shown(item.resolution_reason or ""),
            "approval_id": approval_id,
            "can_resolve": is_open and may_resolve,
            "can_confirm_line": is_open and may_resolve and line is not None and not approval_id
            and line.status in CONFIRMABLE_LINE_STATES,
            "can_retry": is_open and may_retry and retryable,
            "can_resync": is_open and may_resync and bool(op)
            and op.get("status") != ExternalOperationStatus.PENDING,
        })
    return rows


def list_review_items(*, actor: Actor, status: str | None = "open", kind: str | None = None, page: int = 1,
                      page_size: int = 50) -> Page:
    """Review items (要確認キュー) for the recovery screen, one server-side page at a time.

    All staff (review.view). Open items come oldest first (the longest waiting on top), others
    newest first. Each row has the kind in Japanese, reason, pretty-printed evidence, creation
    time (Asia/Tokyo), the line (number masked per role) and customer with links, the related
    operation with status, idempotency key and attempts, and which actions `actor` may take.
    """
    require(actor, "review.view")
    page = max(1, page)
    with read_session() as session:
        query, count = select(ReviewItem), select(func.count()).select_from(ReviewItem)
        if status:
            query, count = query.where(ReviewItem.status == status), count.where(ReviewItem.status == status)
        if kind:
            query, count = query.where(ReviewItem.kind == kind), count.where(ReviewItem.kind == kind)
        order = col(ReviewItem.id).asc() if status == "open" else col(ReviewItem.id).desc()
        total = session.exec(count).one()
        items = session.exec(query.order_by(order).offset((page - 1) * page_size).limit(page_size)).all()
        return Page(_rows(session, list(items), actor), page, page_size, int(total))


def review_kinds(*, actor: Actor) -> list[dict[str, str]]:
    """The kinds of review item that exist, with their Japanese names (for the queue's filter)."""
    require(actor, "review.view")
    with read_session() as session:
        kinds = session.exec(select(ReviewItem.kind).distinct().order_by(ReviewItem.kind)).all()
    return [{"value": k, "label": kind_label(k)} for k in kinds]


def open_review_count(*, actor: Actor) -> int:
    """How many review items are open (the navigation badge); 0 for people who cannot see the queue."""
    if not can(actor, "review.view"):
        return 0
    with read_session() as session:
        return int(session.exec(select(func.count()).select_from(ReviewItem)
                                .where(ReviewItem.status == "open")).one())


def daily_run_rows(*, actor: Actor, limit: int = 30) -> list[dict]:
    """The latest daily reconciliation runs (日次突合) for the review screen, newest day first (review.view)."""
    return [{"id": run.id, "source": run.source,
             "source_label": daily_reconciliation.source_label(run.source),
             "business_date": run.business_date.isoformat(), "status": run.status,
             "status_label": label("run_status", run.status),
             "rows_checked": run.rows_checked, "differences": run.differences, "error": run.error or "",
             "ran_at": tokyo_time(run.finished_at or run.started_at)}
            for run in daily_reconciliation.recent_runs(actor=actor, limit=limit)]


def daily_run_sources(*, actor: Actor) -> list[dict[str, str]]:
    """The sources `actor` may run again (再突合: support and admin), with their Japanese names; else none."""
    if not can(actor, "review.resolve"):
        return []
    return [{"value": source, "label": daily_reconciliation.source_label(source)}
            for source in daily_reconciliation.SOURCES]
