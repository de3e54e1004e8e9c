"""Inbound webhook tasks: process a stored event; queue again events whose message was lost."""

from __future__ import annotations

from services.tasks.celery_app import app
from services.workflow import webhooks


@app.task(name="telecom.process_inbound_event", ignore_result=True, acks_late=True)
def process_inbound_event(event_row_id: int) -> str:
    """Apply one stored webhook event (at most once; see services.workflow.webhooks.process_event)."""
    return webhooks.process_event(event_row_id)


def requeue_stalled_events() -> int:
    """Queue processing again for stored events that stayed unprocessed; returns how many."""
    ids = webhooks.stalled_event_ids()
    for row_id in ids:
        process_inbound_event.delay(row_id)
    return len(ids)
