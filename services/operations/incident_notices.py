"""Telling customers about an outage or a maintenance (障害・メンテナンスのお知らせ) that touches their lines.

Operations staff announce an incident in the monitoring system; its webhook opens the ServiceIncident
(services.operations.incidents.monitoring_event), and in that same transaction `notify_affected` tells every
customer with an affected line, once per incident (an incident is opened once per provider event id; later
updates of the same incident send nothing).

Which lines an incident affects: the ledger knows a line's customer and the customer's contract address, not
where the phone is used, so an incident with areas (東京都, 大阪府 …) affects the lines in service (利用中) of the
customers whose address names one of those areas; an incident without areas affects every line in service. The
notice says so in words. Notices are optional (topic "maintenance": mail and LINE follow the customer's
preferences, the in-app notice is always kept); each says what is affected, until when, what to do, and links
to the customer's lines; each is audited as the system ("notification.create").
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import or_
from sqlmodel import Session, col, select

from services.ledger.notifications import TITLE_MAX, notify_in, permalink
from services.models import Customer, Line, ServiceIncident
from services.models.line import LineStatus
from services.platform.formatting import tokyo_time
from services.platform.identifiers import format_msisdn
from services.platform.labels import label
from services.platform.permissions import SYSTEM

FINAL_STATUSES = ("resolved", "completed")
CHANNELS = ("mail", "line", "in_app")
TOPIC = "maintenance"
NUMBERS_SHOWN = 3
NEXT_STEP = {
    "outage": "次にすること: 復旧までしばらくお待ちください。端末の再起動で直る場合もあります。",
    "maintenance": "次にすること: 作業の時間帯は通信がつながりにくくなります。大切な通信は時間をずらしてください。",
}


def areas_of(incident: ServiceIncident) -> list[str]:
    """The areas an incident names (empty: everywhere)."""
    return [a.strip() for a in (incident.areas or "").split(",") if a.strip()]


def affected_lines(session: Session, incident: ServiceIncident) -> dict[int, list[str]]:
    """Customer id -> the phone numbers of their lines in service that the incident affects (the rule above)."""
    query = select(Line.customer_id, Line.msisdn).where(Line.status == LineStatus.ACTIVE.value)
    areas = areas_of(incident)
    if areas:
        query = query.join(Customer, Customer.id == Line.customer_id).where(
            or_(*(col(Customer.address).contains(area, autoescape=True) for area in areas)))
    found: dict[int, list[str]] = defaultdict(list)
    for customer_id, msisdn in session.exec(query.order_by(Line.customer_id, Line.id)):
        found[customer_id].append(msisdn)
    return dict(found)


def _period(incident: ServiceIncident) -> str:
    starts, ends = tokyo_time(incident.starts_at), tokyo_time(incident.ends_at)
    if starts and ends:
        return f"{starts} 〜 {ends}（終了予定）"
    if starts:
        return f"{starts} 〜（終了時刻は未定です）"
    return f"終了予定 {ends}" if ends else "終了時刻は未定です"


def _body(incident: ServiceIncident, numbers: list[str]) -> str:
    shown = "、".join(format_msisdn(n) for n in numbers[:NUMBERS_SHOWN])
    more = f" ほか{len(numbers) - NUMBERS_SHOWN}回線" if len(numbers) > NUMBERS_SHOWN else ""
    where = "・".join(areas_of(incident)) or "全国"
    parts = [incident.description or "",
             f"対象の地域: {where}",
             f"期間: {_period(incident)}",
             f"対象となるご契約の回線: {shown}{more}（ご契約の住所で判定しています）",
             NEXT_STEP.get(incident.kind, "")]
    return "\n".join(p for p in parts if p)


def notify_affected(session: Session, incident: ServiceIncident) -> int:
    """Tell each customer with an affected line about a newly opened incident, in the caller's transaction
    (system; called by monitoring_event when it opens an incident that is not over). Returns how many customers
    were told."""
    if incident.status in FINAL_STATUSES:
        return 0
    affected = affected_lines(session, incident)
    if not affected:
        return 0
    title = f"【{label('incident_kind', incident.kind)}】{incident.title}"[:TITLE_MAX]
    told = 0
    for start in range(0, len(affected), 500):
        ids = sorted(affected)[start:start + 500]
        for customer in session.exec(select(Customer).where(col(Customer.id).in_(ids)).order_by(Customer.id)):
            notify_in(session, customer, actor=SYSTEM, kind=f"incident.{incident.kind}", title=title,
                      body=_body(incident, affected[customer.id]), link=permalink("incident", incident.id),
                      channels=CHANNELS, topic=TOPIC)
            told += 1
    return told
