"""Carrier operations end to end: the ledger (migrated SQLite), a real Celery worker and beat (SQLite broker),
the carrier sandbox with fault injection, completion webhooks, and reconciliation.

Everything runs in separate processes as in production except the test itself, which plays staff
(through the services) and the app's webhook endpoint (services.workflow.webhooks.accept behind a small server).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from sandbox.testing import SandboxProcess
from services.integrations.carrier import CarrierClient
from services.integrations.http import sign
from services.ledger import lines
from services.models import AuditEntry, ExternalAttempt, ExternalOperation, InboundEvent, Line, ReviewItem
from services.platform import installation_secrets
from services.platform.db import read_session
from services.platform.errors import InvalidTransition
from services.platform.permissions import Role
from services.tasks.celery_app import prune_delivered_messages
from services.workflow import reconciliation, webhooks
from tests.conftest import make_actor
from tests.stack import CeleryProcess, WebhookEndpoint, outbox_stack
from tests.unit.builders import World

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 4
WORKER_ENV = {
    "TELECOM_CARRIER_READ_TIMEOUT_SECONDS": "1",
    "TELECOM_OUTBOX_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "TELECOM_OUTBOX_BACKOFF_BASE_SECONDS": "0.2",
    "TELECOM_OUTBOX_BACKOFF_CAP_SECONDS": "1",
    "TELECOM_RELAY_INTERVAL_SECONDS": "0.5",
    "TELECOM_RECONCILE_INTERVAL_SECONDS": "3600",  # the tests run reconciliation themselves
}


class Stack:
    """The running system and what a test asks of it."""

    def __init__(self, sandbox: SandboxProcess, endpoint: WebhookEndpoint, worker: CeleryProcess):
        self.sandbox, self.endpoint, self.worker = sandbox, endpoint, worker
        self.world = World(make_actor(Role.ADMIN, None, "admin@test"))

    def wait_for(self, condition: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                tail = self.worker.log.read_text(errors="replace")[-4000:]
                pytest.fail(f"timed out waiting for {what}\n--- worker log ---\n{tail}")
            time.sleep(0.1)

    def carrier_client(self) -> CarrierClient:
        return CarrierClient(self.sandbox.url("carrier"), read_timeout=2)

    def active_line(self) -> Line:
        line = self.world.line()
        lines.change_line_status(line.id, actor=self.world.admin, event="activate", reason="開通")
        self.wait_for(lambda: status(line.id) == "active", f"line {line.id} to be active")
        return line

    def suspend(self, line: Line) -> None:
        self.world.approve("line.suspend", {"line_id": line.id})

    def effects(self, line: Line, operation: str) -> list[dict]:
        return self.sandbox.effects("carrier", operation=operation, msisdn=line.msisdn.lstrip("+"))


def status(line_id: int) -> str:
    with read_session() as s:
        return s.get(Line, line_id).status


def operation(line_id: int, name: str) -> ExternalOperation | None:
    with read_session() as s:
        return s.exec(select(ExternalOperation).where(ExternalOperation.line_id == line_id,
                                                      ExternalOperation.operation == name)
                      .order_by(ExternalOperation.id.desc())).first()


def attempts(op_id: int) -> list[ExternalAttempt]:
    with read_session() as s:
        return list(s.exec(select(ExternalAttempt).where(ExternalAttempt.external_operation_id == op_id)
                           .order_by(ExternalAttempt.attempt_no)))


def review_items(line_id: int, state: str | None = "open") -> list[ReviewItem]:
    with read_session() as s:
        query = select(ReviewItem).where(ReviewItem.line_id == line_id)
        if state:
            query = query.where(ReviewItem.status == state)
        return list(s.exec(query.order_by(ReviewItem.id)))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with outbox_stack(tmp_path_factory.mktemp("outbox"), providers=["carrier"], name="outbox-test",
                      env=WORKER_ENV) as (sandbox, endpoint, worker):
        yield Stack(sandbox, endpoint, worker)


@pytest.fixture()
def system(stack):
    """No faults; completion webhooks go to the app's endpoint 50 ms after each accepted operation."""
    stack.sandbox.faults("carrier", error_rate=0, timeout_after_commit_rate=0, duplicate_webhooks=False,
                         reorder_webhooks=False)
    stack.sandbox.configure("carrier", webhook_url=f"{stack.endpoint.base}/carrier", completion_delay_ms=50)
    return stack


def test_activation_calls_the_carrier_once_and_the_line_becomes_active(system):
    line = system.world.line()
    lines.change_line_status(line.id, actor=system.world.admin, event="activate", reason="開通")
    assert status(line.id) == "activating"

    system.wait_for(lambda: status(line.id) == "active", "the line to be active")
    op = operation(line.id, "activate")
    assert op.status == "succeeded" and op.attempts == 1
    assert [(a.response_status, a.outcome) for a in attempts(op.id)] == [(202, "succeeded")]
    assert [e["idempotency_key"] for e in system.effects(line, "activate")] == [op.idempotency_key]


def test_approved_suspension_waits_in_停止処理中_and_the_carrier_suspends_once(system):
    line = system.active_line()
    system.suspend(line)
    assert status(line.id) == "suspending"

    system.wait_for(lambda: status(line.id) == "suspended", "the line to be suspended")
    assert len(system.effects(line, "suspend")) == 1
    assert review_items(line.id) == []


def test_timeouts_after_the_carrier_committed_are_retried_with_the_same_key_and_suspend_once(system):
    line = system.active_line()
    system.sandbox.configure("carrier", webhook_url=None)  # only the retries can tell us
    system.sandbox.faults("carrier", timeout_after_commit_rate=1.0)
    system.suspend(line)

    op_id = system.wait_for(lambda: operation(line.id, "suspend"), "the suspension in the outbox").id
    system.wait_for(lambda: len(attempts(op_id)) >= 2, "two unanswered attempts")
    system.sandbox.faults("carrier", timeout_after_commit_rate=0)
    system.wait_for(lambda: status(line.id) == "suspended", "the line to be suspended")

    op = operation(line.id, "suspend")
    tries = attempts(op_id)
    assert [t.outcome for t in tries[:2]] == ["unknown", "unknown"] and tries[-1].outcome == "succeeded"
    assert {json.loads(t.request_json)["idempotency_key"] for t in tries} == {op.idempotency_key}
    assert [e["idempotency_key"] for e in system.effects(line, "suspend")] == [op.idempotency_key]


def test_a_suspension_the_carrier_never_got_stays_要確認_until_reconciliation_resends_it(system):
    line = system.active_line()
    system.sandbox.faults("carrier", error_rate=1.0)
    system.suspend(line)

    system.wait_for(lambda: status(line.id) == "needs_review", "the line to be 要確認", timeout=30)
    op = operation(line.id, "suspend")
    assert op.status == "unknown" and op.attempts == MAX_ATTEMPTS
    assert [i.kind for i in review_items(line.id)] == ["carrier.suspend.unknown"]
    with pytest.raises(InvalidTransition):
        system.world.approve("line.resume", {"line_id": line.id})

    system.sandbox.faults("carrier", error_rate=0)
    counts = reconciliation.reconcile_unknown(clients={"carrier": system.carrier_client()})
    assert counts["retried"] == 1
    system.wait_for(lambda: status(line.id) == "suspended", "the resent suspension to be confirmed")
    assert [e["idempotency_key"] for e in system.effects(line, "suspend")] == [op.idempotency_key]
    assert review_items(line.id) == [] and len(review_items(line.id, "resolved")) == 1


def test_reconciliation_settles_an_applied_suspension_and_queues_a_disagreement_with_the_carrier(system):
    line = system.active_line()
    system.sandbox.configure("carrier", webhook_url=None)
    system.sandbox.faults("carrier", timeout_after_commit_rate=1.0)
    system.suspend(line)
    system.wait_for(lambda: status(line.id) == "needs_review", "the line to be 要確認", timeout=30)
    system.sandbox.faults("carrier", timeout_after_commit_rate=0)
    # meanwhile someone resumed the line at the carrier, outside the ledger
    httpx.post(f"{system.sandbox.url('carrier')}/lines/{line.msisdn.lstrip('+')}/resume",
               headers={"Idempotency-Key": f"outside-{line.id}"}, json={}, timeout=5).raise_for_status()

    counts = reconciliation.reconcile_unknown(clients={"carrier": system.carrier_client()})

    assert counts["succeeded"] == 1 and counts["mismatches"] == 1
    assert status(line.id) == "suspended" and operation(line.id, "suspend").status == "succeeded"
    (item,) = review_items(line.id)
    evidence = json.loads(item.evidence_json)
    assert item.kind == "carrier.line_mismatch"
    assert (evidence["ledger_state"], evidence["carrier_state"]) == ("suspended", "active")
    assert len(system.effects(line, "suspend")) == 1


def test_duplicated_and_reordered_completion_webhooks_are_stored_once_and_settle_once(system):
    system.sandbox.faults("carrier", duplicate_webhooks=True, reorder_webhooks=True, reorder_window_ms=100)
    line = system.active_line()
    system.suspend(line)
    system.wait_for(lambda: status(line.id) == "suspended", "the line to be suspended")
    def sent_ids() -> set[str]:
        events = httpx.get(f"{system.sandbox.url('carrier')}/_sandbox/webhooks", timeout=5).json()["events"]
        return {e["id"] for e in events if e["subject"] == line.msisdn.lstrip("+")}

    # the worker's own call can settle the line before the carrier has even sent its completion event
    def both_sent() -> set[str] | None:
        found = sent_ids()
        return found if len(found) == 2 else None

    ids = system.wait_for(both_sent, "the carrier to send both completion events", timeout=60)

    def stored() -> list[InboundEvent]:
        with read_session() as s:
            return list(s.exec(select(InboundEvent).where(InboundEvent.event_id.in_(ids))))

    system.wait_for(lambda: len(stored()) == 2 and all(e.processed_at for e in stored()),
                    "both completion events to be processed", timeout=60)
    with read_session() as s:
        confirmations = s.exec(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.line_id == line.id, AuditEntry.action == "line.carrier_confirmed")).one()
    assert len(ids) == 2 and confirmations == 2  # one for the activation, one for the suspension


def test_webhook_route_refuses_a_bad_signature_and_stores_a_duplicate_once(stack):
    from starlette.testclient import TestClient

    from telecom_app.api import build_api

    body = json.dumps({"id": "evt_route_1", "type": "line.operation.completed",
                       "data": {"idempotency_key": "nobody"}}).encode()
    with TestClient(build_api()) as client:
        bad = client.post("/api/webhooks/carrier", content=body,
                          headers={webhooks.SIGNATURE_HEADER: sign(body, "not-the-secret")})
        unsigned = client.post("/api/webhooks/carrier", content=body)
        assert bad.status_code == unsigned.status_code == 401
        assert _stored("evt_route_1") == []
        good = [client.post("/api/webhooks/carrier", content=body,
                            headers={webhooks.SIGNATURE_HEADER: sign(body, installation_secrets.webhook_secret("carrier")),
                                     "content-type": "application/json"})
                for _ in range(2)]

    assert [(r.status_code, r.json()["duplicate"]) for r in good] == [(200, False), (200, True)]
    assert len(_stored("evt_route_1")) == 1
    stack.wait_for(lambda: _processed("evt_route_1"), "the worker to process the stored event")
    assert _processed("evt_route_1").result == "no matching operation"


def _stored(event_id: str) -> list[InboundEvent]:
    with read_session() as s:
        return list(s.exec(select(InboundEvent).where(InboundEvent.event_id == event_id)))


def _processed(event_id: str) -> InboundEvent | None:
    with read_session() as s:
        row = s.exec(select(InboundEvent).where(InboundEvent.event_id == event_id)).first()
    return row if row is not None and row.processed_at is not None else None


def test_the_sqlite_broker_forgets_messages_it_delivered(system):
    system.active_line()  # at least the relay and execute messages have been delivered
    assert prune_delivered_messages() == 0  # nothing an hour old yet
    assert prune_delivered_messages(older_than=timedelta(0)) > 0
