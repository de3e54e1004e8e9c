"""Buying add-on data (追加データ) for a line: a charge on the next bill and, for a line slowed at its cap, the
speed limit lifted at the carrier.

What is on sale and how much data it adds is the rate table's (services.ledger.addon_data). A purchase is one
PendingCharge for the line at the rate in effect today, which the next billing run puts on the contract's
invoice as an item (services.billing.rating). The add-on raises this month's cap of the line (usage_caps counts
it), so when the line is 速度制限中 and this month's use is now under the new cap, the carrier is asked to lift
the speed limit through the outbox with the same call the daily cap round uses (throttle_off); the line shows
the speed back once the carrier confirms.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.billing.rating import month_bounds
from services.ledger.addon_data import addon_mb, addons_on_sale, extra_mb
from services.ledger.customer_contracts import LINE_NOT_FOUND, customer_line
from services.ledger.provisioning import CARRIER, THROTTLE_OPERATIONS, enqueue_throttle
from services.ledger.usage_caps import UNDER_WAY
from services.models import Contract, ExternalOperation, Line, PendingCharge, RatePlan, UsageRecord
from services.models.line import LineStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.clock import today_in_tokyo
from services.platform.db import write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.identifiers import format_msisdn
from services.platform.permissions import Actor, require

REQUEST_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
RELOAD = "ページを再読み込みしてからやり直してください。"
NOT_ON_SALE = "選んだ追加データは販売していません。"
NOT_ACTIVE = "利用中の回線だけデータを追加できます。"
KEY_USED = "この申し込みは既に受け付けています。ページを再読み込みしてからやり直してください。"


def _line(session: Session, actor: Actor, line_id: Any) -> Line:
    """The line, locked: a customer's within their scope (a 利用者 with can_request), any line for staff."""
    if actor.kind == "customer":
        return customer_line(session, actor, line_id, to_change=True)
    line = session.exec(select(Line).where(Line.id == line_id).with_for_update()).first() \
        if isinstance(line_id, int) and not isinstance(line_id, bool) else None
    if line is None:
        raise NotFound(LINE_NOT_FOUND)
    return line


def _throttle_call_under_way(session: Session, line_id: int) -> bool:
    return session.exec(select(ExternalOperation.id).where(
        ExternalOperation.provider == CARRIER, ExternalOperation.line_id == line_id,
        col(ExternalOperation.operation).in_(list(THROTTLE_OPERATIONS)),
        col(ExternalOperation.status).in_(UNDER_WAY))).first() is not None


@mutating_service
def buy_addon_data(line_id: int, *, actor: Actor, code: str, request_key: str) -> PendingCharge:
    """Buy add-on data `code` (a size on sale in the rate table) for a line, for the rest of this month.

    Who: a customer for a line they see — a 法人管理者 any line of the company, a 利用者 a line assigned to them
    and only with can_request (another company's line: NotFound) — or staff holding "charge.create" (on the
    customer's request by phone). Only a line in service (利用中). `request_key` is the page's key for this one
    purchase: the same key again returns the first purchase and writes nothing more (a double click buys once).
    Writes one PendingCharge at the rate-table amount in effect today (billed by the next billing run as an item
    of the contract's invoice), and when the line is 速度制限中 and this month's use is under the plan's cap plus
    the month's add-ons, one carrier call lifting the speed limit (throttle_off, through the outbox) unless a
    speed-limit call is already under way (the daily cap round then settles it); one audit entry
    "line.buy_addon_data" with the charge, the month's use and cap, and the carrier call.
    """
    if actor is None or actor.kind != "customer":
        require(actor, "charge.create")
    key = (request_key or "").strip() if isinstance(request_key, str) else ""
    if not REQUEST_KEY.match(key):
        raise ValidationFailed({"request_key": RELOAD})
    today = today_in_tokyo()
    with write_session() as session:
        line = _line(session, actor, line_id)
        done = session.exec(select(PendingCharge).where(PendingCharge.request_key == key)).first()
        if done is not None:
            if done.line_id != line.id or done.code != code:
                raise Conflict(KEY_USED)
            return done
        if line.status != LineStatus.ACTIVE:
            raise Conflict(NOT_ACTIVE)
        offer = next((a for a in addons_on_sale(session, today) if a["code"] == code), None)
        if offer is None:
            raise ValidationFailed({"code": NOT_ON_SALE})
        charge = PendingCharge(
            contract_id=line.contract_id, line_id=line.id, code=offer["code"],
            description=f"{offer['name']}（{format_msisdn(line.msisdn)}）", quantity=1, unit_price=offer["amount"],
            tax_rate_percent=offer["tax_rate_percent"], occurred_on=today, request_key=key,
            created_by=actor.id if actor.kind == "staff" else None)
        session.add(charge)
        session.flush()
        first, last = month_bounds(today.strftime("%Y-%m"))
        plan_cap = session.exec(select(RatePlan.data_cap_mb).join(Contract, Contract.rate_plan_id == RatePlan.id)
                                .where(Contract.id == line.contract_id)).one()
        used = session.exec(select(func.coalesce(func.sum(UsageRecord.used_mb), 0)).where(
            UsageRecord.line_id == line.id, UsageRecord.day >= first, UsageRecord.day <= last)).one()
        cap = plan_cap + extra_mb(session, first, last, [line.id]).get(line.id, 0) if plan_cap else 0
        operation = None
        if line.throttled and (not cap or used < cap) and not _throttle_call_under_way(session, line.id):
            operation = enqueue_throttle(session, line, False)
        record(session, actor, "line.buy_addon_data", line, reason=f"{offer['name']}（{offer['price']}）の購入",
               after={"pending_charge": snapshot(charge), "mb": addon_mb(offer["code"]), "month_used_mb": int(used),
                      "month_cap_mb": cap, "external_operation_id": operation.id if operation else None})
    return charge
