"""On PostgreSQL too, two approvers at the same moment give exactly one execution."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func
from sqlmodel import select

from services.ledger import lines
from services.models import AuditEntry, Line
from services.platform.db import make_engine, read_session, use_engine
from services.platform.errors import Conflict
from services.platform.permissions import Role
from services.workflow import approvals
from tests.conftest import make_actor
from tests.integration.test_migrations import _upgrade
from tests.unit.builders import World

pytestmark = pytest.mark.integration


@pytest.fixture()
def pg_ledger(postgres_url):
    _upgrade(postgres_url)
    engine = make_engine(postgres_url)
    use_engine(engine)
    yield engine
    use_engine(None)
    engine.dispose()


def test_simultaneous_approvals_on_postgresql_execute_once(pg_ledger):
    world = World(make_actor(Role.ADMIN, None, "admin@test"))
    line = world.line()
    lines.change_line_status(line.id, actor=world.admin, event="activate", reason="開通")
    world.carrier_done(line.id)
    request = approvals.request_approval("line.suspend", {"line_id": line.id}, actor=world.actor("support"),
                                         reason="紛失")
    approvers = [world.actor("support"), world.actor("admin"), world.actor("admin")]
    barrier = threading.Barrier(len(approvers))
    outcomes: list[str] = []

    def approve(approver):
        barrier.wait()
        try:
            approvals.approve_request(request.id, actor=approver, expected_hash=request.params_hash)
            outcomes.append("executed")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=approve, args=(a,)) for a in approvers]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert outcomes.count("executed") == 1 and outcomes.count("refused") == 2
    with read_session() as s:
        assert s.get(Line, line.id).status == "suspending"  # 停止処理中 until the carrier confirms
        assert s.exec(select(func.count()).select_from(AuditEntry)
                      .where(AuditEntry.action == "line.suspend")).one() == 1
