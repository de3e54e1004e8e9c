"""The audit trail: one entry per successful change, written in the change's transaction.

`mutating_service` registers every business operation that changes the ledger, so that
tests can prove each of them writes exactly one audit entry.

The entries form a hash chain (tamper evidence): each entry stores the hash of the entry
before it (`prev_hash`) and the SHA-256 of its own content including that link
(`entry_hash`); the single `AuditChainHead` row remembers the last entry and its hash.
Appends lock the head row, so the chain order is the id order even with concurrent writers.
`services.security.audit_log.verify_chain` re-computes the chain with `entry_digest`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session, SQLModel

from services.models import AuditChainHead, AuditEntry, AuditSealedValue
from services.platform import crypto
from services.platform.permissions import Actor

F = TypeVar("F", bound=Callable[..., Any])

MUTATING_SERVICES: dict[str, Callable[..., Any]] = {}

CHAIN_HEAD_ID = 1
# The columns an entry's hash covers, besides its link to the previous entry (prev_hash).
DIGEST_FIELDS = (
    "id", "at", "actor_kind", "actor_id", "actor_label", "action", "entity_type", "entity_id",
    "customer_id", "contract_id", "line_id", "before_json", "after_json", "reason", "request_id",
)


def mutating_service(fn: F) -> F:
    """Register `fn` as a ledger-changing service; it must take a keyword-only `actor`."""
    param = inspect.signature(fn).parameters.get("actor")
    if param is None or param.kind is not inspect.Parameter.KEYWORD_ONLY:
        raise TypeError(f"{fn.__qualname__} must take a keyword-only 'actor'")
    MUTATING_SERVICES[f"{fn.__module__}.{fn.__name__}"] = fn
    return fn


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def snapshot(obj: SQLModel | None, exclude: set[str] | None = None) -> dict[str, Any] | None:
    """A JSON-ready copy of a record's columns (secrets excluded by the caller; file contents are left out —
    the records that hold a file keep its SHA-256 beside it)."""
    if obj is None:
        return None
    data = obj.model_dump(exclude=exclude or set())
    return {k: _plain(v) for k, v in data.items() if not isinstance(v, bytes)}


def _canonical_time(value: datetime | str) -> str:
    """The ISO 8601 form of a stored time in UTC, to the microsecond (naive values are UTC)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")


def entry_digest(entry_fields: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 (hex) of an audit entry's content chained to `prev_hash`.

    `entry_fields` holds at least the DIGEST_FIELDS (a row mapping or a dict; other keys are
    ignored). The content is serialised as canonical JSON (sorted keys, UTF-8, no spaces)
    with `at` as ISO 8601 in UTC, so the writer, the seed and the verifier agree byte for byte.
    """
    content = {name: entry_fields[name] for name in DIGEST_FIELDS}
    content["at"] = _canonical_time(content["at"])
    content["prev_hash"] = prev_hash
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_chain_head(conn: Connection) -> tuple[int | None, str]:
    """(last_entry_id, last_hash) of the chain head, locked until the transaction ends.

    PostgreSQL: SELECT ... FOR UPDATE makes concurrent appenders queue on this one row.
    SQLite: a write transaction already holds the database write lock (BEGIN IMMEDIATE).
    The row is created empty on first use (INSERT ... ON CONFLICT DO NOTHING, race-free).
    """
    query = (select(AuditChainHead.last_entry_id, AuditChainHead.last_hash)
             .where(AuditChainHead.id == CHAIN_HEAD_ID).with_for_update())
    row = conn.execute(query).first()
    if row is None:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(AuditChainHead).values(id=CHAIN_HEAD_ID, last_entry_id=None, last_hash="")
                     .on_conflict_do_nothing(index_elements=["id"]))
        row = conn.execute(query).one()
    return row[0], row[1]


def _move_chain_head(conn: Connection, entry_id: int, entry_hash: str) -> None:
    conn.execute(update(AuditChainHead).where(AuditChainHead.id == CHAIN_HEAD_ID)
                 .values(last_entry_id=entry_id, last_hash=entry_hash))


def chain_bulk_entries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Seal audit entry rows about to be bulk-inserted in `conn`'s transaction (the demo seed).

    `rows` are dicts with explicit ids, all above the chain's last entry; in id order each
    gets `prev_hash` and `entry_hash`, and the chain head moves to the last one. The caller
    inserts the rows in the same transaction.
    """
    if not rows:
        return
    last_id, prev_hash = _lock_chain_head(conn)
    for row in sorted(rows, key=lambda r: r["id"]):
        if last_id is not None and row["id"] <= last_id:
            raise ValueError(f"audit entry id {row['id']} is not after the chain's last entry {last_id}")
        row["prev_hash"] = prev_hash
        row["entry_hash"] = prev_hash = entry_digest(row, prev_hash)
        last_id = row["id"]
    _move_chain_head(conn, last_id, prev_hash)


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity: SQLModel,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
    exclude: set[str] | None = None,
) -> AuditEntry:
    """Write one audit entry for `action` on `entity` inside the caller's transaction.

    The entry is appended to the hash chain: the chain head is locked, the entry links to
    the head's last hash, its own hash is computed and the head moves to it. The head stays
    locked until the transaction ends, so lock the records you change before calling this
    (on PostgreSQL, a row lock taken after it could deadlock with another appender).
    """
    session.flush()
    entity_type = entity.__tablename__
    after = after if after is not None else snapshot(entity, exclude)
    line_id = entity.id if entity_type == "line" else getattr(entity, "line_id", None)
    contract_id = entity.id if entity_type == "contract" else getattr(entity, "contract_id", None)
    customer_id = entity.id if entity_type == "customer" else getattr(entity, "customer_id", None)
    entry = AuditEntry(
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=entity.id,
        customer_id=customer_id,
        contract_id=contract_id,
        line_id=line_id,
        before_json=json.dumps(before, ensure_ascii=False) if before is not None else None,
        after_json=json.dumps(after, ensure_ascii=False) if after is not None else None,
        reason=reason or None,
        request_id=actor.request_id,
    )
    conn = session.connection()
    _, entry.prev_hash = _lock_chain_head(conn)  # locked before the INSERT: ids follow chain order
    session.add(entry)
    session.flush()
    entry.entry_hash = entry_digest(entry.model_dump(), entry.prev_hash)
    session.flush()
    _move_chain_head(conn, entry.id, entry.entry_hash)
    return entry


def seal_before_values(session: Session, entry: AuditEntry, values: Mapping[str, str | None]) -> None:
    """Keep the before-values of sensitive fields `entry` changed, encrypted beside it (not in the chain).

    The chained snapshot only says "(変更あり)"; an auditor can reveal these with a reason
    (services.security.audit_log.reveal_sealed_value). None values (the field was empty) are not kept.
    """
    for field, value in values.items():
        if value is not None:
            session.add(AuditSealedValue(audit_entry_id=entry.id, field=field, value_enc=crypto.encrypt(value)))
