"""Benchmark of the carrier line report comparison (日次突合, services.ledger.carrier_report.compare) on the bench ledger.

Uses data/bench.db (built by scripts/bench_search.py / `make bench`: 1,000,000 lines). Builds the carrier's
CSV report for every line in its ledger state with a few planted differences (state flipped, line dropped,
unknown line added), serves it through an httpx.MockTransport carrier client, and times one comparison
(CSV parsing, ledger load, usage upsert of every line, review items), then one data-cap round
(services.ledger.usage_caps.enforce: this month's usage of every active line against its plan's cap). Everything
runs in one transaction that is rolled back, so the bench database is left as it was.

Usage: python scripts/bench_carrier_report.py [--db data/bench.db] [--planted 100]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from bench_search import ensure_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from services.integrations.carrier import CarrierClient  # noqa: E402
from services.ledger import carrier_report, usage_caps  # noqa: E402
from services.models import Line, ReviewItem  # noqa: E402
from services.platform.clock import today_in_tokyo
from services.platform.db import make_engine, read_session, use_engine, write_session  # noqa: E402

CARRIER_STATES = {"active": "active", "suspended": "suspended", "terminated": "terminated"}


class _RolledBack(Exception):
    """Raised at the end of the measured transaction to undo it."""


def build_report(day: str, planted: int, rng: random.Random) -> tuple[str, int]:
    """The CSV report for every ledger line the carrier would know, and how many differences were planted."""
    with read_session() as session:
        rows = session.execute(select(Line.msisdn, Line.status)).all()
    known = [(m.lstrip("+"), CARRIER_STATES[s]) for m, s in rows if s in CARRIER_STATES]
    flip = set(rng.sample(range(len(known)), min(planted, len(known))))
    drop = set(rng.sample(range(len(known)), min(planted, len(known)))) - flip
    out = ["date,msisdn,iccid,plan,state,throttled,usage_mb"]
    for index, (digits, state) in enumerate(known):
        if index in drop:
            continue
        if index in flip:
            state = "suspended" if state == "active" else "active"
        out.append(f"{day},{digits},,basic,{state},false,{rng.randrange(80000) / 10:.1f}")
    out.extend(f"{day},8102{n:08d},,basic,active,false,1.0" for n in range(planted))  # unknown to the ledger
    return "\n".join(out) + "\n", len(flip) + len(drop) + planted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "data" / "bench.db")
    parser.add_argument("--planted", type=int, default=100, help="differences of each kind to plant (default 100)")
    args = parser.parse_args(argv)
    db = args.db.resolve()
    ensure_database(db, rebuild=False)
    engine = make_engine(f"sqlite:///{db}")
    use_engine(engine)
    day = today_in_tokyo()
    try:
        started = time.perf_counter()
        report, planted = build_report(day.isoformat(), args.planted, random.Random(7))
        print(f"report: {report.count(chr(10)) - 1:,} rows, {len(report) / 2**20:.0f} MB CSV, "
              f"{planted} planted differences (built in {time.perf_counter() - started:.1f} s)")
        client = CarrierClient("http://carrier.bench", transport=httpx.MockTransport(
            lambda request: httpx.Response(200, text=report)))
        carrier_report.default_client = lambda: client
        try:
            with write_session() as session:
                before = session.execute(select(func.count(ReviewItem.id))).scalar_one()
                started = time.perf_counter()
                checked = carrier_report.compare(day)
                elapsed = time.perf_counter() - started
                opened = session.execute(select(func.count(ReviewItem.id))).scalar_one() - before
                started = time.perf_counter()
                caps = usage_caps.enforce(day)
                caps_elapsed = time.perf_counter() - started
                raise _RolledBack
        except _RolledBack:
            pass
    finally:
        use_engine(None)
        engine.dispose()
    print(f"compare({day}): {checked:,} rows checked, {opened} review items opened, {elapsed:.1f} s "
          f"({checked / elapsed:,.0f} rows/s); changes rolled back")
    print(f"data caps round: {caps['throttle_on']:,} throttle and {caps['throttle_off']:,} release calls queued "
          f"in {caps_elapsed:.1f} s; rolled back")
    print(f"peak memory (ru_maxrss) of the benchmark process: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
