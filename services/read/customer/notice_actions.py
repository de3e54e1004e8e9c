"""A notice's next action and deadline in the customer app's notification centre (お知らせ).

Both are derived, never stored twice: the action from the notice's kind (its button label: 「請求を見る」
「データを追加」 …, from the label catalogue's "notice_action" group), the deadline from the record the notice links
to (/go/<kind>/<id>), read now — so a bill paid since shows no deadline and an incident over says so:
- a bill notice linked to an invoice still owed: 「お支払期限 2026/12/31」 (「期限を過ぎています」 once past);
- data at 100% of the cap: when the speed limit ends (the 1st of the month after the notice);
- an outage or maintenance: its expected end while it lasts, 「復旧しました」/「完了しました」 once over.
Other notices have no deadline ("").
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from sqlmodel import Session, col, select

from services.billing.allocation import allocated_amounts
from services.ledger.notices_read import is_bill_notice
from services.models import Invoice, Notification, ServiceIncident
from services.models.billing import InvoiceStatus
from services.platform.clock import TOKYO, today_in_tokyo
from services.platform.formatting import tokyo_time
from services.platform.labels import label

_GO = re.compile(r"^/go/([a-z_]+)/(\d+)/?$")
INCIDENT_OVER = ("resolved", "completed")


def action_key(kind: str) -> str:
    """The next action of a notice of this kind (a key of the "notice_action" label group)."""
    if is_bill_notice(kind):
        return "view_bill"
    if kind == "usage.100":
        return "add_data"
    if kind.startswith("usage."):
        return "check_usage"
    if kind.startswith("incident."):
        return "check_lines"
    if kind.startswith("shipment."):
        return "track"
    return "open"


def linked_record(link: str | None) -> tuple[str, int] | None:
    """(kind, id) of the record a notice links to (/go/<kind>/<id>), or None."""
    match = _GO.match(urlparse(link or "").path)
    return (match.group(1), int(match.group(2))) if match else None


def _lifted_on(created_at: datetime) -> date:
    """The 1st of the Tokyo month after the notice (when a speed limit of that month ends)."""
    stamp = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)  # the ledger stores UTC
    day = stamp.astimezone(TOKYO).date()
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def deadlines(session: Session, notices: list[Notification]) -> dict[int, str]:
    """Notice id -> its deadline in words (only the notices that have one), read from the linked records."""
    wanted: dict[str, set[int]] = {"invoice": set(), "incident": set()}
    for n in notices:
        linked = linked_record(n.link)
        if linked and linked[0] in wanted:
            wanted[linked[0]].add(linked[1])
    invoices = {i.id: i for i in session.exec(select(Invoice).where(col(Invoice.id).in_(sorted(wanted["invoice"]))))} \
        if wanted["invoice"] else {}
    paid = allocated_amounts(session, invoices) if invoices else {}
    incidents = {i.id: i for i in session.exec(select(ServiceIncident).where(
        col(ServiceIncident.id).in_(sorted(wanted["incident"]))))} if wanted["incident"] else {}
    today = today_in_tokyo()
    out: dict[int, str] = {}
    for n in notices:
        linked = linked_record(n.link)
        if n.kind == "usage.100":
            lifted = _lifted_on(n.created_at)
            out[n.id] = f"速度制限の解除 {lifted:%Y/%m/%d}" if lifted > today else ""
        elif linked and linked[0] == "invoice" and is_bill_notice(n.kind):
            inv = invoices.get(linked[1])
            if (inv is not None and inv.customer_id == n.customer_id and inv.status == InvoiceStatus.ISSUED
                    and inv.kind == "invoice" and inv.due_date and inv.total - paid.get(inv.id, 0) > 0):
                out[n.id] = f"お支払期限 {inv.due_date:%Y/%m/%d}" + ("（期限を過ぎています）" if inv.due_date < today else "")
        elif linked and linked[0] == "incident" and n.kind.startswith("incident."):
            incident = incidents.get(linked[1])
            if incident is not None and incident.status in INCIDENT_OVER:
                out[n.id] = label("incident_status", incident.status) + "しました"
            elif incident is not None and incident.ends_at is not None:
                out[n.id] = f"終了予定 {tokyo_time(incident.ends_at)}"
    return {key: text for key, text in out.items() if text}


def next_steps(session: Session, notices: list[Notification]) -> dict[int, dict[str, Any]]:
    """Notice id -> {action, action_label, deadline} for the notification centre."""
    due = deadlines(session, notices)
    return {n.id: {"action": action_key(n.kind), "action_label": label("notice_action", action_key(n.kind)),
                   "deadline": due.get(n.id, "")} for n in notices}
