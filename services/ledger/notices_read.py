"""Which in-app notices (通知) a customer's person sees, and marking one read.

The rule (`visible_to`, used by the customer app's read model and by `mark_read`):
- only in-app notices (channel "in_app") of the person's own company;
- a notice about one line (line_id set: data use, outages and maintenance, shipments, requests about a line) is
  seen only by people whose scope holds that line (CustomerScope.line_ids: every line of the company for a
  法人管理者, the assigned ones for a 利用者), whoever it is addressed to; the rules below apply on top;
- a notice addressed to one customer user (customer_user_id set) is seen by that person only;
- a notice to the whole company (customer_user_id NULL) is seen by every active person of it, except that a
  notice about bills and payments (`is_bill_notice`: the kinds of billing and dunning — 請求書の発行, お支払いの
  督促, 料金未払いによる停止と再開 — and any kind starting with invoice / payment / billing / dunning) is seen
  only by those who may see bills: the 法人管理者, and a 利用者 with `can_view_bills`; and a company notice
  naming several of its lines (`is_company_lines_notice`: outages and maintenance, which name the company's
  affected lines) is seen by the 法人管理者 only — each 利用者 concerned gets their own notice naming only their
  lines (services.operations.incident_notices).

A notice has one read mark (Notification.read_at): a notice to the whole company read by one of its people
is read for all of them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, not_, or_
from sqlmodel import col, select

from services.ledger.customer_users import CustomerScope, customer_scope
from services.models import Notification
from services.models.base import utcnow
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import write_session
from services.platform.errors import NotFound
from services.platform.permissions import Actor, require

IN_APP = "in_app"
NOT_FOUND = "通知が見つかりません。"
# Kinds the billing run and dunning send (services.billing.billing_runs, services.billing.dunning).
BILL_NOTICE_KINDS = frozenset({
    "invoice_issued", "payment_failed", "payment_reminder", "payment_final_notice",
    "suspended_for_non_payment", "resumed_after_payment",
})
BILL_NOTICE_PREFIXES = ("invoice", "payment", "billing", "dunning")
COMPANY_LINES_PREFIXES = ("incident.",)


def is_bill_notice(kind: str) -> bool:
    """True when a notice of this kind is about bills or payments (seen only by people who may see bills)."""
    return kind in BILL_NOTICE_KINDS or kind.startswith(BILL_NOTICE_PREFIXES)


def is_company_lines_notice(kind: str) -> bool:
    """True when a company notice of this kind names several of the company's lines (for the 法人管理者 only)."""
    return kind.startswith(COMPANY_LINES_PREFIXES)


def _bill_notice_condition() -> ColumnElement[bool]:
    kind = col(Notification.kind)
    return or_(kind.in_(sorted(BILL_NOTICE_KINDS)), *(kind.startswith(p) for p in BILL_NOTICE_PREFIXES))


def visible_condition(scope: CustomerScope) -> ColumnElement[bool]:
    """The SQL condition of the notices `scope`'s person sees (the rule in this module's docstring)."""
    mine = Notification.customer_user_id == scope.customer_user_id
    company_wide = col(Notification.customer_user_id).is_(None)
    if not scope.can_view_bills:
        company_wide = and_(company_wide, not_(_bill_notice_condition()))
    if not scope.is_admin:
        company_wide = and_(company_wide, not_(or_(*(col(Notification.kind).startswith(p)
                                                      for p in COMPANY_LINES_PREFIXES))))
    in_scope = or_(col(Notification.line_id).is_(None), col(Notification.line_id).in_(sorted(scope.line_ids)))
    return and_(Notification.customer_id == scope.customer_id, Notification.channel == IN_APP, in_scope,
                or_(mine, company_wide))


def visible_to(scope: CustomerScope, notification: Notification) -> bool:
    """True when `scope`'s person sees this notice (the same rule as `visible_condition`, for one row)."""
    if notification.customer_id != scope.customer_id or notification.channel != IN_APP:
        return False
    if notification.line_id is not None and not scope.sees_line(notification.line_id):
        return False
    if notification.customer_user_id is not None:
        return notification.customer_user_id == scope.customer_user_id
    if is_company_lines_notice(notification.kind) and not scope.is_admin:
        return False
    return scope.can_view_bills or not is_bill_notice(notification.kind)


@mutating_service
def mark_read(notification_id: int, *, actor: Actor) -> None:
    """Mark an in-app notice read.

    Who: a customer's person for a notice they see (`visible_to`; any other id is NotFound and nothing is
    written), or staff holding "notification.send" on the customer's behalf (the customer said so on the phone).
    Idempotent: a notice already read writes nothing. Writes Notification.read_at and one audit entry
    "notification.read".
    """
    with write_session() as session:
        scope = customer_scope(session, actor) if actor is not None and actor.kind == "customer" else None
        if scope is None:
            require(actor, "notification.send")
        row: Any = session.exec(select(Notification).where(Notification.id == notification_id)
                                .with_for_update()).first() if isinstance(notification_id, int) else None
        if row is None or row.channel != IN_APP or (scope is not None and not visible_to(scope, row)):
            raise NotFound(NOT_FOUND)
        if row.read_at is not None:
            return
        before = snapshot(row)
        row.read_at = utcnow()
        session.add(row)
        record(session, actor, "notification.read", row, before=before)
