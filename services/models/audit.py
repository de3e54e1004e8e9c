"""The audit log (操作履歴): who changed what, when and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from services.models.base import utcnow, values_check

ACTOR_KINDS = ("staff", "customer", "system")


class AuditEntry(SQLModel, table=True):
    """One change, written in the same transaction as the change itself."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        values_check("actor_kind", ACTOR_KINDS, "ck_audit_entry_actor_kind"),
        Index("ix_audit_entry_entity", "entity_type", "entity_id"),
        Index("ix_audit_entry_line", "line_id"),
        Index("ix_audit_entry_customer", "customer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_kind: str = Field(max_length=8)
    actor_id: int | None = None
    actor_label: str = Field(max_length=200)
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=32)
    entity_id: int | None = None
    customer_id: int | None = None
    contract_id: int | None = None
    line_id: int | None = None
    before_json: str | None = None
    after_json: str | None = None
    reason: str | None = None
    request_id: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(default="", max_length=64)
    entry_hash: str = Field(default="", max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The single row that serialises appends to the hash chain (locked FOR UPDATE per append)."""

    __tablename__ = "audit_chain_head"

    id: int | None = Field(default=None, primary_key=True)
    last_entry_id: int | None = None
    last_hash: str = Field(default="", max_length=64)


class AuditSealedValue(SQLModel, table=True):
    """The encrypted before-value of a sensitive field an audit entry changed (only an auditor reveals it).

    Kept beside the hash chain, not in it: the ciphertext changes when the encryption key rotates.
    """

    __tablename__ = "audit_sealed_value"

    id: int | None = Field(default=None, primary_key=True)
    audit_entry_id: int = Field(foreign_key="audit_entry.id", index=True)
    field: str = Field(max_length=64)
    value_enc: str = Field(max_length=2048)  # encrypted at rest (services.platform.crypto)
