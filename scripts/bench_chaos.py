"""Chaos benchmark (`make bench`): the chaos run at a larger size on both running modes; prints the figures.

    python scripts/bench_chaos.py [--lines 250] [--rounds 10] [--charges 600] [--mode embedded|scale-out|both]

Embedded: SQLite ledger and SQLite broker; scale-out: a throwaway PostgreSQL 15 cluster and Redis server
started here. Each mode prints operations, retries, UNKNOWNs, reconciled, queued for review, lost
operations and webhooks (must be 0), duplicated effects (must be 0) and throughput; the exit status is 1
if a promise was broken.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.chaos import ChaosPlan, ChaosRun  # noqa: E402
from tests.stack import PostgresServer, RedisServer  # noqa: E402


def _embedded(plan: ChaosPlan, workdir: Path) -> ChaosRun:
    broker = f"sqla+sqlite:///{workdir / 'broker.db'}"
    return ChaosRun("embedded (SQLite ledger, SQLite broker)", database_url=f"sqlite:///{workdir / 'ledger.db'}",
                    broker_url=broker, workdir=workdir, plan=plan,
                    restart_broker=ChaosRun.drop_sql_broker_messages(broker))


def main() -> int:
    """Run the chosen modes and print each report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--charges", type=int, default=600)
    parser.add_argument("--mode", choices=("embedded", "scale-out", "both"), default="both")
    args = parser.parse_args()
    plan = ChaosPlan(lines=args.lines, rounds=args.rounds, charges=args.charges, deadline_seconds=3600)
    os.environ.setdefault("TELECOM_KEY_FILE", str(Path(tempfile.mkdtemp(prefix="tsm-chaos-key-")) / "key"))
    reports = []
    if args.mode in ("embedded", "both"):
        with tempfile.TemporaryDirectory(prefix="tsm-chaos-") as workdir:
            reports.append(_embedded(plan, Path(workdir)).run())
            print(reports[-1].summary(), flush=True)
    if args.mode in ("scale-out", "both"):
        postgres, redis = PostgresServer().start(), RedisServer().start()
        try:
            with tempfile.TemporaryDirectory(prefix="tsm-chaos-") as workdir:
                run = ChaosRun("scale-out (PostgreSQL ledger, Redis broker)",
                               database_url=postgres.create_database("chaos"), broker_url=redis.url,
                               workdir=Path(workdir), plan=plan, restart_broker=redis.restart)
                reports.append(run.run())
                print(reports[-1].summary(), flush=True)
        finally:
            redis.stop()
            postgres.stop()
    return 0 if all(report.ok for report in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
