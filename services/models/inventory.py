"""Physical stock: SIM cards (ICCID / IMSI) and devices (IMEI)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint
from sqlmodel import Field, SQLModel

from services.models.base import status_check, utcnow


class SimStatus(StrEnum):
    IN_STOCK = "in_stock"
    ASSIGNED = "assigned"
    ACTIVE = "active"
    RETURNED = "returned"
    FAULTY = "faulty"
    LOST = "lost"


class SimEvent(StrEnum):
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    ACTIVATE = "activate"
    RETURN = "return"
    RESTOCK = "restock"
    REPORT_FAULTY = "report_faulty"
    REPORT_LOST = "report_lost"


class DeviceStatus(StrEnum):
    IN_STOCK = "in_stock"
    ASSIGNED = "assigned"
    SHIPPED = "shipped"
    RETURNED = "returned"
    FAULTY = "faulty"


class DeviceEvent(StrEnum):
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    SHIP = "ship"
    RETURN = "return"
    RESTOCK = "restock"
    REPORT_FAULTY = "report_faulty"


class SimCard(SQLModel, table=True):
    """A SIM card; ICCID has 19-20 digits with a Luhn check digit, IMSI 15 digits."""

    __tablename__ = "sim_card"
    __table_args__ = (
        status_check("status", SimStatus, "ck_sim_card_status"),
        CheckConstraint("length(iccid) BETWEEN 19 AND 20", name="ck_sim_card_iccid_length"),
        CheckConstraint("length(imsi) = 15", name="ck_sim_card_imsi_length"),
    )

    id: int | None = Field(default=None, primary_key=True)
    iccid: str = Field(max_length=20, unique=True)
    imsi: str = Field(max_length=15, unique=True)
    status: str = Field(default=SimStatus.IN_STOCK.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Device(SQLModel, table=True):
    """A handset or router identified by its IMEI (15 digits, Luhn)."""

    __tablename__ = "device"
    __table_args__ = (
        status_check("status", DeviceStatus, "ck_device_status"),
        CheckConstraint("length(imei) = 15", name="ck_device_imei_length"),
    )

    id: int | None = Field(default=None, primary_key=True)
    imei: str = Field(max_length=15, unique=True)
    model: str = Field(max_length=100)
    status: str = Field(default=DeviceStatus.IN_STOCK.value, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
