"""The outbox policy without servers: how answers are classified, how retries back off, and what one
attempt, a reconciliation round and a webhook do to the ledger (carrier faked with httpx.MockTransport)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from services.integrations.carrier import CarrierClient
from services.integrations.http import classify, sign
from services.ledger import lines
from services.models import (
    ExternalAttempt,
    ExternalOperation,
    InboundEvent,
    Line,
    ReviewItem,
)
from services.models.base import utcnow
from services.platform import installation_secrets
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.tasks import outbox
from services.workflow import reconciliation, webhooks
from tests.unit.builders import World


class FakeCarrier:
    """A scripted carrier: answers POSTs from `script` (status or exception), then 202; remembers keys."""

    def __init__(self, *script):
        self.script = list(script)
        self.posts: list[httpx.Request] = []
        self.applied: set[str] = set()
        self.lookups_fail = False
        self.state = "active"

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts.append(request)
            step = self.script.pop(0) if self.script else 202
            if isinstance(step, Exception):
                raise step
            if step == 202:
                self.applied.add(request.headers["Idempotency-Key"])
                return httpx.Response(202, json={"operation_id": "op_1", "status": "accepted"})
            return httpx.Response(step, json={"error": "x", "message": f"carrier says {step}"})
        if request.url.path == "/operations":
            if self.lookups_fail:
                return httpx.Response(503, json={"error": "provider_down"})
            key = request.url.params["idempotency_key"]
            return httpx.Response(200, json={"operations": [{"idempotency_key": key}] if key in self.applied else []})
        if self.state is None:
            return httpx.Response(404, json={"error": "line_not_found"})
        return httpx.Response(200, json={"state": self.state})

    def client(self) -> CarrierClient:
        return CarrierClient("http://carrier.test", transport=httpx.MockTransport(self.handler))




@pytest.fixture()
def three_attempts(monkeypatch):
    monkeypatch.setattr(outbox, "settings", replace(settings, outbox_max_attempts=3))


def _activating_line(world: World, admin) -> Line:
    line = world.line()
    return lines.change_line_status(line.id, actor=admin, event="activate", reason="開通")


def _op(line_id: int) -> ExternalOperation:
    with read_session() as s:
        return s.exec(select(ExternalOperation).where(ExternalOperation.line_id == line_id)
                      .order_by(ExternalOperation.id.desc())).first()


def _line(line_id: int) -> Line:
    with read_session() as s:
        return s.get(Line, line_id)


def _items(line_id: int, status: str = "open") -> list[ReviewItem]:
    with read_session() as s:
        return list(s.exec(select(ReviewItem).where(ReviewItem.line_id == line_id, ReviewItem.status == status)))


@pytest.mark.parametrize(("status", "outcome"), [
    (200, "succeeded"), (202, "succeeded"), (400, "failed"), (404, "failed"), (409, "failed"), (422, "failed"),
    (408, "unknown"), (429, "unknown"), (500, "unknown"), (502, "unknown"), (503, "unknown"), (504, "unknown"),
])
def test_a_provider_no_is_failed_and_a_server_error_is_unknown(status, outcome):
    assert classify(status) == outcome


@pytest.mark.parametrize("error", [httpx.ReadTimeout("slow"), httpx.ConnectError("refused"),
                                   httpx.RemoteProtocolError("reset")])
def test_a_timeout_or_broken_connection_is_unknown(error):
    carrier = FakeCarrier(error)
    result = carrier.client().call({"provider": "carrier", "operation": "suspend", "idempotency_key": "k1",
                                    "payload": {"msisdn": "819010000001"}})
    assert result.outcome == "unknown" and result.status_code is None and type(error).__name__ in result.error


def test_the_call_carries_the_key_and_the_payload_without_the_number():
    carrier = FakeCarrier(409)
    result = carrier.client().call({"provider": "carrier", "operation": "activate", "idempotency_key": "k-act",
                                    "payload": {"msisdn": "+819010000001", "plan": "P1", "iccid": "89811"}})
    sent = carrier.posts[0]
    assert sent.url.path == "/lines/819010000001/activate"
    assert sent.headers["Idempotency-Key"] == "k-act"
    assert json.loads(sent.content) == {"plan": "P1", "iccid": "89811"}
    assert result.outcome == "failed" and result.message() == "carrier says 409"


def test_backoff_doubles_from_the_base_up_to_the_cap_with_jitter():
    rng = random.Random(7)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 32), (7, 60), (12, 60)]:
        waits = [outbox.backoff_seconds(attempt, base=1, cap=60, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len({round(w, 6) for w in waits}) > 100  # jittered, not a fixed schedule


def test_an_accepted_activation_activates_the_line_and_records_the_attempt(world, admin):
    line = _activating_line(world, admin)
    carrier = FakeCarrier()

    assert outbox.run_operation(_op(line.id).id, client=carrier.client()) == "succeeded"
    assert outbox.run_operation(_op(line.id).id, client=carrier.client()) == "skipped"

    op = _op(line.id)
    assert _line(line.id).status == "active" and op.status == "succeeded" and op.provider_ref == "op_1"
    with read_session() as s:
        attempts = s.exec(select(ExternalAttempt).where(ExternalAttempt.external_operation_id == op.id)).all()
    assert [(a.attempt_no, a.response_status, a.outcome) for a in attempts] == [(1, 202, "succeeded")]
    assert len(carrier.posts) == 1


def test_unknown_outcomes_are_retried_with_the_same_key(world, admin, three_attempts):
    line = _activating_line(world, admin)
    carrier = FakeCarrier(503, httpx.ReadTimeout("stalled"))
    op_id = _op(line.id).id

    assert [outbox.run_operation(op_id, client=carrier.client()) for _ in range(3)] == ["retry", "retry", "succeeded"]
    assert {p.headers["Idempotency-Key"] for p in carrier.posts} == {_op(line.id).idempotency_key}
    assert _line(line.id).status == "active" and _op(line.id).attempts == 3


def test_a_refusal_puts_the_line_back_with_the_carriers_reason(world, admin):
    line = _activating_line(world, admin)
    assert outbox.run_operation(_op(line.id).id, client=FakeCarrier(409).client()) == "failed"
    assert _line(line.id).status == "applying"
    assert [i.kind for i in _items(line.id)] == ["carrier.activate.failed"]
    assert "carrier says 409" in _items(line.id)[0].reason


def _exhausted(world, admin, carrier: FakeCarrier) -> Line:
    line = _activating_line(world, admin)
    op_id = _op(line.id).id
    assert [outbox.run_operation(op_id, client=carrier.client()) for _ in range(3)] == ["retry", "retry", "unknown"]
    assert _line(line.id).status == "needs_review"
    assert [i.kind for i in _items(line.id)] == ["carrier.activate.unknown"]
    return line


def test_reconciliation_confirms_a_line_the_carrier_did_activate(world, admin, three_attempts):
    carrier = FakeCarrier(httpx.ReadTimeout("a"), httpx.ReadTimeout("b"), httpx.ReadTimeout("c"))
    line = _exhausted(world, admin, carrier)
    carrier.applied.add(_op(line.id).idempotency_key)  # the first call had reached the carrier

    carrier.lookups_fail = True
    assert reconciliation.reconcile_unknown(clients={"carrier": carrier.client()})["unreachable"] == 1
    assert _line(line.id).status == "needs_review" and _op(line.id).next_attempt_at > _op(line.id).updated_at

    carrier.lookups_fail = False
    assert reconciliation.reconcile_unknown(clients={"carrier": carrier.client()})["checked"] == 0  # not due yet
    counts = reconciliation.reconcile_unknown(clients={"carrier": carrier.client()}, now=_op(line.id).next_attempt_at)
    assert counts["succeeded"] == 1 and counts["mismatches"] == 0
    assert _line(line.id).status == "active" and _op(line.id).status == "succeeded"
    assert _items(line.id) == [] and len(_items(line.id, "resolved")) == 1
    assert len(carrier.posts) == 3


def test_reconciliation_resends_what_the_carrier_never_got_and_queues_a_disagreement(world, admin, three_attempts):
    line = _exhausted(world, admin, FakeCarrier(500, 500, 500))
    carrier = FakeCarrier()
    carrier.state = "suspended"  # what the carrier reports for the line afterwards

    assert reconciliation.reconcile_unknown(clients={"carrier": carrier.client()})["retried"] == 1
    assert _op(line.id).status == "pending" and _line(line.id).status == "needs_review"
    assert outbox.run_operation(_op(line.id).id, client=carrier.client()) == "succeeded"
    assert _line(line.id).status == "active"
    assert len(carrier.posts) == 1

    result = reconciliation.resync_operation(_op(line.id).id, actor=admin, client=carrier.client())
    assert result["mismatch"]["ledger_state"] == "active" and result["mismatch"]["carrier_state"] == "suspended"
    assert [i.kind for i in _items(line.id)] == ["carrier.line_mismatch"]
    reconciliation.resync_operation(_op(line.id).id, actor=admin, client=carrier.client())
    assert len(_items(line.id)) == 1  # one open item per disagreement


def _signed(event: dict) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    return body, sign(body, installation_secrets.webhook_secret("carrier"))


def test_a_webhook_with_a_bad_signature_is_refused_and_not_stored(engine, monkeypatch):
    monkeypatch.setattr(webhooks, "_enqueue", lambda row_id: None)
    body, good = _signed({"id": "evt_1", "type": "line.operation.completed", "data": {}})

    assert webhooks.accept("carrier", body, "sha256=" + "0" * 64)[0] == 401
    assert webhooks.accept("carrier", body, None)[0] == 401
    assert webhooks.accept("carrier", body + b" ", good)[0] == 401
    with read_session() as s:
        assert s.exec(select(InboundEvent)).all() == []


def test_a_repeated_webhook_is_stored_once_and_settles_once(world, admin, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(webhooks, "_enqueue", queued.append)
    line = _activating_line(world, admin)
    op = _op(line.id)
    body, signature = _signed({"id": "evt_2", "type": "line.operation.completed",
                               "data": {"idempotency_key": op.idempotency_key, "result": "succeeded"}})

    assert webhooks.accept("carrier", body, signature) == (200, {"received": True, "duplicate": False})
    assert webhooks.accept("carrier", body, signature) == (200, {"received": True, "duplicate": True})
    assert len(queued) == 1
    assert webhooks.process_event(queued[0]) == f"operation #{op.id} succeeded"
    assert webhooks.process_event(queued[0]) == f"operation #{op.id} succeeded"
    assert _line(line.id).status == "active" and _op(line.id).status == "succeeded"
    assert outbox.run_operation(op.id, client=FakeCarrier().client()) == "skipped"


def test_a_call_whose_worker_died_is_looked_up_after_a_while_and_resent(world, admin):
    line = _activating_line(world, admin)
    op_id = _op(line.id).id
    died = utcnow() - timedelta(seconds=settings.outbox_stale_in_flight_seconds + 1)
    with write_session() as s:  # dispatched, then the worker was killed mid-call
        op = s.get(ExternalOperation, op_id)
        op.status, op.attempts, op.updated_at, op.next_attempt_at = "in_flight", 1, died, died
    carrier = FakeCarrier()

    assert reconciliation.reconcile_unknown(clients={"carrier": carrier.client()})["retried"] == 1
    assert _op(line.id).status == "pending"
    assert outbox.run_operation(op_id, client=carrier.client()) == "succeeded"
    assert _line(line.id).status == "active" and _op(line.id).attempts == 2


def test_a_stored_webhook_left_unprocessed_is_found_for_requeueing(engine, monkeypatch):
    monkeypatch.setattr(webhooks, "_enqueue", lambda row_id: None)
    for event_id in ("evt_old", "evt_new", "evt_done"):
        webhooks.accept("carrier", *_signed({"id": event_id, "type": "line.operation.completed", "data": {}}))
    with write_session() as s:
        for row in s.exec(select(InboundEvent)):
            if row.event_id != "evt_new":
                row.received_at = utcnow() - timedelta(minutes=5)
            if row.event_id == "evt_done":
                row.processed_at = utcnow()
    with read_session() as s:
        old = s.exec(select(InboundEvent.id).where(InboundEvent.event_id == "evt_old")).one()
    assert webhooks.stalled_event_ids() == [old]


def test_what_a_person_already_decided_is_not_resent_and_the_disagreement_is_queued(world, admin, three_attempts):
    line = _exhausted(world, admin, FakeCarrier(500, 500, 500))
    (doubt,) = _items(line.id)
    world.approve("line.resolve", {"line_id": line.id, "review_item_id": doubt.id, "line_state": "active"},
                  reason="お客様に開通を確認済み")
    carrier = FakeCarrier()
    carrier.state = None  # the carrier has no such line

    counts = reconciliation.reconcile_unknown(clients={"carrier": carrier.client()})

    assert counts["retried"] == 0 and counts["mismatches"] == 1 and carrier.posts == []
    assert _op(line.id).status == "failed" and _line(line.id).status == "active"
    assert sorted(i.kind for i in _items(line.id)) == ["carrier.activate.failed", "carrier.line_mismatch"]
