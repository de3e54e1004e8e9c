"""A flood of notices never holds up a carrier call: a real Celery worker and beat (SQLite broker), the carrier
and messaging sandboxes, the messaging one slowed down.

Hundreds of LINE notices are waiting (as after a billing run's issue) when a line's suspension is approved:
the carrier is asked within seconds, not after the notices, and no notice is relayed or sent twice.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func
from sqlmodel import select

from services.ledger import lines
from services.models import ExternalAttempt, ExternalOperation, Line
from services.platform.db import read_session, write_session
from services.platform.permissions import Role
from services.workflow import outbox
from tests.conftest import make_actor
from tests.stack import outbox_stack
from tests.unit.builders import World

pytestmark = pytest.mark.integration

NOTICES = 120
MESSAGING_LATENCY_MS = 400  # 120 notices: well over a minute of work for one worker


def _wait_for(condition, what: str, timeout: float, log) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n--- worker log ---\n{log.read_text(errors='replace')[-4000:]}")
        time.sleep(0.1)


def _count(*where) -> int:
    with read_session() as s:
        return s.exec(select(func.count()).select_from(ExternalOperation).where(*where)).one()


def _line_status(line_id: int) -> str:
    with read_session() as s:
        return s.get(Line, line_id).status


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with outbox_stack(tmp_path_factory.mktemp("lanes"), providers=["carrier", "messaging"], name="lanes-test",
                      env={"TELECOM_RELAY_INTERVAL_SECONDS": "0.5", "TELECOM_RECONCILE_INTERVAL_SECONDS": "3600"}
                      ) as (sandbox, _endpoint, worker):
        yield sandbox, worker


def test_a_suspension_approved_during_a_flood_of_notices_reaches_the_carrier_within_seconds(stack):
    sandbox, worker = stack
    world = World(make_actor(Role.ADMIN, None, "admin@test"))
    line = world.line()
    lines.change_line_status(line.id, actor=world.admin, event="activate", reason="開通")
    _wait_for(lambda: _line_status(line.id) == "active", "the line to be active", 60, worker.log)

    sandbox.faults("messaging", latency_ms=MESSAGING_LATENCY_MS)
    with write_session() as session:
        for n in range(NOTICES):
            outbox.enqueue(session, provider="messaging", operation="push", subject=f"flood{n}",
                           payload={"to": f"U{n:032x}", "text": f"ご請求のお知らせ {n}"})
    push = ExternalOperation.operation == "push"
    _wait_for(lambda: _count(push, ExternalOperation.status == "succeeded") >= 10, "the flood to be under way",
              30, worker.log)

    asked = time.monotonic()
    world.approve("line.suspend", {"line_id": line.id})
    suspend = (ExternalOperation.line_id == line.id, ExternalOperation.operation == "suspend")
    _wait_for(lambda: _count(*suspend, ExternalOperation.status == "succeeded") == 1, "the carrier's suspension",
              20, worker.log)
    took = time.monotonic() - asked
    waiting = _count(push, ExternalOperation.status != "succeeded")

    assert took < 8, f"the carrier was asked {took:.1f} s after the approval"
    assert waiting > NOTICES // 3, "the carrier call did not wait for the notices: most of them were still to go"
    _wait_for(lambda: _line_status(line.id) == "suspended", "the line to be suspended", 30, worker.log)

    _wait_for(lambda: _count(push, ExternalOperation.status == "succeeded") == NOTICES, "every notice", 120, worker.log)
    with read_session() as s:
        sent_twice = s.exec(select(ExternalAttempt.external_operation_id).group_by(ExternalAttempt.external_operation_id)
                            .having(func.count() > 1)).all()
    assert sent_twice == []
    flooded = {f"U{n:032x}" for n in range(NOTICES)}
    assert sorted(e["to"] for e in sandbox.effects("messaging") if e.get("to") in flooded) == sorted(flooded)
