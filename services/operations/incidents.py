"""Network incidents (障害・メンテナンス) reported by the monitoring provider, shown to every staff page.

The provider's signed webhooks (event.created / event.updated / event.resolved) arrive through
services.workflow.webhooks like every other provider's: `monitoring_event` keeps one ServiceIncident per
provider event id and applies an event only when its sequence is newer than the last one applied,
so duplicated and re-ordered deliveries leave the latest report in place. Each change is audited as
the system. `current_incidents` lists what staff should know now: outages not yet resolved and
maintenance not yet completed (announced or in progress). When an incident is first opened, the customers whose
lines it affects are told in the same transaction (services.operations.incident_notices).
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from services.models import ReviewItem, ServiceIncident
from services.models.base import utcnow
from services.models.workflow import INCIDENT_KINDS
from services.operations import incident_notices
from services.platform.audit import record, snapshot
from services.platform.clock import parse_utc
from services.platform.db import read_session
from services.platform.formatting import tokyo_time
from services.platform.labels import label
from services.platform.permissions import SYSTEM, Actor, require

STATUSES = {"outage": ("investigating", "identified", "resolved"),
            "maintenance": ("scheduled", "in_progress", "completed")}
FINAL_STATUSES = ("resolved", "completed")
EVENT_TYPES = ("event.created", "event.updated", "event.resolved")
INVALID_KIND = "monitoring.event.invalid"


def monitoring_event(session: Session, event: dict[str, Any]) -> str:
    """Apply one monitoring webhook (system): record or update the incident unless a newer report is kept."""
    if event.get("type") not in EVENT_TYPES:
        return f"ignored: {event.get('type')}"
    data, sequence = event.get("data") or {}, event.get("sequence")
    kind, status, title = data.get("kind"), data.get("status"), str(data.get("title") or "").strip()
    if (not isinstance(data.get("id"), str) or not data["id"] or kind not in INCIDENT_KINDS
            or status not in STATUSES[kind] or not title or isinstance(sequence, bool) or not isinstance(sequence, int)):
        session.add(ReviewItem(kind=INVALID_KIND, reason="監視基盤からの障害・メンテナンス通知を読み取れませんでした。"
                               "監視基盤の画面で内容を確認してください。",
                               evidence_json=json.dumps(event, ensure_ascii=False, default=str)))
        return "invalid incident event: queued for review"
    incident = session.exec(select(ServiceIncident).where(ServiceIncident.provider_ref == data["id"])
                            .with_for_update()).first()
    if incident is not None and sequence <= incident.sequence:
        return f"incident #{incident.id} keeps report {incident.sequence}"
    before = snapshot(incident) if incident is not None else None
    incident = incident or ServiceIncident(provider_ref=data["id"][:64], kind=kind, status=status, title=title)
    incident.kind, incident.status, incident.title = kind, status, title[:200]
    incident.description = str(data.get("description") or "").strip()[:2000] or None
    incident.services = ", ".join(str(s) for s in data.get("services") or [])[:500]
    incident.areas = ", ".join(str(a) for a in data.get("areas") or [])[:500]
    incident.starts_at, incident.ends_at = parse_utc(data.get("starts_at")), parse_utc(data.get("ends_at"))
    incident.sequence, incident.updated_at = sequence, utcnow()
    session.add(incident)
    session.flush()
    action = "incident.open" if before is None else ("incident.close" if status in FINAL_STATUSES
                                                     else "incident.update")
    record(session, SYSTEM, action, incident, before=before,
           reason=f"監視基盤の通知（{event.get('id')}、#{sequence}）")
    if before is None:  # announced: the customers whose lines it affects are told once, with the incident
        told = incident_notices.notify_affected(session, incident)
        return f"incident #{incident.id} {status}, {told} customers told"
    return f"incident #{incident.id} {status}"


def current_incidents(*, actor: Actor) -> list[dict[str, Any]]:
    """Outages not yet resolved and maintenance not yet completed, outages first (every staff member)."""
    require(actor, "review.view")
    with read_session() as session:
        rows = session.exec(select(ServiceIncident).where(col(ServiceIncident.status).not_in(FINAL_STATUSES))
                            .order_by(ServiceIncident.kind.desc(), ServiceIncident.starts_at)).all()
    return [_row(incident) for incident in rows]


def _row(incident: ServiceIncident) -> dict[str, Any]:
    starts, ends = tokyo_time(incident.starts_at), tokyo_time(incident.ends_at)
    period = f"{starts} 〜 {ends}" if starts and ends else (f"開始 {starts}" if starts else (f"終了予定 {ends}" if ends else ""))
    scope = "・".join(s for s in (incident.services, incident.areas) if s)
    return {"id": incident.id, "kind": incident.kind, "kind_label": label("incident_kind", incident.kind),
            "status": incident.status, "status_label": label("incident_status", incident.status),
            "title": incident.title, "description": incident.description or "", "period": period, "scope": scope}
