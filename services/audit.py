"""The audit trail: one entry per successful change, written in the change's transaction.

`mutating_service` registers every business operation that changes the ledger, so that
tests can prove each of them writes exactly one audit entry.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel

from services.models import AuditEntry
from services.permissions import Actor

F = TypeVar("F", bound=Callable[..., Any])

MUTATING_SERVICES: dict[str, Callable[..., Any]] = {}


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
    """A JSON-ready copy of a record's columns (secrets excluded by the caller)."""
    if obj is None:
        return None
    data = obj.model_dump(exclude=exclude or set())
    return {k: _plain(v) for k, v in data.items()}


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
    """Write one audit entry for `action` on `entity` inside the caller's transaction."""
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
    session.add(entry)
    session.flush()
    return entry
