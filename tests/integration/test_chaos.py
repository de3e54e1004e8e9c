"""Chaos test: the outbox keeps its promises on both running modes while providers and workers fail.

Each mode runs one to two thousand operations — carrier activation, suspension and resumption through
approvals, and card charges — with 20% 5xx answers, 5% timeouts after the provider
committed, duplicated and re-ordered webhooks, a worker SIGKILLed and the broker restarted part-way
(tests/chaos.py). Nothing may be lost, nothing may happen twice at a provider, and every line must
agree with the carrier or sit in the review queue.
"""

from __future__ import annotations

import pytest

from tests.chaos import ChaosPlan, ChaosRun

pytestmark = pytest.mark.integration

EMBEDDED = ChaosPlan(lines=100, rounds=8, charges=200)  # one SQLite writer at a time: about 6 operations/s
SCALE_OUT = ChaosPlan(lines=150, rounds=10, charges=500)  # PostgreSQL row locks: about 30 operations/s


def _assert_promises_kept(report, plan: ChaosPlan) -> None:
    print("\n" + report.summary())
    assert report.lost_operations == 0
    assert report.lost_webhooks == 0
    assert report.duplicated_effects == 0
    assert report.line_disagreements == []
    assert report.operations + report.not_requested == plan.operations
    assert report.unknown_attempts > 0 and report.retries > 0  # the faults were really hit
    assert report.webhooks_delivered > 0


def test_embedded_mode_loses_nothing_and_applies_each_operation_at_most_once(tmp_path):
    broker_url = f"sqla+sqlite:///{tmp_path / 'broker.db'}"
    run = ChaosRun("embedded (SQLite ledger, SQLite broker)", database_url=f"sqlite:///{tmp_path / 'ledger.db'}",
                   broker_url=broker_url, workdir=tmp_path, plan=EMBEDDED,
                   restart_broker=ChaosRun.drop_sql_broker_messages(broker_url))
    _assert_promises_kept(run.run(), EMBEDDED)


def test_scale_out_mode_loses_nothing_and_applies_each_operation_at_most_once(postgres_url, redis_server, tmp_path):
    run = ChaosRun("scale-out (PostgreSQL ledger, Redis broker)", database_url=postgres_url,
                   broker_url=redis_server.url, workdir=tmp_path, plan=SCALE_OUT, restart_broker=redis_server.restart)
    _assert_promises_kept(run.run(), SCALE_OUT)
