"""Data-use notices (データ通信量のお知らせ): a line's month reaching 80% and 100% of its cap.

After each carrier line report, beside the data-cap round (services.ledger.usage_caps.enforce, run by
services.tasks.daily), `send_due` finds in one query every active line whose use this Tokyo month reached 80% of
its plan's cap and that has not had its 100% notice this month; the cap is the plan's plus the add-on data bought
for the line this month (services.ledger.addon_data), as the speed limit counts it. Each line gets each level at
most once a month: a UsageNotice row (unique line, month, level) is written in the notice's transaction, inside a
savepoint, so a retried or concurrent round sends nothing twice. A line that jumps past 100% at once gets the 100%
notice only (its 80% is recorded as covered by it).

The notices are optional (topic "usage": mail and LINE follow the customer's preferences, the in-app notice is
always kept), go to the company about the line (Notification.line_id: in the app only the people who see that
line see it, services.ledger.notices_read), carry the next action (add data on /my, or wait for the 1st) and link
to the line (permalink("line", id)). Each is audited as the system ("notification.create").
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from services.ledger.addon_data import extra_mb
from services.ledger.notifications import notify_in, permalink
from services.models import Contract, Customer, Line, RatePlan, UsageNotice, UsageRecord
from services.models.line import LineStatus
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.identifiers import format_msisdn
from services.platform.permissions import SYSTEM

BATCH = 200  # notices per transaction
CHANNELS = ("mail", "line", "in_app")
TOPIC = "usage"


def period_of(day: date) -> str:
    """The month a day's use counts in: YYYY-MM (Tokyo)."""
    return f"{day.year:04d}-{day.month:02d}"


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def level_of(used_mb: int, cap_mb: int) -> int | None:
    """100 at or over the cap, 80 at or over 80% of it, else None (a cap of 0 means no cap)."""
    if cap_mb <= 0:
        return None
    if used_mb >= cap_mb:
        return 100
    return 80 if used_mb * 100 >= cap_mb * 80 else None


def _due(today: date) -> list[tuple[int, int, str, int, int, int, int]]:
    """(line id, customer id, msisdn, cap incl. add-ons, used, throttled kbps, level) of every line due a notice."""
    month_start, period = today.replace(day=1), period_of(today)
    used = (select(UsageRecord.line_id, func.sum(UsageRecord.used_mb).label("mb"))
            .where(UsageRecord.day >= month_start, UsageRecord.day <= today).group_by(UsageRecord.line_id).subquery())
    done = select(UsageNotice.id).where(UsageNotice.line_id == Line.id, UsageNotice.period == period,
                                        UsageNotice.level == 100).exists()
    with read_session() as session:  # read without holding up other writers; the write re-checks under its lock
        rows = session.exec(
            select(Line.id, Line.customer_id, Line.msisdn, RatePlan.data_cap_mb, used.c.mb, RatePlan.throttled_kbps)
            .join(Contract, Contract.id == Line.contract_id).join(RatePlan, RatePlan.id == Contract.rate_plan_id)
            .join(used, used.c.line_id == Line.id)
            .where(Line.status == LineStatus.ACTIVE.value, RatePlan.data_cap_mb > 0,
                   used.c.mb * 100 >= RatePlan.data_cap_mb * 80, ~done)
            .order_by(Line.id)).all()
        if not rows:
            return []
        ids = [r[0] for r in rows]
        extra = extra_mb(session, month_start, today, ids)
        sent: dict[int, set[int]] = {}
        for start in range(0, len(ids), 500):
            for line_id, level in session.exec(select(UsageNotice.line_id, UsageNotice.level).where(
                    UsageNotice.period == period, col(UsageNotice.line_id).in_(ids[start:start + 500]))):
                sent.setdefault(line_id, set()).add(level)
    due = []
    for line_id, customer_id, msisdn, cap, mb, kbps in rows:
        cap_now, used_mb = cap + extra.get(line_id, 0), int(mb or 0)
        level = level_of(used_mb, cap_now)
        if level is not None and level not in sent.get(line_id, set()):
            due.append((line_id, customer_id, msisdn, cap_now, used_mb, kbps, level))
    return due


def _text(level: int, msisdn: str, used_mb: int, cap_mb: int, kbps: int, today: date) -> tuple[str, str]:
    number = format_msisdn(msisdn)
    lifted = _next_month(today)
    if level == 100:
        return (f"データ通信量が上限に達しました（{number}）",
                f"{number} の今月のデータ通信量が上限 {cap_mb:,} MB に達したため、通信速度を {kbps} kbps に制限します。\n"
                f"制限は {lifted.year}年{lifted.month}月1日 に解除されます。\n"
                "次にすること: すぐに元の速度に戻すには、マイページでデータを追加してください。"
                "追加しない場合は、解除までお待ちください。")
    return (f"データ通信量が上限の80%を超えました（{number}）",
            f"{number} の今月のデータ通信量が {used_mb:,} MB になり、上限 {cap_mb:,} MB の80%を超えました。\n"
            f"上限に達すると、{lifted.year}年{lifted.month}月1日まで通信速度が {kbps} kbps に制限されます。\n"
            "次にすること: 足りなくなりそうなときは、マイページでデータを追加できます。")


def send_due(today: date | None = None) -> dict[str, int]:
    """Tell each customer once per line, month and level that a line reached 80% or 100% of its cap (system;
    after each carrier line report). Returns how many notices of each level were written."""
    today = today or today_in_tokyo()
    period = period_of(today)
    due = _due(today)
    sent = {"usage_80": 0, "usage_100": 0}
    for start in range(0, len(due), BATCH):
        batch = due[start:start + BATCH]
        with write_session() as session:
            customers = {c.id: c for c in session.exec(select(Customer).where(
                col(Customer.id).in_(sorted({row[1] for row in batch}))))}
            for line_id, customer_id, msisdn, cap_mb, used_mb, kbps, level in batch:
                have = set(session.exec(select(UsageNotice.level).where(
                    UsageNotice.line_id == line_id, UsageNotice.period == period)).all())
                if level in have or 100 in have:
                    continue  # another round sent it meanwhile
                rows = [UsageNotice(line_id=line_id, period=period, level=lv)
                        for lv in ((80, 100) if level == 100 else (80,)) if lv not in have]
                try:
                    with session.begin_nested():  # the unique (line, month, level) refuses a concurrent round's twin
                        session.add_all(rows)
                        session.flush()
                except IntegrityError:
                    continue
                title, body = _text(level, msisdn, used_mb, cap_mb, kbps, today)
                result = notify_in(session, customers[customer_id], actor=SYSTEM, kind=f"usage.{level}", title=title,
                                   body=body, link=permalink("line", line_id), channels=CHANNELS, topic=TOPIC,
                                   line_id=line_id)
                in_app = next(n for n in result.notifications if n.channel == "in_app")
                for row in rows:
                    row.notification_id = in_app.id
                    session.add(row)
                sent[f"usage_{level}"] += 1
    return sent
