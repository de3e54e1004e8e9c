"""Data caps (上限) and the speed limit (速度制限): the ledger asks the carrier, the carrier confirms.

Usage arrives with the carrier's daily line report (services.ledger.carrier_report). After each report
`enforce` compares every active line's usage this month (Asia/Tokyo) with its plan's cap plus the add-on
data bought for it this month (services.ledger.addon_data): a line that reached the cap gets a throttle_on
call through the outbox, and a throttled line that no longer exceeds it (a new month, a bigger plan, add-on
data) gets throttle_off. The line shows 速度制限中 only once the carrier confirmed
(services.ledger.lines.apply_carrier_outcome). A line with a call of its speed limit still under way, or
refused by the carrier this month (the refusal waits in the review queue), is left alone; every request is
audited as the system with the usage that caused it.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import and_, func, or_
from sqlmodel import col, select

from services.ledger.addon_data import extra_mb
from services.ledger.provisioning import CARRIER, THROTTLE_OPERATIONS, enqueue_throttle
from services.models import Contract, ExternalOperation, Line, RatePlan, UsageRecord
from services.models.line import LineStatus
from services.models.workflow import ExternalOperationStatus
from services.platform.audit import record
from services.platform.clock import TOKYO, today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.permissions import SYSTEM

BATCH = 500  # lines per transaction
UNDER_WAY = (ExternalOperationStatus.PENDING.value, ExternalOperationStatus.IN_FLIGHT.value,
             ExternalOperationStatus.UNKNOWN.value)


def enforce(today: date | None = None) -> dict[str, int]:
    """Ask the carrier to throttle the active lines over their cap this month and to lift it for the others
    (system; after each daily report). Returns how many calls of each kind were queued."""
    today = today or today_in_tokyo()
    month_start = today.replace(day=1)
    since = datetime.combine(month_start, time(), tzinfo=TOKYO)
    used = (select(UsageRecord.line_id, func.sum(UsageRecord.used_mb).label("mb"))
            .where(UsageRecord.day >= month_start).group_by(UsageRecord.line_id).subquery())
    month_mb = func.coalesce(used.c.mb, 0)
    over = and_(RatePlan.data_cap_mb > 0, month_mb >= RatePlan.data_cap_mb)  # the plan's cap, before add-ons
    with read_session() as session:  # the month's usage is read without holding up other writers
        rows = session.exec(
            select(Line.id, RatePlan.data_cap_mb, month_mb, Line.throttled)
            .join(Contract, Contract.id == Line.contract_id).join(RatePlan, RatePlan.id == Contract.rate_plan_id)
            .outerjoin(used, used.c.line_id == Line.id)
            .where(Line.status == LineStatus.ACTIVE.value,
                   or_(and_(Line.throttled.is_(False), over), Line.throttled.is_(True)))
            .order_by(Line.id)).all()
        extra = extra_mb(session, month_start, today)  # add-on data bought this month, per line
    candidates = [(line_id, cap + extra.get(line_id, 0) if cap else 0, mb) for line_id, cap, mb, throttled in rows
                  if throttled != (bool(cap) and mb >= cap + extra.get(line_id, 0))]
    queued = {"throttle_on": 0, "throttle_off": 0}
    for start in range(0, len(candidates), BATCH):
        with write_session() as session:
            for line_id, cap, mb in candidates[start:start + BATCH]:
                line = session.exec(select(Line).where(Line.id == line_id).with_for_update()).first()
                enabled = bool(cap) and mb >= cap
                if (line is None or line.status != LineStatus.ACTIVE or line.throttled == enabled
                        or _left_alone(session, line.id, enabled, since)):
                    continue  # changed meanwhile, or a call of its speed limit is under way or was refused
                enqueue_throttle(session, line, enabled)
                record(session, SYSTEM, "line.throttle_request", line, reason=(
                    f"今月の通信量 {int(mb):,} MB がプランの上限 {cap:,} MB に達したため速度制限を依頼" if enabled
                    else f"今月の通信量 {int(mb):,} MB が上限 {cap:,} MB 未満のため速度制限の解除を依頼"))
                queued["throttle_on" if enabled else "throttle_off"] += 1
    return queued


def _left_alone(session, line_id: int, enabled: bool, since: datetime) -> bool:
    """A call of the line's speed limit is under way, or the carrier refused this one this month."""
    operation = next(name for name, on in THROTTLE_OPERATIONS.items() if on == enabled)
    return session.exec(select(ExternalOperation.id).where(
        ExternalOperation.provider == CARRIER, ExternalOperation.line_id == line_id,
        col(ExternalOperation.operation).in_(list(THROTTLE_OPERATIONS)),
        or_(col(ExternalOperation.status).in_(UNDER_WAY),
            and_(ExternalOperation.operation == operation,
                 ExternalOperation.status == ExternalOperationStatus.FAILED.value,
                 ExternalOperation.created_at >= since)))).first() is not None
