"""Workflow records: approval requests, external operations (outbox), shipments, notifications, imports,
and the network incidents the monitoring provider reports."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.models.base import status_check, utcnow, values_check


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    EXECUTED = "executed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"


class ApprovalEvent(StrEnum):
    APPROVE = "approve"
    EXECUTE = "execute"
    FAIL = "fail"
    REJECT = "reject"
    EXPIRE = "expire"


class ExternalOperationStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ExternalOperationEvent(StrEnum):
    DISPATCH = "dispatch"
    SUCCEED = "succeed"
    FAIL = "fail"
    LOSE_TRACK = "lose_track"
    RETRY = "retry"


class ImportBatchStatus(StrEnum):
    UPLOADED = "uploaded"
    VALIDATED = "validated"
    APPLIED = "applied"
    ROLLED_BACK = "rolled_back"
    DISCARDED = "discarded"


class ImportBatchEvent(StrEnum):
    VALIDATE = "validate"
    APPLY = "apply"
    ROLL_BACK = "roll_back"
    DISCARD = "discard"


NOTIFICATION_CHANNELS = ("mail", "line", "in_app")
ATTEMPT_OUTCOMES = ("succeeded", "failed", "unknown")
REVIEW_STATUSES = ("open", "resolved")
# A parcel's way (配送状況), in order; tracking events only ever move it forward. failed: the carrier refused it.
SHIPMENT_STATUSES = ("requested", "accepted", "picked_up", "in_transit", "delivered", "return_requested",
                     "return_in_transit", "returned", "failed")
SHIPMENT_ITEM_TYPES = ("sim", "device")
RECONCILIATION_SOURCES = ("carrier_lines", "payment_settlement", "bank_statement")
RECONCILIATION_RUN_STATUSES = ("queued", "running", "completed", "failed")
INCIDENT_KINDS = ("outage", "maintenance")


class ApprovalRequest(SQLModel, table=True):
    """A maker-checker request: an operation, its parameters and their hash, and the decision."""

    __tablename__ = "approval_request"
    __table_args__ = (
        status_check("status", ApprovalStatus, "ck_approval_request_status"),
        Index("ix_approval_request_target", "operation", "target_key", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    operation: str = Field(max_length=64)
    target_key: str = Field(max_length=64)
    params_json: str
    params_hash: str = Field(max_length=64)
    status: str = Field(default=ApprovalStatus.PENDING.value, max_length=16, index=True)
    requested_by: int | None = Field(default=None, foreign_key="staff_user.id")  # None: the system or a customer asked
    # a customer's own request from the customer app (申請 by a 法人管理者 or a 利用者 with the right to ask)
    requested_by_customer_user_id: int | None = Field(default=None, foreign_key="customer_user.id")
    # a rule that asked and approved it as the system (督促ポリシー …), shown as the requester and approver
    policy_rule: str | None = Field(default=None, max_length=100)
    urgent: bool = False  # first in the queue (a customer's lost or stolen phone)
    reason: str
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    contract_id: int | None = Field(default=None, foreign_key="contract.id")
    line_id: int | None = Field(default=None, foreign_key="line.id")
    summary: str = Field(default="", max_length=500)
    preview_json: str | None = None
    decided_by: int | None = Field(default=None, foreign_key="staff_user.id")
    decision_reason: str | None = None
    result_message: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    decided_at: datetime | None = None
    executed_at: datetime | None = None


class ExternalOperation(SQLModel, table=True):
    """One call to a provider (outbox row), with a stable idempotency key and its outcome."""

    __tablename__ = "external_operation"
    __table_args__ = (
        status_check("status", ExternalOperationStatus, "ck_external_operation_status"),
        Index("ix_external_operation_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    operation: str = Field(max_length=64)
    idempotency_key: str = Field(max_length=128, unique=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    contract_id: int | None = Field(default=None, foreign_key="contract.id")
    line_id: int | None = Field(default=None, foreign_key="line.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    payment_id: int | None = Field(default=None, foreign_key="payment.id", index=True)
    shipment_id: int | None = Field(default=None, foreign_key="shipment.id", index=True)
    notification_id: int | None = Field(default=None, foreign_key="notification.id", index=True)
    payload_json: str
    status: str = Field(default=ExternalOperationStatus.PENDING.value, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    provider_ref: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    completed_at: datetime | None = None


class ExternalAttempt(SQLModel, table=True):
    """One attempt of an external operation: what was sent, what came back, how long it took."""

    __tablename__ = "external_attempt"
    __table_args__ = (values_check("outcome", ATTEMPT_OUTCOMES, "ck_external_attempt_outcome"),)

    id: int | None = Field(default=None, primary_key=True)
    external_operation_id: int = Field(foreign_key="external_operation.id", index=True)
    attempt_no: int
    started_at: datetime = Field(default_factory=utcnow)
    duration_ms: int = 0
    request_json: str
    response_status: int | None = None
    response_body: str | None = None
    outcome: str = Field(max_length=16)
    error: str | None = None


class InboundEvent(SQLModel, table=True):
    """A webhook received from a provider, stored once under (provider, event id)."""

    __tablename__ = "inbound_event"
    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_inbound_event_provider_event"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=32)
    event_id: str = Field(max_length=128)
    event_type: str = Field(max_length=64)
    payload_json: str
    received_at: datetime = Field(default_factory=utcnow)
    processed_at: datetime | None = None
    result: str | None = Field(default=None, max_length=300)


class ReviewItem(SQLModel, table=True):
    """A disagreement or uncertain outcome (保留 / 要確認) waiting for a person, with its evidence."""

    __tablename__ = "review_item"
    __table_args__ = (values_check("status", REVIEW_STATUSES, "ck_review_item_status"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=64)
    status: str = Field(default="open", max_length=16, index=True)
    subject_key: str | None = Field(default=None, max_length=128, index=True)  # what a report diff is about
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="line.id", index=True)
    external_operation_id: int | None = Field(default=None, foreign_key="external_operation.id")
    reason: str = Field(max_length=500)
    evidence_json: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    resolved_by: int | None = Field(default=None, foreign_key="staff_user.id")
    resolved_at: datetime | None = None
    resolution_reason: str | None = None


class Shipment(SQLModel, table=True):
    """A SIM or device sent to a customer (出荷) and, maybe, its return (返品); tracked by the logistics provider."""

    __tablename__ = "shipment"
    __table_args__ = (
        values_check("status", SHIPMENT_STATUSES, "ck_shipment_status"),
        values_check("item_type", SHIPMENT_ITEM_TYPES, "ck_shipment_item_type"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="line.id", index=True)
    sim_card_id: int | None = Field(default=None, foreign_key="sim_card.id")
    device_id: int | None = Field(default=None, foreign_key="device.id")
    item_type: str = Field(max_length=8)
    status: str = Field(default="requested", max_length=20)
    provider_shipment_id: str | None = Field(default=None, max_length=64, unique=True)
    tracking_number: str | None = Field(default=None, max_length=32)
    return_reason: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class ReconciliationRun(SQLModel, table=True):
    """One daily comparison of a provider's report with the ledger (日次突合): when, what, how many differences."""

    __tablename__ = "reconciliation_run"
    __table_args__ = (
        UniqueConstraint("source", "business_date", name="uq_reconciliation_run_source_date"),
        values_check("source", RECONCILIATION_SOURCES, "ck_reconciliation_run_source"),
        values_check("status", RECONCILIATION_RUN_STATUSES, "ck_reconciliation_run_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=32)
    business_date: date
    status: str = Field(default="running", max_length=16)
    rows_checked: int = 0
    differences: int = 0
    error: str | None = Field(default=None, max_length=500)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class Notification(SQLModel, table=True):
    """A message to a customer with a next action and a link."""

    __tablename__ = "notification"
    __table_args__ = (values_check("channel", NOTIFICATION_CHANNELS, "ck_notification_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    customer_user_id: int | None = Field(default=None, foreign_key="customer_user.id")
    line_id: int | None = Field(default=None, foreign_key="line.id", index=True)  # the line it is about, if one
    channel: str = Field(max_length=8)
    kind: str = Field(max_length=32)
    title: str = Field(max_length=200)
    body: str
    link: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    read_at: datetime | None = None


class ImportBatch(SQLModel, table=True):
    """A CSV upload (一括登録) through preview, apply and rollback."""

    __tablename__ = "import_batch"
    __table_args__ = (status_check("status", ImportBatchStatus, "ck_import_batch_status"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    filename: str = Field(max_length=255)
    status: str = Field(default=ImportBatchStatus.UPLOADED.value, max_length=16)
    created_by: int = Field(foreign_key="staff_user.id")
    row_count: int = 0
    summary_json: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class ServiceIncident(SQLModel, table=True):
    """A network outage (障害) or maintenance (メンテナンス) as the monitoring provider last reported it."""

    __tablename__ = "service_incident"
    __table_args__ = (values_check("kind", INCIDENT_KINDS, "ck_service_incident_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_ref: str = Field(max_length=64, unique=True)  # the monitoring provider's event id
    kind: str = Field(max_length=16)
    status: str = Field(max_length=16, index=True)
    title: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    services: str = Field(default="", max_length=500)  # comma separated, as announced
    areas: str = Field(default="", max_length=500)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    sequence: int = 0  # the provider's sequence of the last event applied: older ones change nothing
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
