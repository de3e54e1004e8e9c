"""SIM and device stock: registration with checksum validation, and lifecycle events."""

from __future__ import annotations

from sqlmodel import select

from services.models import Device, SimCard
from services.models.base import utcnow
from services.models.inventory import DeviceEvent, DeviceStatus, SimEvent, SimStatus
from services.models.line import LineStatus
from services.platform.audit import mutating_service, record
from services.platform.db import write_session
from services.platform.errors import NotFound, ValidationFailed
from services.platform.identifiers import digits_only, is_valid_iccid, is_valid_imei, is_valid_imsi
from services.platform.lifecycle import Lifecycle, transition
from services.platform.permissions import Actor, require

S, SE = SimStatus, SimEvent
SIM = Lifecycle("sim", S, SE, {
    (S.IN_STOCK, SE.ASSIGN): S.ASSIGNED,
    (S.ASSIGNED, SE.UNASSIGN): S.IN_STOCK,
    (S.ASSIGNED, SE.ACTIVATE): S.ACTIVE,
    (S.ASSIGNED, SE.RETURN): S.RETURNED,
    (S.ACTIVE, SE.RETURN): S.RETURNED,
    (S.RETURNED, SE.RESTOCK): S.IN_STOCK,
    (S.IN_STOCK, SE.REPORT_FAULTY): S.FAULTY,
    (S.ASSIGNED, SE.REPORT_FAULTY): S.FAULTY,
    (S.ACTIVE, SE.REPORT_FAULTY): S.FAULTY,
    (S.RETURNED, SE.REPORT_FAULTY): S.FAULTY,
    (S.IN_STOCK, SE.REPORT_LOST): S.LOST,
    (S.ASSIGNED, SE.REPORT_LOST): S.LOST,
    (S.ACTIVE, SE.REPORT_LOST): S.LOST,
})


D, DE = DeviceStatus, DeviceEvent
DEVICE = Lifecycle("device", D, DE, {
    (D.IN_STOCK, DE.ASSIGN): D.ASSIGNED,
    (D.ASSIGNED, DE.UNASSIGN): D.IN_STOCK,
    (D.ASSIGNED, DE.SHIP): D.SHIPPED,
    (D.SHIPPED, DE.RETURN): D.RETURNED,
    (D.RETURNED, DE.RESTOCK): D.IN_STOCK,
    (D.IN_STOCK, DE.REPORT_FAULTY): D.FAULTY,
    (D.ASSIGNED, DE.REPORT_FAULTY): D.FAULTY,
    (D.SHIPPED, DE.REPORT_FAULTY): D.FAULTY,
    (D.RETURNED, DE.REPORT_FAULTY): D.FAULTY,
})


def validate_sim_numbers(session, iccid: str, imsi: str) -> dict[str, str]:
    """Field errors for a new SIM's ICCID and IMSI: format, checksum, duplicates."""
    errors: dict[str, str] = {}
    if not is_valid_iccid(iccid):
        errors["iccid"] = "ICCIDが正しくありません（89で始まる19〜20桁、チェックディジット不一致）。"
    elif session.exec(select(SimCard.id).where(SimCard.iccid == iccid)).first() is not None:
        errors["iccid"] = "このICCIDは既に登録されています。"
    if not is_valid_imsi(imsi):
        errors["imsi"] = "IMSIが正しくありません（440または441で始まる15桁）。"
    elif session.exec(select(SimCard.id).where(SimCard.imsi == imsi)).first() is not None:
        errors["imsi"] = "このIMSIは既に登録されています。"
    return errors


def validate_device_numbers(session, imei: str, model: str) -> dict[str, str]:
    """Field errors for a new device's IMEI (Luhn, duplicate) and model name."""
    errors: dict[str, str] = {}
    if not is_valid_imei(imei):
        errors["imei"] = "IMEIが正しくありません（15桁、チェックディジット不一致）。"
    elif session.exec(select(Device.id).where(Device.imei == imei)).first() is not None:
        errors["imei"] = "このIMEIは既に登録されています。"
    if not model.strip():
        errors["model"] = "機種名を入力してください。"
    return errors


@mutating_service
def register_sim(*, actor: Actor, iccid: str, imsi: str, reason: str | None = None) -> SimCard:
    """Add a SIM card to stock (sales, support, admin) after ICCID/IMSI checks."""
    require(actor, "inventory.manage")
    iccid, imsi = digits_only(iccid), digits_only(imsi)
    with write_session() as session:
        errors = validate_sim_numbers(session, iccid, imsi)
        if errors:
            raise ValidationFailed(errors)
        sim = SimCard(iccid=iccid, imsi=imsi)
        session.add(sim)
        record(session, actor, "sim.register", sim, reason=reason)
    return sim


@mutating_service
def register_device(*, actor: Actor, imei: str, model: str, reason: str | None = None) -> Device:
    """Add a device to stock (sales, support, admin) after the IMEI check."""
    require(actor, "inventory.manage")
    imei = digits_only(imei)
    with write_session() as session:
        errors = validate_device_numbers(session, imei, model)
        if errors:
            raise ValidationFailed(errors)
        device = Device(imei=imei, model=model.strip())
        session.add(device)
        record(session, actor, "device.register", device, reason=reason)
    return device


@mutating_service
def change_sim_status(sim_id: int, *, actor: Actor, event: SimEvent | str, reason: str) -> SimCard:
    """Apply a lifecycle event (faulty, lost, return, restock...) to a SIM card."""
    return _change_stock_status(SimCard, SIM, sim_id, "SIMが見つかりません。", actor=actor, event=event, reason=reason)


@mutating_service
def change_device_status(device_id: int, *, actor: Actor, event: DeviceEvent | str, reason: str) -> Device:
    """Apply a lifecycle event (ship, return, faulty, restock...) to a device."""
    return _change_stock_status(Device, DEVICE, device_id, "端末が見つかりません。", actor=actor, event=event,
                                reason=reason)


def _change_stock_status(model: type[SimCard] | type[Device], lifecycle: Lifecycle, row_id: int, not_found: str, *,
                         actor: Actor, event: str, reason: str) -> SimCard | Device:
    """Lock one SIM or device, check the permission, move it by `event` and audit it (one transaction)."""
    with write_session() as session:
        row = session.exec(select(model).where(model.id == row_id).with_for_update()).first()
        if row is None:
            raise NotFound(not_found)
        require(actor, "inventory.manage", row)
        transition(session, row, lifecycle, event, actor=actor, reason=reason)
    return row


def follow_sim(sim: SimCard, line_status: str) -> None:
    """Keep a SIM's state in step with its line (active once the line is, returned on termination)."""
    if line_status == LineStatus.ACTIVE and sim.status == SimStatus.ASSIGNED:
        sim.status = SIM.next_state(sim.status, SimEvent.ACTIVATE).value
        sim.updated_at = utcnow()
    elif line_status == LineStatus.TERMINATED and sim.status in (SimStatus.ASSIGNED, SimStatus.ACTIVE):
        sim.status = SIM.next_state(sim.status, SimEvent.RETURN).value
        sim.updated_at = utcnow()
