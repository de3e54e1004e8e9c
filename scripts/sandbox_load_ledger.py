"""Tell the carrier sandbox about the lines the ledger already has (demo data), so its daily report matches.

    python scripts/sandbox_load_ledger.py --carrier http://127.0.0.1:9100

The sandbox starts empty; a ledger seeded before it (make run, the e2e tests) has thousands of lines
the stand-in carrier would not know, and the daily line report comparison would flag every one.
This posts each active, suspended or terminated line with its state since its activation (and its
speed limit) to the sandbox's admin API (lines the sandbox already knows are kept). A real carrier needs none of this.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.models import Line  # noqa: E402
from services.platform.db import read_session  # noqa: E402

STATES = ("active", "suspended", "terminated")
BATCH = 5000


def wait_until_ready(carrier: str, timeout: float = 60) -> None:
    """Wait until the sandbox answers its health check."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{carrier}/_sandbox/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the carrier sandbox at {carrier} did not answer")
        time.sleep(0.3)


def ledger_lines() -> list[dict]:
    """The ledger's lines the carrier would know, in the sandbox's import format."""
    with read_session() as session:
        rows = session.exec(select(Line.msisdn, Line.status, Line.activated_at, Line.created_at, Line.throttled)
                            .where(col(Line.status).in_(STATES))).all()
    return [{"msisdn": msisdn.lstrip("+"), "state": status, "since": (activated or created).isoformat(),
             "throttled": bool(throttled)}
            for msisdn, status, activated, created, throttled in rows]


def main() -> int:
    """Post the ledger's lines to the carrier sandbox in batches; prints how many were new."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--carrier", required=True, help="the carrier sandbox's base URL")
    args = parser.parse_args()
    carrier = args.carrier.rstrip("/")
    wait_until_ready(carrier)
    lines = ledger_lines()
    imported = 0
    for start in range(0, len(lines), BATCH):
        answer = httpx.post(f"{carrier}/_sandbox/lines", json={"lines": lines[start:start + BATCH]}, timeout=60,
                            trust_env=False)
        answer.raise_for_status()
        imported += answer.json()["imported"]
    print(f"carrier sandbox: {imported} ledger lines loaded ({len(lines) - imported} already known)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
