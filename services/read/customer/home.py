"""The customer app's home: the person's lines with this month's data use against the plan's cap.

Usage is the carrier's daily figure per line and day (UsageRecord, one row per day). This month's use, the cap
and "over the cap" follow the rule of services.ledger.usage_caps (the sum of this Tokyo month's daily rows
against the plan's data_cap_mb plus the add-on data bought this month; a cap of 0 means no cap); the percent
is the staff line page's (rounded, at most 100). The line is 速度制限中 only once the carrier confirmed it (Line.throttled).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlmodel import col, select

from services.ledger.addon_data import NEARLY_FULL_PERCENT, extra_mb
from services.ledger.customer_users import customer_scope
from services.models import Contract, Line, RatePlan, UsageRecord
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session
from services.platform.identifiers import format_msisdn
from services.platform.labels import state_label
from services.platform.permissions import Actor


def _cycle(today: date) -> tuple[date, date]:
    """The billing cycle `today` is in: its Tokyo calendar month."""
    return today.replace(day=1), today.replace(day=calendar.monthrange(today.year, today.month)[1])


def _percent(used: int, cap: int) -> int:
    return min(100, round(100 * used / cap)) if cap else 0


def my_lines(*, actor: Actor) -> list[dict[str, Any]]:
    """The lines the signed-in person sees (every line of the company for a 法人管理者, the assigned ones for a
    利用者), each with this month's use for the home page.

    Who: a customer actor (staff: PermissionDenied). Writes nothing. Each row: id, msisdn (090-1234-5678),
    status and its label, plan name, used_mb and cap_mb (0: no cap), percent, over_cap, throttled (as the
    carrier confirmed) with the throttled speed, addon_offered (a line in service, throttled or at 80% of its
    cap, and the person may make requests: the page offers add-on data), cycle start and end (Tokyo dates),
    days_left in the cycle counting today, and `daily`: one entry per day from the 1st to today — day (ISO), mb
    used that day (0 when the carrier reported nothing for it), total_mb so far — for a chart.
    """
    today = today_in_tokyo()
    first, last = _cycle(today)
    with read_session() as session:
        scope = customer_scope(session, actor)
        if not scope.line_ids:
            return []
        rows = session.exec(
            select(Line, RatePlan).join(Contract, Contract.id == Line.contract_id)
            .join(RatePlan, RatePlan.id == Contract.rate_plan_id)
            .where(col(Line.id).in_(sorted(scope.line_ids))).order_by(Line.id)).all()
        daily: dict[int, dict[date, int]] = defaultdict(dict)
        for record in session.exec(select(UsageRecord).where(
                col(UsageRecord.line_id).in_(sorted(scope.line_ids)), UsageRecord.day >= first,
                UsageRecord.day <= last)):
            daily[record.line_id][record.day] = record.used_mb
        bought = extra_mb(session, first, last, scope.line_ids)  # add-on data raises this month's cap
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    out = []
    for line, plan in rows:
        by_day = daily[line.id]
        used = sum(by_day.values())
        cap = plan.data_cap_mb + bought.get(line.id, 0) if plan.data_cap_mb else 0
        chart, total = [], 0
        for day in days:
            total += by_day.get(day, 0)
            chart.append({"day": day.isoformat(), "mb": by_day.get(day, 0), "total_mb": total})
        out.append({
            "id": line.id, "msisdn": format_msisdn(line.msisdn), "status": line.status,
            "status_label": state_label("line", line.status), "plan_name": plan.name,
            "used_mb": used, "cap_mb": cap, "percent": _percent(used, cap), "over_cap": bool(cap) and used >= cap,
            "throttled": line.throttled, "throttled_kbps": plan.throttled_kbps,
            "cycle_start": first.isoformat(), "cycle_end": last.isoformat(), "days_left": (last - today).days + 1,
            "daily": chart,
            "addon_offered": scope.can_request and line.status == "active" and bool(cap)
            and (line.throttled or _percent(used, cap) >= NEARLY_FULL_PERCENT),
        })
    return out
