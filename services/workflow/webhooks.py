"""Inbound provider webhooks: verified, stored once under (provider, event id), processed by a task.

`accept` is what the HTTP route calls: a bad or missing signature is refused (401) and nothing is
stored; a new event is stored and answered 200 at once, and a Celery task processes it; a repeated
event id is answered 200 as a duplicate without a second row. `process_event` applies an event at
most once (processed_at), and settling an operation is idempotent, so duplicated or re-ordered
deliveries have exactly one effect.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from services.integrations import http
from services.models import ExternalOperation, InboundEvent
from services.models.base import utcnow
from services.platform import installation_secrets, safe_json
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.safe_json import InvalidJson, is_json_media_type, parse_json_object
from services.workflow import dispatch
from services.workflow.reconciliation import FINAL, settle_operation

log = logging.getLogger(__name__)

SIGNATURE_HEADER = http.SIGNATURE_HEADER  # the header the webhook route passes to accept()
_EVENT_ID = re.compile(r"[\x21-\x7e]{1,128}")  # provider event ids: printable ASCII, no spaces or control characters
_EVENT_TYPE = re.compile(r"[\x21-\x7e]{1,64}")


def accept(provider: str, body: bytes, signature_header: str | None,
           content_type: str | None = "application/json") -> tuple[int, dict[str, Any]]:
    """Verify, store once and queue one webhook delivery; returns (HTTP status, JSON body).

    Called by the public webhook route without a signed-in user: the HMAC-SHA256 signature under
    the provider's secret (services.platform.installation_secrets) is the only authentication. Unknown
    provider 404, too large 413, bad signature 401, not JSON 415, bad encoding / depth / syntax /
    shape 400 — never an error page. Writes one InboundEvent for a new event id.
    """
    if provider not in HANDLERS:
        return 404, {"error": "unknown_provider"}
    if len(body) > safe_json.MAX_BODY_BYTES:
        return 413, {"error": "too_large"}
    if not http.verify_signature(body, signature_header, installation_secrets.webhook_secret(provider)):
        return 401, {"error": "invalid_signature"}
    if not is_json_media_type(content_type):
        return 415, {"error": "unsupported_media_type", "message": "Content-Type must be application/json (UTF-8)"}
    try:
        event = parse_json_object(body)
    except InvalidJson as exc:
        return 400, {"error": exc.code, "message": exc.message}
    event_id, event_type = event.get("id"), event.get("type")
    if not (isinstance(event_id, str) and _EVENT_ID.fullmatch(event_id)
            and isinstance(event_type, str) and _EVENT_TYPE.fullmatch(event_type)):
        return 400, {"error": "invalid_event", "message": "id and type are required (printable ASCII)"}
    try:
        with write_session() as session:
            if _stored(session, provider, event_id) is not None:
                return 200, {"received": True, "duplicate": True}
            row = InboundEvent(provider=provider, event_id=event_id, event_type=event_type,
                               payload_json=body.decode("utf-8"))
            session.add(row)
            session.flush()
            row_id = row.id
    except IntegrityError:  # the same event stored by a concurrent delivery a moment ago
        return 200, {"received": True, "duplicate": True}
    _enqueue(row_id)
    return 200, {"received": True, "duplicate": False}


def _stored(session: Session, provider: str, event_id: str) -> int | None:
    return session.exec(select(InboundEvent.id).where(InboundEvent.provider == provider,
                                                      InboundEvent.event_id == event_id)).first()


def _enqueue(row_id: int) -> None:
    try:
        dispatch.send("telecom.process_inbound_event", row_id)
    except Exception:  # the event is stored: the reconcile task queues it again later
        log.exception("could not queue inbound event %s; it will be requeued", row_id)


def process_event(event_row_id: int) -> str:
    """Apply one stored event once (system task); returns and stores a short result text."""
    with write_session() as session:
        row = session.exec(select(InboundEvent).where(InboundEvent.id == event_row_id).with_for_update()).first()
        if row is None:
            return "missing"
        if row.processed_at is not None:
            return row.result or "processed"
        event = json.loads(row.payload_json)
        result = handler(row.provider)(session, event)
        row.processed_at = utcnow()
        row.result = result[:300]
        session.add(row)
    return result


def stalled_event_ids(limit: int = 200) -> list[int]:
    """Stored events still unprocessed a while after they arrived (their task message was lost)."""
    with read_session() as session:
        return list(session.exec(
            select(InboundEvent.id).where(InboundEvent.processed_at.is_(None),
                                          InboundEvent.received_at <= utcnow() - timedelta(
                                              seconds=settings.inbound_stalled_seconds))
            .order_by(InboundEvent.id).limit(limit)).all())


def settle_by_key(session: Session, provider: str, event: dict[str, Any], key: str | None, outcome: str,
                  detail: str) -> str:
    """Settle the operation sent to `provider` under idempotency key `key` from a webhook (idempotent)."""
    op = session.exec(select(ExternalOperation).where(ExternalOperation.provider == provider,
                                                      ExternalOperation.idempotency_key == key)).first()
    if op is None:
        return "no matching operation"
    if op.status in FINAL:
        return f"operation #{op.id} already {op.status}"
    settle_operation(op.id, outcome, detail=detail,
                     evidence={"source": "webhook", "event_id": event.get("id"), "type": event.get("type"),
                               "sequence": event.get("sequence"), "data": event.get("data")})
    return f"operation #{op.id} {outcome}"


# provider -> the function applying one of its events (session, event) -> result text (services.registry)
HANDLERS: dict[str, Callable[[Session, dict[str, Any]], str]] = {}


def register_handler(provider: str, apply_event: Callable[[Session, dict[str, Any]], str]) -> None:
    """Accept `provider`'s webhooks and apply each stored event with `apply_event` (registered once)."""
    HANDLERS[provider] = apply_event


def handler(provider: str) -> Callable[[Session, dict[str, Any]], str]:
    """The function that applies `provider`'s webhook events."""
    return HANDLERS[provider]
