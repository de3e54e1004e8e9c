"""The scale-out running mode: PostgreSQL ledger, Redis broker, two Celery workers and beat, the carrier sandbox.

Same code as the embedded mode, other URLs. Thirty lines are activated and then suspended through approvals
while the carrier times out after committing 30% of the calls; every line ends 停止 or 要確認 and the carrier's
own log shows at most one suspension per line (exactly one for each line the ledger calls suspended).
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from sqlmodel import col, select

from sandbox.testing import SandboxProcess
from services.ledger import lines
from services.models import ExternalAttempt, Line
from services.platform.config import PROJECT_ROOT
from services.platform.db import make_engine, read_session, use_engine
from services.platform.permissions import Role
from tests.conftest import make_actor
from tests.integration.test_migrations import _upgrade
from tests.integration.test_outbox_carrier import WORKER_ENV
from tests.stack import CeleryProcess
from tests.unit.builders import World

pytestmark = pytest.mark.integration

LINES = 30
SETTLE_TIMEOUT_SECONDS = 90


def _statuses(ids: list[int]) -> dict[int, str]:
    with read_session() as s:
        return dict(s.exec(select(Line.id, Line.status).where(col(Line.id).in_(ids))).all())


def _wait_until(ids: list[int], done: set[str], what: str, deadline: float, logs: list[CeleryProcess]) -> dict:
    while True:
        statuses = _statuses(ids)
        if all(state in done for state in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.log.name} ---\n{p.log.read_text(errors='replace')[-2000:]}" for p in logs)
            pytest.fail(f"timed out waiting for {what}: {Counter(statuses.values())}\n{tails}")
        time.sleep(0.2)


def test_two_workers_on_postgres_and_redis_suspend_each_line_at_most_once(postgres_url, redis_url, tmp_path):
    _upgrade(postgres_url)
    engine = make_engine(postgres_url)
    use_engine(engine)
    sandbox = SandboxProcess(only=["carrier"]).start()  # no webhooks: the calls' answers settle the lines
    env = {**os.environ, **WORKER_ENV, "PYTHONPATH": str(PROJECT_ROOT), "TELECOM_DATABASE_URL": postgres_url,
           "TELECOM_BROKER_URL": redis_url, "TELECOM_CARRIER_URL": sandbox.url("carrier")}
    processes: list[CeleryProcess] = []
    try:
        for name in ("w1", "w2"):
            processes.append(CeleryProcess(["worker", "--pool=threads", "--concurrency=4", "--loglevel=INFO",
                                            "--without-mingle", "-n", f"{name}@%h"],
                                           env, tmp_path / f"{name}.log", "ready."))
        processes.append(CeleryProcess(["beat", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")],
                                       env, tmp_path / "beat.log", "beat: Starting"))
        for process in processes:
            process.wait_ready()

        world = World(make_actor(Role.ADMIN, None, "admin@test"))
        created = [world.line() for _ in range(LINES)]
        ids = [line.id for line in created]
        msisdns = {line.id: line.msisdn.lstrip("+") for line in created}
        started = time.monotonic()
        deadline = started + SETTLE_TIMEOUT_SECONDS
        for line_id in ids:
            lines.change_line_status(line_id, actor=world.admin, event="activate", reason="開通")
        _wait_until(ids, {"active"}, "every line to be active", deadline, processes)

        sandbox.faults("carrier", timeout_after_commit_rate=0.3)
        for line_id in ids:
            world.approve("line.suspend", {"line_id": line_id})
        statuses = _wait_until(ids, {"suspended", "needs_review"}, "every line to be 停止 or 要確認", deadline,
                               processes)
        elapsed = time.monotonic() - started

        per_msisdn = Counter(e["msisdn"] for e in sandbox.effects("carrier", operation="suspend"))
        ours = set(msisdns.values())
        assert all(count <= 1 for msisdn, count in per_msisdn.items() if msisdn in ours), per_msisdn
        suspended = [line_id for line_id, state in statuses.items() if state == "suspended"]
        assert [line_id for line_id in suspended if per_msisdn[msisdns[line_id]] != 1] == []
        assert suspended, statuses  # at 30% timeouts and four attempts nearly every line ends 停止
        with read_session() as s:
            unanswered = len(s.exec(select(ExternalAttempt.id).where(ExternalAttempt.outcome == "unknown")).all())
        assert unanswered > 0  # the fault was hit: calls the carrier committed were retried with their key
        workers_used = [p.log.name for p in processes[:2] if "telecom.execute_operation" in p.log.read_text()]
        print(f"\nscale-out (PostgreSQL + Redis, 2 workers x 4 threads): {2 * LINES} carrier operations in "
              f"{elapsed:.1f} s = {2 * LINES / elapsed:.1f} ops/s; {Counter(statuses.values())}; "
              f"{unanswered} unanswered attempts retried; workers that executed calls: {workers_used}")
    finally:
        for process in reversed(processes):
            process.stop()
        sandbox.stop()
        use_engine(None)
        engine.dispose()
