"""The outbox (外部連携処理): a provider call recorded with the ledger change that needs it, and its outcome.

A service that needs a provider adds an ExternalOperation row with `enqueue` in the same
transaction as its own change; a Celery task (services.tasks.outbox) later calls the provider with
the row's stable idempotency key and reports the outcome with `settle`. SUCCEEDED, FAILED (the
provider said no) or UNKNOWN (it may have happened); the domain that registered the provider
(services.registry) applies the outcome to its records, and every outcome other than success
opens a review item (保留 / 要確認) with the evidence; nothing is fixed silently.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from services.integrations.http import ProviderClient
from services.models import ExternalOperation, ReviewItem
from services.models.base import utcnow
from services.models.workflow import ExternalOperationEvent, ExternalOperationStatus
from services.platform.db import write_session
from services.platform.errors import NotFound
from services.platform.lifecycle import Lifecycle

X, XE = ExternalOperationStatus, ExternalOperationEvent
EXTERNAL_OPERATION = Lifecycle("external_operation", X, XE, {
    (X.PENDING, XE.DISPATCH): X.IN_FLIGHT,
    (X.IN_FLIGHT, XE.SUCCEED): X.SUCCEEDED,
    (X.IN_FLIGHT, XE.FAIL): X.FAILED,
    (X.IN_FLIGHT, XE.LOSE_TRACK): X.UNKNOWN,
    (X.IN_FLIGHT, XE.RETRY): X.PENDING,
    (X.UNKNOWN, XE.SUCCEED): X.SUCCEEDED,
    (X.UNKNOWN, XE.FAIL): X.FAILED,
    (X.UNKNOWN, XE.RETRY): X.PENDING,
})


OUTCOMES = ("succeeded", "failed", "unknown")


@dataclass(frozen=True)
class Provider:
    """An external system the outbox calls: its process-wide client and what a settled call does to the ledger.

    `bulk` marks a provider whose calls come by the thousand (mail and LINE notices after a billing run): they
    travel in a lane of their own, a bounded number at a time, so they never hold up a carrier, payment or
    bank call (services.tasks.outbox).
    """

    name: str
    client: Callable[[], ProviderClient]
    apply_outcome: Callable[[Session, ExternalOperation, str, str, dict[str, Any]], None]
    bulk: bool = False


PROVIDERS: dict[str, Provider] = {}


def register_provider(provider: Provider) -> None:
    """Let the outbox call `provider` (services.registry declares every provider once)."""
    PROVIDERS[provider.name] = provider


def bulk_providers() -> list[str]:
    """The registered providers whose calls travel in the bulk lane."""
    return sorted(name for name, provider in PROVIDERS.items() if provider.bulk)


def client_for(provider: str) -> ProviderClient:
    """The process-wide client of `provider` (KeyError for a provider nobody registered)."""
    return PROVIDERS[provider].client()


SUBJECT_COLUMNS = ("customer_id", "contract_id", "line_id", "invoice_id", "payment_id", "shipment_id",
                   "notification_id")


def enqueue(session: Session, *, provider: str, operation: str, subject: str, payload: dict[str, Any],
            **subjects: int | None) -> ExternalOperation:
    """Add one provider call to the outbox in the caller's transaction and return the row.

    The idempotency key (provider-operation-subject-random) is made once here and never changes,
    however often the call is retried. `subjects` are the ledger records it concerns
    (customer_id, line_id, invoice_id, payment_id, shipment_id, notification_id ...).
    """
    unknown = set(subjects) - set(SUBJECT_COLUMNS)
    if unknown:
        raise TypeError(f"unknown subject columns: {sorted(unknown)}")
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}")
    row = ExternalOperation(
        provider=provider, operation=operation, idempotency_key=f"{provider}-{operation}-{subject}-{uuid.uuid4().hex}",
        payload_json=json.dumps(payload, ensure_ascii=False), next_attempt_at=utcnow(), **subjects,
    )
    session.add(row)
    session.flush()
    return row


def settle(operation_id: int, outcome: str, *, detail: str, evidence: dict[str, Any] | None = None
           ) -> ExternalOperation:
    """Record the final outcome of an external operation and apply it to the ledger (idempotent).

    succeeded -> the provider's module applies the effect; failed -> it undoes the in-between
    state and a review item says why; unknown -> the record waits (要確認) with a review item
    holding the evidence. A settled (succeeded / failed) operation is never settled again.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    with write_session() as session:
        op = session.exec(select(ExternalOperation).where(ExternalOperation.id == operation_id)
                          .with_for_update()).first()
        if op is None:
            raise NotFound("外部連携処理が見つかりません。")
        if op.status in (ExternalOperationStatus.SUCCEEDED, ExternalOperationStatus.FAILED):
            return op
        if op.status == ExternalOperationStatus.PENDING:
            op.status = EXTERNAL_OPERATION.next_state(op.status, ExternalOperationEvent.DISPATCH).value
        if outcome == "unknown" and op.status == ExternalOperationStatus.UNKNOWN:
            return op
        event = {"succeeded": ExternalOperationEvent.SUCCEED, "failed": ExternalOperationEvent.FAIL,
                 "unknown": ExternalOperationEvent.LOSE_TRACK}[outcome]
        op.status = EXTERNAL_OPERATION.next_state(op.status, event).value
        op.last_error = None if outcome == "succeeded" else detail[:1000]
        op.updated_at = utcnow()
        if outcome != "unknown":
            op.completed_at = utcnow()
        session.add(op)
        PROVIDERS[op.provider].apply_outcome(session, op, outcome, detail, evidence or {})
        if outcome != "succeeded":
            session.add(ReviewItem(
                kind=f"{op.provider}.{op.operation}.{outcome}", customer_id=op.customer_id, line_id=op.line_id,
                external_operation_id=op.id, reason=detail[:500],
                evidence_json=json.dumps(evidence or {}, ensure_ascii=False, default=str),
            ))
    return op
