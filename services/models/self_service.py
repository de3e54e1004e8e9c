"""What the customer app adds to the ledger: notification preferences, data-use notices sent, MNP 転出
reservations, card checkouts on the gateway's hosted page, and the card on file registered there for later bills."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.models.base import utcnow, values_check

NOTICE_TOPICS = ("usage", "maintenance", "request", "shipment")  # billing, service and legal notices always go out
PREFERENCE_CHANNELS = ("mail", "line")  # in-app notices are always kept
USAGE_LEVELS = (80, 100)
MNP_STATUSES = ("requested", "issued", "used", "expired", "cancelled", "failed")
CHECKOUT_STATUSES = ("open", "paid", "expired", "cancelled")
CARD_SETUP_STATUSES = ("open", "completed", "expired", "cancelled")
CARD_STATUSES = ("active", "replaced", "removed")


class NotificationPreference(SQLModel, table=True):
    """A customer's choice for one topic on one channel (no row: the channel is on)."""

    __tablename__ = "notification_preference"
    __table_args__ = (
        UniqueConstraint("customer_id", "topic", "channel", name="uq_notification_preference"),
        values_check("topic", NOTICE_TOPICS, "ck_notification_preference_topic"),
        values_check("channel", PREFERENCE_CHANNELS, "ck_notification_preference_channel"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    topic: str = Field(max_length=16)
    channel: str = Field(max_length=8)
    enabled: bool = True
    updated_at: datetime = Field(default_factory=utcnow)


class UsageNotice(SQLModel, table=True):
    """A data-use notice sent for a line in a month (80% or 100% of the cap): each at most once."""

    __tablename__ = "usage_notice"
    __table_args__ = (
        UniqueConstraint("line_id", "period", "level", name="uq_usage_notice"),
        CheckConstraint("level IN (80, 100)", name="ck_usage_notice_level"),
    )

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    period: str = Field(max_length=7)  # YYYY-MM (Tokyo)
    level: int
    notification_id: int | None = Field(default=None, foreign_key="notification.id")
    created_at: datetime = Field(default_factory=utcnow)


class MnpReservation(SQLModel, table=True):
    """An MNP 転出 (number port-out) reservation: the 予約番号 the carrier issues and until when it is valid."""

    __tablename__ = "mnp_reservation"
    __table_args__ = (values_check("status", MNP_STATUSES, "ck_mnp_reservation_status"),)

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    status: str = Field(default="requested", max_length=16)
    reservation_number: str | None = Field(default=None, max_length=10)
    expires_on: date | None = None
    requested_by_customer_user_id: int | None = Field(default=None, foreign_key="customer_user.id")
    requested_by_staff_id: int | None = Field(default=None, foreign_key="staff_user.id")
    external_operation_id: int | None = Field(default=None, foreign_key="external_operation.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CardCheckout(SQLModel, table=True):
    """Paying one bill by card on the gateway's hosted page: the session the gateway opened and its outcome."""

    __tablename__ = "card_checkout"
    __table_args__ = (
        values_check("status", CHECKOUT_STATUSES, "ck_card_checkout_status"),
        CheckConstraint("amount > 0", name="ck_card_checkout_amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    amount: int
    status: str = Field(default="open", max_length=16)
    session_ref: str | None = Field(default=None, max_length=100, unique=True)  # the gateway's checkout id
    payment_url: str | None = Field(default=None, max_length=500)
    customer_user_id: int | None = Field(default=None, foreign_key="customer_user.id")
    payment_id: int | None = Field(default=None, foreign_key="payment.id")
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class CardSetup(SQLModel, table=True):
    """Registering a card on the gateway's hosted page (setup mode, no amount): the session and its outcome."""

    __tablename__ = "card_setup"
    __table_args__ = (values_check("status", CARD_SETUP_STATUSES, "ck_card_setup_status"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    status: str = Field(default="open", max_length=16)
    session_ref: str | None = Field(default=None, max_length=100, unique=True)  # the gateway's setup session id
    setup_url: str | None = Field(default=None, max_length=500)
    customer_user_id: int | None = Field(default=None, foreign_key="customer_user.id")
    card_id: int | None = Field(default=None, foreign_key="customer_card.id")
    created_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class CustomerCard(SQLModel, table=True):
    """A card on file (登録カード): the gateway's reference to a card every later bill is charged to. At most one
    active per customer (services.billing.card_on_file keeps it so under the customer's row lock)."""

    __tablename__ = "customer_card"
    __table_args__ = (
        values_check("status", CARD_STATUSES, "ck_customer_card_status"),
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="ck_customer_card_exp_month"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    gateway_ref: str = Field(max_length=64, unique=True)  # the gateway's payment method id (pm_...)
    brand: str = Field(max_length=16)
    last4: str = Field(max_length=4)
    exp_month: int
    exp_year: int
    status: str = Field(default="active", max_length=16)
    registered_by_customer_user_id: int | None = Field(default=None, foreign_key="customer_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    removed_at: datetime | None = None
