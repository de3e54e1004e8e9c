"""日次突合 against the real carrier sandbox: lines activated through the outbox, one changed behind the ledger's back.

The ledger is a migrated SQLite file; the carrier is `python -m sandbox --only carrier` in a subprocess; the
test plays the outbox worker (services.tasks.outbox.run_operation) and the morning reconciliation round.
"""

from __future__ import annotations

import json

import httpx
import pytest
from sqlmodel import select

from sandbox.testing import SandboxProcess
from services.integrations.carrier import CarrierClient
from services.ledger import carrier_report, lines, usage_caps
from services.models import ExternalOperation, Line, ReviewItem, UsageRecord
from services.platform.clock import today_in_tokyo
from services.platform.db import make_engine, read_session, use_engine
from services.platform.permissions import Role
from services.tasks.outbox import run_operation
from services.workflow import daily_reconciliation
from tests.conftest import make_actor
from tests.integration.test_migrations import _upgrade
from tests.unit.builders import World

pytestmark = pytest.mark.integration


@pytest.fixture()
def carrier_sandbox(tmp_path, monkeypatch):
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _upgrade(db_url)
    engine = make_engine(db_url)
    use_engine(engine)
    sandbox = SandboxProcess(only=["carrier"]).start()
    client = CarrierClient(sandbox.url("carrier"), read_timeout=5)
    monkeypatch.setattr(carrier_report, "default_client", lambda: client)
    try:
        yield sandbox, client
    finally:
        sandbox.stop()
        use_engine(None)
        engine.dispose()


def _activated_through_the_outbox(world: World, client: CarrierClient) -> Line:
    line = world.line()
    lines.change_line_status(line.id, actor=world.admin, event="activate", reason="開通")
    with read_session() as session:
        op_id = session.exec(select(ExternalOperation.id).where(ExternalOperation.line_id == line.id)).one()
    assert run_operation(op_id, client=client) == "succeeded"
    with read_session() as session:
        line = session.get(Line, line.id)
    assert line.status == "active"
    return line


def test_line_suspended_at_the_carrier_behind_the_ledger_is_the_one_difference_found(carrier_sandbox):
    sandbox, client = carrier_sandbox
    world = World(make_actor(Role.ADMIN, None, "admin@test"))
    kept, changed = (_activated_through_the_outbox(world, client) for _ in range(2))
    today = today_in_tokyo()
    kept_digits, changed_digits = kept.msisdn.lstrip("+"), changed.msisdn.lstrip("+")
    httpx.post(f"{sandbox.url('carrier')}/_sandbox/usage", timeout=5,
               json={"msisdn": kept_digits, "date": today.isoformat(), "usage_mb": 1234.56}).raise_for_status()
    httpx.post(f"{sandbox.url('carrier')}/lines/{changed_digits}/suspend", json={"reason": "carrier side"},
               headers={"Idempotency-Key": "planted-suspension"}, timeout=5).raise_for_status()

    run = daily_reconciliation.run("carrier_lines", today)

    assert (run.status, run.rows_checked, run.differences) == ("completed", 2, 1)
    with read_session() as session:
        items = list(session.exec(select(ReviewItem).where(ReviewItem.kind.startswith("carrier.report."))))
        usage = {u.line_id: u.used_mb for u in session.exec(select(UsageRecord).where(UsageRecord.day == today))}
        assert session.get(Line, changed.id).status == "active"  # queued for a person, not fixed
    [item] = items
    assert (item.kind, item.line_id, item.subject_key) == (
        "carrier.report.state_mismatch", changed.id, f"{today.isoformat()}:{changed_digits}")
    evidence = json.loads(item.evidence_json)
    assert evidence["ledger"]["status"] == "active" and evidence["carrier_report"]["state"] == "suspended"
    assert usage[kept.id] == 1234 and set(usage) == {kept.id, changed.id}

    again = daily_reconciliation.run("carrier_lines", today, force=True)
    assert again.status == "completed" and again.differences == 0


def test_line_over_its_cap_is_throttled_at_the_carrier_and_the_report_agrees(carrier_sandbox):
    sandbox, client = carrier_sandbox
    world = World(make_actor(Role.ADMIN, None, "admin@test"))
    line = _activated_through_the_outbox(world, client)  # the plan's cap is 3,000 MB
    today, digits = today_in_tokyo(), line.msisdn.lstrip("+")
    httpx.post(f"{sandbox.url('carrier')}/_sandbox/usage", timeout=5,
               json={"msisdn": digits, "date": today.isoformat(), "usage_mb": 3500}).raise_for_status()
    daily_reconciliation.run("carrier_lines", today)  # brings the day's usage into the ledger

    assert usage_caps.enforce(today) == {"throttle_on": 1, "throttle_off": 0}
    with read_session() as session:
        op_id = session.exec(select(ExternalOperation.id).where(
            ExternalOperation.line_id == line.id, ExternalOperation.operation == "throttle_on")).one()
    assert run_operation(op_id, client=client) == "succeeded"

    assert client.line(digits)["throttled"] is True
    with read_session() as session:
        assert session.get(Line, line.id).throttled
    again = daily_reconciliation.run("carrier_lines", today, force=True)
    assert again.status == "completed" and again.differences == 0
