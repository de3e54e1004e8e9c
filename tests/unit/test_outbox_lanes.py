"""Bulk calls (mail, LINE) travel in a lane of their own: prompt calls are relayed first, at most BULK_WINDOW
bulk calls wait for a worker at once, and they go to the bulk queue, which every worker also consumes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from services.models import ExternalOperation
from services.models.base import utcnow
from services.platform.db import write_session
from services.tasks import outbox
from services.tasks.celery_app import BULK_QUEUE, DEFAULT_QUEUE, app
from services.workflow.outbox import bulk_providers, enqueue


def _enqueue(provider: str, count: int) -> list[int]:
    operation = {"messaging": "push", "carrier": "suspend"}[provider]
    with write_session() as session:
        return [enqueue(session, provider=provider, operation=operation, subject=f"{provider}{n}",
                        payload={"to": f"U{n}", "text": "お知らせ"}).id for n in range(count)]


def _done(ids: list[int]) -> None:
    with write_session() as session:
        for row in session.exec(select(ExternalOperation).where(ExternalOperation.id.in_(ids))):
            row.status = "succeeded"
            session.add(row)


def test_notices_are_the_bulk_lane_and_everything_else_is_prompt():
    assert bulk_providers() == ["messaging"]


def test_a_carrier_call_is_leased_before_a_flood_of_notices_queued_earlier(engine):
    notices = _enqueue("messaging", 300)
    carrier = _enqueue("carrier", 1)

    prompt, bulk = outbox.dispatch_due(limit=200, bulk_window=50)

    assert prompt == carrier
    assert bulk == notices[:50]  # the oldest notices, no more than the window


def test_no_more_notices_are_relayed_while_the_window_is_full_and_as_many_as_finished_after(engine):
    notices = _enqueue("messaging", 120)
    _prompt, first = outbox.dispatch_due(limit=200, bulk_window=50)

    assert outbox.dispatch_due(limit=200, bulk_window=50) == ([], [])  # 50 wait for a worker: none more
    _done(first[:20])
    assert outbox.dispatch_due(limit=200, bulk_window=50) == ([], notices[50:70])


def test_a_notice_whose_lease_ran_out_is_relayed_again(engine):
    notices = _enqueue("messaging", 3)
    outbox.dispatch_due(limit=200, bulk_window=50)
    with write_session() as session:  # nobody took them: the lease runs out
        for row in session.exec(select(ExternalOperation).where(ExternalOperation.id.in_(notices))):
            row.next_attempt_at = utcnow() - timedelta(seconds=1)
            session.add(row)

    assert outbox.dispatch_due(limit=200, bulk_window=50) == ([], notices)


def test_the_relay_sends_prompt_calls_to_the_default_queue_and_notices_to_the_bulk_queue(engine, monkeypatch):
    notices, carrier = _enqueue("messaging", 2), _enqueue("carrier", 1)
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(outbox.execute_operation, "delay", lambda op_id: sent.append((op_id, DEFAULT_QUEUE)))
    monkeypatch.setattr(outbox.execute_operation, "apply_async",
                        lambda args, queue: sent.append((args[0], queue)))

    assert outbox.relay_outbox() == 3
    assert sent == [(carrier[0], DEFAULT_QUEUE), (notices[0], BULK_QUEUE), (notices[1], BULK_QUEUE)]


@pytest.mark.parametrize("queue", [DEFAULT_QUEUE, BULK_QUEUE])
def test_a_worker_started_without_naming_queues_consumes_both(queue):
    assert queue in {q.name for q in app.conf.task_queues}
    assert app.conf.task_default_queue == DEFAULT_QUEUE
