"""Telling customers about an outage or a maintenance (障害・メンテナンスのお知らせ) that touches their lines.

Operations staff announce an incident in the monitoring system; its webhook opens the ServiceIncident
(services.operations.incidents.monitoring_event), and in that same transaction `notify_affected` tells every
customer with an affected line, once per incident (an incident is opened once per provider event id; later
updates of the same incident send nothing).

Who hears it: the company gets one notice (mail, LINE and in-app) naming its affected lines; in the customer app
that notice is for the 法人管理者 (services.ledger.notices_read: a company notice about several lines), and each
利用者 with an affected line gets their own in-app notice naming only the lines assigned to them (about one line:
Notification.line_id). So nobody reads the numbers of lines that are not theirs, and one incident writes one
notice per company plus one per 利用者 concerned — not one per line, which for an IoT company would be hundreds.

Which lines an incident affects: the ledger knows a line's customer and the customer's contract address, not
where the phone is used, so an incident with areas (東京都, 大阪府 …) affects the lines in service (利用中) of the
customers whose address names one of those areas; an incident without areas affects every line in service. The
notice says so in words. Notices are optional (topic "maintenance": mail and LINE follow the customer's
preferences, the in-app notice is always kept); each says what is affected, until when and what to do, and links
to the incident; each is audited as the system ("notification.create").
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import or_
from sqlmodel import Session, col, select

from services.ledger.customer_users import ADMIN
from services.ledger.notifications import TITLE_MAX, notify_in, permalink
from services.models import Customer, CustomerUser, CustomerUserLine, Line, ServiceIncident
from services.models.line import LineStatus
from services.platform.formatting import tokyo_time
from services.platform.identifiers import format_msisdn
from services.platform.labels import label
from services.platform.permissions import SYSTEM

FINAL_STATUSES = ("resolved", "completed")
NUMBERS_SHOWN = 3
CHANNELS = ("mail", "line", "in_app")
TOPIC = "maintenance"
NEXT_STEP = {
    "outage": "次にすること: 復旧までしばらくお待ちください。端末の再起動で直る場合もあります。",
    "maintenance": "次にすること: 作業の時間帯は通信がつながりにくくなります。大切な通信は時間をずらしてください。",
}


def areas_of(incident: ServiceIncident) -> list[str]:
    """The areas an incident names (empty: everywhere)."""
    return [a.strip() for a in (incident.areas or "").split(",") if a.strip()]


def affected_lines(session: Session, incident: ServiceIncident) -> dict[int, list[tuple[int, str]]]:
    """Customer id -> (line id, phone number) of their lines in service that the incident affects (the rule
    above)."""
    query = select(Line.customer_id, Line.id, Line.msisdn).where(Line.status == LineStatus.ACTIVE.value)
    areas = areas_of(incident)
    if areas:
        query = query.join(Customer, Customer.id == Line.customer_id).where(
            or_(*(col(Customer.address).contains(area, autoescape=True) for area in areas)))
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for customer_id, line_id, msisdn in session.exec(query.order_by(Line.customer_id, Line.id)):
        found[customer_id].append((line_id, msisdn))
    return dict(found)


def _users_lines(session: Session, customer_id: int, lines: list[tuple[int, str]]) -> dict[int, list[tuple[int, str]]]:
    """Active 利用者 of the company -> the affected lines assigned to them (the 法人管理者 read the company's
    notice)."""
    numbers = dict(lines)
    rows = session.exec(select(CustomerUserLine.customer_user_id, CustomerUserLine.line_id)
                        .join(CustomerUser, CustomerUser.id == CustomerUserLine.customer_user_id)
                        .where(CustomerUser.customer_id == customer_id, CustomerUser.role != ADMIN,
                               col(CustomerUser.is_active).is_(True), col(CustomerUser.disabled_at).is_(None),
                               col(CustomerUserLine.line_id).in_(sorted(numbers)))
                        .order_by(CustomerUserLine.customer_user_id, CustomerUserLine.line_id)).all()
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for user_id, line_id in rows:
        found[user_id].append((line_id, numbers[line_id]))
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
    (system; called by monitoring_event when it opens an incident that is not over): the company's notice, and
    an in-app notice for each 利用者 concerned with only their lines. Returns how many customers were told."""
    if incident.status in FINAL_STATUSES:
        return 0
    affected = affected_lines(session, incident)
    if not affected:
        return 0
    title = f"【{label('incident_kind', incident.kind)}】{incident.title}"[:TITLE_MAX]
    kind, link = f"incident.{incident.kind}", permalink("incident", incident.id)
    told = 0
    for start in range(0, len(affected), 500):
        ids = sorted(affected)[start:start + 500]
        for customer in session.exec(select(Customer).where(col(Customer.id).in_(ids)).order_by(Customer.id)):
            lines = affected[customer.id]
            notify_in(session, customer, actor=SYSTEM, kind=kind, title=title,
                      body=_body(incident, [n for _, n in lines]), link=link, channels=CHANNELS, topic=TOPIC)
            for user_id, theirs in _users_lines(session, customer.id, lines).items():
                notify_in(session, customer, actor=SYSTEM, kind=kind, title=title,
                          body=_body(incident, [n for _, n in theirs]), link=link, channels=("in_app",),
                          topic=TOPIC, customer_user_id=user_id, line_id=theirs[0][0] if len(theirs) == 1 else None)
            told += 1
    return told
