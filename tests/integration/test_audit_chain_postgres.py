"""On PostgreSQL, concurrent writers append to one unbroken audit hash chain (the head row lock)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy import text

from services.models import RatePlan
from services.platform.audit import record
from services.platform.db import make_engine, use_engine, write_session
from services.platform.permissions import Actor, Role
from services.security.audit_log import verify_chain
from tests.integration.test_migrations import _upgrade

THREADS = 8
APPENDS_PER_THREAD = 15


@pytest.mark.integration
def test_concurrent_appends_on_postgresql_keep_the_chain_intact(postgres_url):
    _upgrade(postgres_url)
    engine = make_engine(postgres_url)
    use_engine(engine)
    try:
        with write_session() as session:
            plan = RatePlan(code="CHAIN", name="チェーン検証", monthly_fee=0, data_cap_mb=0)
            session.add(plan)
            session.flush()
            plan_id = plan.id
        start = threading.Barrier(THREADS)
        errors: list[BaseException] = []

        def append(worker: int) -> None:
            actor = Actor(kind="staff", id=None, role=Role.ADMIN, label=f"worker-{worker}@test")
            try:
                start.wait()
                for k in range(APPENDS_PER_THREAD):
                    with write_session() as session:
                        entity = session.get(RatePlan, plan_id)
                        record(session, Actor(**{**actor.__dict__, "request_id": uuid.uuid4().hex}),
                               "rate_plan.update", entity, reason=f"worker {worker} #{k}")
                        time.sleep(0.002)  # hold the transaction open so that the writers overlap
            except BaseException as exc:  # noqa: BLE001  (reported by the main thread)
                errors.append(exc)

        workers = [threading.Thread(target=append, args=(n,)) for n in range(THREADS)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert errors == []

        report = verify_chain(batch_size=16)
        assert report.intact, report.message_ja
        assert report.checked == THREADS * APPENDS_PER_THREAD
        with engine.connect() as conn:
            labels = {r[0] for r in conn.execute(text("SELECT DISTINCT actor_label FROM audit_entry"))}
            links = conn.execute(text(
                "SELECT count(*) FROM audit_entry e JOIN audit_entry p ON e.prev_hash = p.entry_hash")).scalar()
        assert len(labels) == THREADS  # the writers really interleaved on one chain
        assert links == THREADS * APPENDS_PER_THREAD - 1
    finally:
        use_engine(None)
        engine.dispose()


@pytest.mark.integration
def test_a_seeded_postgresql_ledger_verifies_intact_and_live_entries_continue_its_chain(postgres_url):
    from datetime import date

    from demo.seed import SeedOptions, seed_demo
    from services.ledger import customers

    _upgrade(postgres_url)
    engine = make_engine(postgres_url)
    use_engine(engine)
    try:
        seed_demo(engine, SeedOptions(customers=30, lines=80, months=1, usage_days=1, active_history_ratio=0.5,
                                      today=date(2026, 4, 15)))
        admin = Actor(kind="staff", id=None, role=Role.ADMIN, label="admin@test", request_id="r-1")
        customers.create_customer(actor=admin, kind="individual", name="追加 花子", name_kana="ツイカ ハナコ")
        report = verify_chain(actor=admin, batch_size=10)
        assert report.intact, report.message_ja
        with engine.connect() as conn:
            assert report.checked == conn.execute(text("SELECT count(*) FROM audit_entry")).scalar() > 20
    finally:
        use_engine(None)
        engine.dispose()
