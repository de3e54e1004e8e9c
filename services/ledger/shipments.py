"""Shipments (出荷): a SIM or device sent to a customer through the logistics provider, tracked, returned.

`ship_to_customer` records the shipment (requested) and the "ship" outbox operation in one
transaction; the provider's acceptance makes it accepted with its shipment id and tracking number,
and the customer is told the tracking number (and again on delivery), with a link to the shipment's tracking
page in the customer app (`tracking_steps` is its timeline). Tracking webhooks (`logistics_event`) only ever move
a shipment forward in SHIPMENT_STATUSES order: a late, older event or a repeated one changes nothing.
`request_return` asks the provider to collect a delivered item.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from services.integrations import logistics
from services.ledger.inventory import DEVICE
from services.ledger.notifications import notify_in, permalink
from services.models import AuditEntry, Customer, Device, ExternalOperation, Line, Shipment, SimCard
from services.models.base import utcnow
from services.models.inventory import DeviceEvent, DeviceStatus, SimStatus
from services.models.line import LineStatus
from services.models.workflow import SHIPMENT_STATUSES, ExternalOperationStatus, ReviewItem
from services.platform.audit import mutating_service, record, snapshot
from services.platform.clock import parse_utc
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from services.platform.formatting import tokyo_time
from services.platform.labels import label
from services.platform.permissions import SYSTEM, Actor, get_permitted, require
from services.workflow import outbox
from services.workflow.outbox import Provider
from services.workflow.reconciliation import settle_operation

# Shipments that are over: the same item may be sent again.
CLOSED_STATUSES = ("failed", "returned")
# Statuses the provider reports by webhook (requested and failed are the ledger's own).
TRACKING_STATUSES = tuple(s for s in SHIPMENT_STATUSES if s not in ("requested", "failed"))
LIVE_OPERATION_STATUSES = (ExternalOperationStatus.PENDING.value, ExternalOperationStatus.IN_FLIGHT.value,
                           ExternalOperationStatus.UNKNOWN.value)
# From the first of these on, the item has left the warehouse: a device becomes 出荷済.
LEFT_WAREHOUSE_STATUSES = ("picked_up", "in_transit", "delivered")
ORDER_REF_PREFIX = "SHP-"
SECTION_LIMIT = 20


def order_ref(shipment_id: int) -> str:
    """The order reference the provider knows a shipment by: SHP-000123."""
    return f"{ORDER_REF_PREFIX}{shipment_id:06d}"


def _shipment_id_of(ref: Any) -> int | None:
    text = str(ref or "")
    digits = text.removeprefix(ORDER_REF_PREFIX)
    return int(digits) if text.startswith(ORDER_REF_PREFIX) and digits.isdigit() else None


def _rank(status: str) -> int:
    return SHIPMENT_STATUSES.index(status)


def _resolve_item(session: Session, customer_id: int, line_id: int | None, sim_card_id: int | None,
                  device_id: int | None) -> tuple[Line, str, SimCard | Device]:
    """The customer's line, the item type and the SIM or device to send; ValidationFailed otherwise."""
    if sim_card_id and device_id:
        raise ValidationFailed({"item": "SIMと端末は別々に発送してください。"})
    if not (line_id or sim_card_id or device_id):
        raise ValidationFailed({"item": "発送するSIMまたは端末を選んでください。"})
    query = select(Line).where(Line.customer_id == customer_id)
    if line_id:
        query = query.where(Line.id == line_id)
    if device_id:
        query = query.where(Line.device_id == device_id)
    elif sim_card_id:
        query = query.where(Line.sim_card_id == sim_card_id)
    line = session.exec(query.order_by(col(Line.id).desc())).first()
    if line is None:
        raise ValidationFailed({"item": "この顧客の回線に割り当てられたSIM・端末ではありません。"})
    if device_id:
        return line, "device", session.get(Device, device_id)
    if not line.sim_card_id:
        raise ValidationFailed({"item": "この回線にはSIMが割り当てられていません。"})
    return line, "sim", session.get(SimCard, line.sim_card_id)


@mutating_service
def ship_to_customer(*, actor: Actor, customer_id: int, line_id: int | None = None, sim_card_id: int | None = None,
                     device_id: int | None = None, reason: str | None = None) -> Shipment:
    """Send a SIM (the line's, or `sim_card_id`) or a device to the customer's address (sales, support, admin).

    Writes the shipment (出荷依頼中), one logistics "ship" outbox operation (order_ref, item,
    recipient) and one audit entry "shipment.request". A second shipment of an item that is
    still on its way or with the customer is refused (Conflict).
    """
    with write_session() as session:
        customer = session.exec(select(Customer).where(Customer.id == customer_id).with_for_update()).first()
        if customer is None:
            raise NotFound("顧客が見つかりません。")
        require(actor, "inventory.manage", customer)
        line, item_type, item = _resolve_item(session, customer_id, line_id, sim_card_id, device_id)
        if not (customer.postal_code and customer.address):
            raise ValidationFailed({"address": "お届け先の郵便番号と住所を顧客情報に登録してください。"})
        item_column = Shipment.sim_card_id if item_type == "sim" else Shipment.device_id
        live = session.exec(select(Shipment).where(item_column == item.id,
                                                   col(Shipment.status).not_in(CLOSED_STATUSES))).first()
        if live is not None:
            raise Conflict(f"この{label('record', item_type)}はすでに出荷手続き中です"
                           f"（出荷 #{live.id}、{label('shipment_status', live.status)}）。")
        shipment = Shipment(customer_id=customer_id, line_id=line.id, item_type=item_type,
                            sim_card_id=item.id if item_type == "sim" else None,
                            device_id=item.id if item_type == "device" else None)
        session.add(shipment)
        session.flush()
        payload = {"order_ref": order_ref(shipment.id), "item_type": item_type,
                   "item_id": item.iccid if item_type == "sim" else item.imei,
                   "recipient": {"name": customer.name, "postal_code": customer.postal_code,
                                 "address": customer.address}}
        # line_id stays off the operation: the line's carrier operations are told apart by it
        outbox.enqueue(session, provider="logistics", operation="ship", subject=f"shipment{shipment.id}",
                       payload=payload, customer_id=customer_id, shipment_id=shipment.id)
        record(session, actor, "shipment.request", shipment, reason=reason)
    return shipment


@mutating_service
def request_return(shipment_id: int, *, actor: Actor, reason: str) -> Shipment:
    """Ask the provider to collect a delivered SIM or device (sales, support, admin).

    Only after delivery (配達完了). Writes the return reason, one logistics "return" outbox
    operation and one audit entry "shipment.return_request"; the shipment moves to 返品依頼中
    when the provider accepts.
    """
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "返品の理由を入力してください。"})
    with write_session() as session:
        shipment = session.exec(select(Shipment).where(Shipment.id == shipment_id).with_for_update()).first()
        if shipment is None:
            raise NotFound("出荷が見つかりません。")
        require(actor, "inventory.manage", shipment)
        if shipment.status != "delivered" or not shipment.provider_shipment_id:
            raise InvalidTransition(f"返品は配達完了の出荷だけ依頼できます（現在: "
                                    f"{label('shipment_status', shipment.status)}）。")
        live = _live_operation(session, shipment.id, "return")
        if live is not None:
            raise Conflict(f"この出荷の返品依頼を処理中です（外部連携処理 #{live}）。")
        before = snapshot(shipment)
        shipment.return_reason = reason.strip()[:300]
        shipment.updated_at = utcnow()
        session.add(shipment)
        outbox.enqueue(session, provider="logistics", operation="return", subject=f"shipment{shipment.id}",
                       payload={"provider_shipment_id": shipment.provider_shipment_id,
                                "reason": shipment.return_reason},
                       customer_id=shipment.customer_id, shipment_id=shipment.id)
        record(session, actor, "shipment.return_request", shipment, before=before, reason=reason)
    return shipment


def _live_operation(session: Session, shipment_id: int, operation: str) -> int | None:
    return session.exec(select(ExternalOperation.id).where(
        ExternalOperation.shipment_id == shipment_id, ExternalOperation.provider == "logistics",
        ExternalOperation.operation == operation,
        col(ExternalOperation.status).in_(LIVE_OPERATION_STATUSES))).first()


def _provider_answer(evidence: dict[str, Any]) -> dict[str, Any]:
    """The provider's shipment fields from an outcome's evidence (call answer or webhook data)."""
    data = evidence.get("data")
    if isinstance(data, dict):
        return data
    try:
        body = json.loads(evidence.get("body") or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _move(session: Session, shipment: Shipment, status: str, why: str, at: datetime | None = None) -> bool:
    """Move the shipment forward to `status` (audited as system); False when that would not be forward."""
    if shipment.status == "failed" or _rank(status) <= _rank(shipment.status):
        return False
    before = snapshot(shipment)
    shipment.status = status
    shipment.updated_at = utcnow()
    if status == "delivered" and shipment.delivered_at is None:
        shipment.delivered_at = at or utcnow()
    session.add(shipment)
    record(session, SYSTEM, f"shipment.{status}", shipment, before=before, reason=why[:500])
    _follow_stock(session, shipment, status)
    return True


def _follow_stock(session: Session, shipment: Shipment, status: str) -> None:
    """Keep the shipped item's stock state in step with the shipment (same transaction, audited as system).

    A device becomes 出荷済 when it leaves the warehouse and 返却済 when its return arrives. A SIM's
    state follows its line (services.ledger.inventory.follow_sim), so a returned SIM whose line is not
    terminated is only reported. Whenever the item's state does not allow the move, a review item
    says so instead of forcing it.
    """
    if shipment.item_type == "device" and shipment.device_id:
        device = session.get(Device, shipment.device_id)
        if status in LEFT_WAREHOUSE_STATUSES and device.status != DeviceStatus.SHIPPED:
            _move_device(session, shipment, device, DeviceStatus.ASSIGNED, DeviceEvent.SHIP)
        elif status == "returned":
            _move_device(session, shipment, device, DeviceStatus.SHIPPED, DeviceEvent.RETURN)
    elif shipment.item_type == "sim" and shipment.sim_card_id and status == "returned":
        sim, line = session.get(SimCard, shipment.sim_card_id), session.get(Line, shipment.line_id)
        if line is not None and line.status != LineStatus.TERMINATED and sim.status != SimStatus.RETURNED:
            _report_stock(session, shipment, f"返品されたSIM（{sim.iccid}）の回線 {line.msisdn} が解約されていません。"
                          "回線を解約するか、SIMを再発送してください。", {"sim_status": sim.status,
                                                                         "line_status": line.status})


def _move_device(session: Session, shipment: Shipment, device: Device, expected: DeviceStatus,
                 event: DeviceEvent) -> None:
    if device.status != expected:
        status = label("shipment_status", shipment.status)
        _report_stock(session, shipment, f"出荷 #{shipment.id} は「{status}」ですが、"
                      f"端末（{device.imei}）の在庫状態が合わないため変更していません。", {"device_status": device.status})
        return
    before = snapshot(device)
    device.status = DEVICE.next_state(device.status, event).value
    device.updated_at = utcnow()
    session.add(device)
    record(session, SYSTEM, f"device.{event.value}", device, before=before,
           reason=f"出荷 #{shipment.id}: {label('shipment_status', shipment.status)}")


def _report_stock(session: Session, shipment: Shipment, reason: str, evidence: dict[str, Any]) -> None:
    """One review item per shipment and status when the stock state cannot follow the shipment."""
    subject = f"shipment{shipment.id}:{shipment.status}"
    kind = "logistics.return.stock_mismatch" if shipment.status == "returned" else "logistics.ship.stock_mismatch"
    if session.exec(select(ReviewItem.id).where(ReviewItem.kind == kind, ReviewItem.subject_key == subject)).first():
        return
    session.add(ReviewItem(kind=kind, subject_key=subject, customer_id=shipment.customer_id, line_id=shipment.line_id,
                           reason=reason[:500], evidence_json=json.dumps(
                               {**evidence, "shipment_id": shipment.id, "shipment_status": shipment.status},
                               ensure_ascii=False)))


def _fill_provider_ids(shipment: Shipment, provider_id: Any, tracking: Any) -> None:
    if provider_id and not shipment.provider_shipment_id:
        shipment.provider_shipment_id = str(provider_id)[:64]
    if tracking and not shipment.tracking_number:
        shipment.tracking_number = str(tracking)[:32]


def apply_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str, evidence: dict[str, Any]
                  ) -> None:
    """Apply a settled logistics operation (called by services.workflow.outbox.settle, same transaction).

    ship succeeded -> 出荷受付済 with the provider's shipment id and tracking number, and the
    customer is told; ship failed -> 出荷不可; return succeeded -> 返品依頼中. Unknown outcomes
    change nothing (the outbox opens the review item).
    """
    shipment = session.get(Shipment, op.shipment_id) if op.shipment_id else None
    if shipment is None or outcome == "unknown":
        return
    why = f"配送業者 {op.operation}（外部連携処理 #{op.id}）: {detail}"
    if op.operation == "return":
        if outcome == "succeeded":
            _move(session, shipment, "return_requested", why)
        return
    if outcome == "failed":
        if shipment.status == "requested":
            before = snapshot(shipment)
            shipment.status, shipment.updated_at = "failed", utcnow()
            session.add(shipment)
            record(session, SYSTEM, "shipment.failed", shipment, before=before, reason=why[:500])
        return
    answer = _provider_answer(evidence)
    _fill_provider_ids(shipment, op.provider_ref or answer.get("shipment_id") or answer.get("id"),
                       answer.get("tracking_number"))
    if _move(session, shipment, "accepted", why):
        _tell_customer(session, shipment)


def _tell_customer(session: Session, shipment: Shipment) -> None:
    """The customer hears that the item is on its way (with the tracking number) or was delivered (system;
    optional notices of the topic "shipment", linked to the shipment's tracking page in the customer app)."""
    item = label("record", shipment.item_type)
    tracking = shipment.tracking_number or "（追ってお知らせします）"
    if shipment.status == "delivered":
        kind, title = "shipment.delivered", f"{item}のお届けが完了しました"
        body = (f"ご契約の{item}をお届けしました（お問い合わせ番号: {tracking}）。\n"
                f"次にすること: 同封の案内に沿って{item}をご利用ください。お心当たりのない場合はお問い合わせください。")
    else:
        kind, title = "shipment.accepted", f"{item}を発送しました"
        body = (f"ご契約の{item}の発送手続きが完了しました。\nお問い合わせ番号（追跡番号）: {tracking}\n"
                "次にすること: お届けまでお待ちください。配送状況は下記のリンクからご確認いただけます。")
    notify_in(session, session.get(Customer, shipment.customer_id), actor=SYSTEM, kind=kind, title=title, body=body,
              link=permalink("shipment", shipment.id), channels=("mail", "line", "in_app"), topic="shipment",
              line_id=shipment.line_id)


def logistics_event(session: Session, event: dict[str, Any]) -> str:
    """shipment.<status> moves the shipment forward (never back); a duplicate or older event changes nothing.

    The event also proves the provider accepted the shipment (or its return): an operation still
    waiting for its answer is settled as succeeded first.
    """
    event_type = str(event.get("type") or "")
    status = event_type.removeprefix("shipment.")
    if not event_type.startswith("shipment.") or status not in TRACKING_STATUSES:
        return f"ignored: {event_type}"
    data = event.get("data") or {}
    shipment = _find_shipment(session, data)
    if shipment is None:
        return "no matching shipment"
    operation = "return" if status.startswith("return") else "ship"
    op_id = _live_operation(session, shipment.id, operation)
    if op_id is not None:
        settle_operation(op_id, "succeeded", detail=f"配送状況の通知（{event.get('id')}）で受付を確認",
                         evidence={"source": "webhook", "event_id": event.get("id"), "type": event_type,
                                   "sequence": event.get("sequence"), "data": data})
    _fill_provider_ids(shipment, data.get("shipment_id"), data.get("tracking_number"))
    session.add(shipment)
    moved = _move(session, shipment, status, f"配送状況の通知（{event.get('id')}、#{event.get('sequence')}）",
                  at=parse_utc(data.get("at")))
    if moved and status == "delivered":
        _tell_customer(session, shipment)
    return f"shipment #{shipment.id} {status}" if moved else f"shipment #{shipment.id} stays {shipment.status}"


def _find_shipment(session: Session, data: dict[str, Any]) -> Shipment | None:
    """The shipment an event is about: by the provider's shipment id, else by our order reference."""
    provider_id = data.get("shipment_id")
    if provider_id:
        found = session.exec(select(Shipment).where(Shipment.provider_shipment_id == str(provider_id))
                             .with_for_update()).first()
        if found is not None:
            return found
    own_id = _shipment_id_of(data.get("order_ref"))
    if own_id is None:
        return None
    found = session.exec(select(Shipment).where(Shipment.id == own_id).with_for_update()).first()
    if found is None or (found.provider_shipment_id and provider_id and found.provider_shipment_id != provider_id):
        return None
    return found


FORWARD_STEPS = ("requested", "accepted", "picked_up", "in_transit", "delivered")
RETURN_STEPS = ("return_requested", "return_in_transit", "returned")


def tracking_steps(session: Session, shipment: Shipment) -> list[dict[str, Any]]:
    """The shipment's tracking timeline, first step first: status, label, reached (bool), current (bool) and when
    it was recorded (Asia/Tokyo, "" for a step the provider skipped or that is still ahead). The times are those of
    the shipment's audit entries (shipment.request, shipment.<status>); delivery is the provider's own time."""
    times: dict[str, Any] = {}
    for action, at in session.exec(select(AuditEntry.action, AuditEntry.at).where(
            AuditEntry.entity_type == "shipment", AuditEntry.entity_id == shipment.id).order_by(AuditEntry.id)):
        times.setdefault("requested" if action == "shipment.request" else action.removeprefix("shipment."), at)
    if shipment.delivered_at is not None:
        times["delivered"] = shipment.delivered_at
    if shipment.status == "failed":
        steps: tuple[str, ...] = ("requested", "failed")
    else:
        steps = FORWARD_STEPS + (RETURN_STEPS if shipment.status in RETURN_STEPS else ())
    failed = shipment.status == "failed"
    return [{"status": step, "label": label("shipment_status", step), "current": step == shipment.status,
             "reached": step in ("requested", "failed") if failed else _rank(step) <= _rank(shipment.status),
             "at": tokyo_time(times.get(step))} for step in steps]


def customer_shipments(customer_id: int, *, actor: Actor, limit: int = SECTION_LIMIT) -> list[dict[str, Any]]:
    """A customer's latest shipments for the screen: item, status label, tracking number (all staff)."""
    with read_session() as session:
        get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "customer.view")
        rows = session.exec(select(Shipment).where(Shipment.customer_id == customer_id)
                            .order_by(col(Shipment.id).desc()).limit(limit)).all()
    return [{"id": s.id, "order_ref": order_ref(s.id), "item_type": s.item_type,
             "item_label": label("record", s.item_type), "status": s.status,
             "status_label": label("shipment_status", s.status),
             "tracking_number": s.tracking_number or "", "created_at": tokyo_time(s.created_at),
             "delivered_at": tokyo_time(s.delivered_at)}
            for s in rows]


LOGISTICS_PROVIDER = Provider("logistics", client=logistics.default_client, apply_outcome=apply_outcome)
