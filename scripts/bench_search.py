"""Benchmark of the global search on a large SQLite ledger (run as `make bench`).

Builds data/bench.db once (SQLModel.metadata.create_all + `python -m demo.seed --bench`:
300,000 customers, 1,000,000 lines) and reuses it while it is complete. Then times
`services.read.search.global_search` on real values sampled from the database, per kind of query,
and a naive baseline (LIKE '%q%' over names, kana, MSISDN, ICCID/IMSI and IMEI) on the same
queries, and prints p50/p95 per kind with PASS/FAIL against the targets:
  - p95 <= 20 ms for every kind;
  - partial-name search at least 50x faster than the naive baseline (median vs median).

Usage: python scripts/bench_search.py [--db data/bench.db] [--samples 200] [--naive-samples 20] [--rebuild]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

import services.models  # noqa: E402,F401  (registers every table)
from demo.seed import BENCH  # noqa: E402
from services.models import Customer, Device, Invoice, Line, SimCard  # noqa: E402
from services.platform.db import make_engine, read_session, use_engine  # noqa: E402
from services.platform.identifiers import format_msisdn  # noqa: E402
from services.platform.permissions import Actor, Role  # noqa: E402
from services.platform.text import normalize_name  # noqa: E402
from services.read.search import global_search  # noqa: E402

P95_TARGET_MS = 20.0
NAME_SPEEDUP_TARGET = 50.0
NAME_KINDS = ("kana partial", "kana partial (hiragana)", "kanji partial")
ACTOR = Actor(kind="staff", id=None, role=Role.SUPPORT, label="bench")


# --------------------------------------------------------------------------- the baseline


def naive_search(query: str, limit: int = 20) -> list[tuple[str, int]]:
    """What a first version would do: LIKE '%q%' on every searchable column (no index can help)."""
    pattern = f"%{query}%"
    n = limit + 1
    hits: list[tuple[str, int]] = []
    statements = (
        ("customer", "SELECT id FROM customer WHERE name LIKE :q OR name_kana LIKE :q LIMIT :n"),
        ("line", "SELECT id FROM line WHERE msisdn LIKE :q LIMIT :n"),
        ("sim", "SELECT id FROM sim_card WHERE iccid LIKE :q OR imsi LIKE :q LIMIT :n"),
        ("device", "SELECT id FROM device WHERE imei LIKE :q LIMIT :n"),
    )
    with read_session() as session:
        for kind, sql in statements:
            hits.extend((kind, row[0]) for row in session.execute(text(sql), {"q": pattern, "n": n}))
    return hits


# --------------------------------------------------------------------------- the database


def _marker(db: Path) -> Path:
    return db.with_name(db.name + ".complete")


def _schema_fingerprint() -> str:
    """Changes whenever the models change, so a database built for older models is rebuilt."""
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.schema import CreateTable

    ddl = "".join(str(CreateTable(t).compile(dialect=sqlite.dialect())) for t in SQLModel.metadata.sorted_tables)
    return hashlib.sha256(ddl.encode()).hexdigest()


def _is_complete(db: Path) -> bool:
    if not db.exists() or not _marker(db).exists():
        return False
    if _marker(db).read_text().strip() != _schema_fingerprint():
        return False
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            customers = conn.execute(select(func.max(Customer.id))).scalar() or 0
            lines = conn.execute(select(func.max(Line.id))).scalar() or 0
        return customers >= BENCH.customers and lines >= BENCH.lines
    except Exception:  # noqa: BLE001 - a broken file is simply rebuilt
        return False
    finally:
        engine.dispose()


def ensure_database(db: Path, rebuild: bool) -> None:
    """Create and seed the benchmark database unless a complete one is already there."""
    if not rebuild and _is_complete(db):
        print(f"reusing {db.relative_to(ROOT) if db.is_relative_to(ROOT) else db}")
        return
    for suffix in ("", "-wal", "-shm", ".complete"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    print(f"building {db} ({BENCH.customers:,} customers, {BENCH.lines:,} lines) ...", flush=True)
    started = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-m", "demo.seed", "--bench", "--database-url", url],
                   cwd=ROOT, env=env, check=True)
    print(f"seed finished in {time.perf_counter() - started:.1f} s "
          f"(seed process peak RSS {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MB)")
    engine = make_engine(url)
    with engine.connect() as conn:  # fold the WAL back into the database file
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.commit()
    engine.dispose()
    _marker(db).write_text(_schema_fingerprint() + "\n")


# --------------------------------------------------------------------------- queries


def _sample_ids(session, model, k: int, rng: random.Random) -> list[int]:
    top = session.execute(select(func.max(model.id))).scalar() or 0
    return rng.sample(range(1, top + 1), min(k, top))


def _fragment(text_: str, lo: int, hi: int, rng: random.Random) -> str | None:
    norm = normalize_name(text_)
    if len(norm) < lo:
        return None
    size = rng.randint(lo, min(hi, len(norm)))
    start = rng.randrange(len(norm) - size + 1)
    return norm[start:start + size]


def _hiragana(katakana: str) -> str:
    return "".join(chr(ord(ch) - 0x60) if "\u30a1" <= ch <= "\u30f6" else ch for ch in katakana)


def build_queries(samples: int, seed: int = 42) -> dict[str, list[tuple[str, Callable[[object], bool]]]]:
    """Per kind, (query, check) pairs; a check says whether the expected record was found."""
    rng = random.Random(seed)
    queries: dict[str, list[tuple[str, Callable[[object], bool]]]] = {}

    def has(kind: str, record_id: int) -> Callable[[object], bool]:
        return lambda res: any(h.id == record_id for h in (res.group(kind).hits if res.group(kind) else []))

    def any_customer(res) -> bool:
        return res.group("customer") is not None

    with read_session() as session:
        ids = _sample_ids(session, Line, samples, rng)
        lines = session.execute(select(Line.id, Line.msisdn).where(Line.id.in_(ids))).all()
        queries["msisdn 090-1234-5678"] = [(format_msisdn(m), has("line", i)) for i, m in lines]
        queries["msisdn 09012345678"] = [("0" + m[3:], has("line", i)) for i, m in lines]
        queries["msisdn +81 90 1234 5678"] = [
            (f"+81 {m[3:5]} {m[5:9]} {m[9:]}", has("line", i)) for i, m in lines]
        ids = _sample_ids(session, SimCard, samples, rng)
        sims = session.execute(select(SimCard.id, SimCard.iccid, SimCard.imsi).where(SimCard.id.in_(ids))).all()
        queries["iccid"] = [(iccid, has("sim", i)) for i, iccid, _ in sims]
        queries["imsi"] = [(imsi, has("sim", i)) for i, _, imsi in sims]
        ids = _sample_ids(session, Device, samples, rng)
        devices = session.execute(select(Device.id, Device.imei).where(Device.id.in_(ids))).all()
        queries["imei"] = [(imei, has("device", i)) for i, imei in devices]
        ids = _sample_ids(session, Customer, samples * 2, rng)
        people = session.execute(select(Customer.id, Customer.name, Customer.name_kana)
                                 .where(Customer.id.in_(ids))).all()
        kana = [f for _, _, k in people if (f := _fragment(k, 2, 4, rng))][:samples]
        queries["kana partial"] = [(f, any_customer) for f in kana]
        queries["kana partial (hiragana)"] = [(_hiragana(f), any_customer) for f in kana]
        queries["kanji partial"] = [
            (f, any_customer) for _, n, _ in people if (f := _fragment(n, 2, 3, rng))][:samples]
        queries["customer code"] = [(f"K-{i:06d}", has("customer", i)) for i, _, _ in people[:samples]]
        ids = _sample_ids(session, Invoice, samples, rng)
        invoices = session.execute(select(Invoice.id, Invoice.invoice_no).where(Invoice.id.in_(ids))).all()
        queries["invoice no"] = [(no, has("invoice", i)) for i, no in invoices]
    for kind in queries:
        rng.shuffle(queries[kind])
    return queries


# --------------------------------------------------------------------------- measuring


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _time(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def run(samples: int, naive_samples: int) -> bool:
    queries = build_queries(samples)
    for kind, qs in queries.items():  # warm the page cache and statement caches
        for q, _ in qs[:20]:
            global_search(q, actor=ACTOR)
    header = (f"{'kind':<26}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'naive p50':>11}{'naive p95':>11}"
              f"{'ratio':>9}  {'found':>7}  result")
    print(header)
    print("-" * len(header))
    all_pass = True
    for kind, qs in queries.items():
        ours, found = [], 0
        for q, check in qs:
            ms, res = _time(lambda q=q: global_search(q, actor=ACTOR))
            ours.append(ms)
            found += bool(check(res))
        naive = [_time(lambda q=q: naive_search(q, 20))[0] for q, _ in qs[:naive_samples]]
        p50, p95 = statistics.median(ours), _percentile(ours, 95)
        n50, n95 = statistics.median(naive), _percentile(naive, 95)
        ratio = n50 / p50 if p50 else float("inf")
        ok = p95 <= P95_TARGET_MS and found == len(qs)
        if kind in NAME_KINDS:
            ok = ok and ratio >= NAME_SPEEDUP_TARGET
        all_pass &= ok
        print(f"{kind:<26}{len(qs):>5}{p50:>9.2f}{p95:>9.2f}{n50:>11.1f}{n95:>11.1f}{ratio:>8.0f}x"
              f"  {found:>3}/{len(qs):<3}  {'PASS' if ok else 'FAIL'}")
    print("-" * len(header))
    print(f"targets: p95 <= {P95_TARGET_MS:.0f} ms for every kind; partial names >= {NAME_SPEEDUP_TARGET:.0f}x "
          f"faster than naive (median ratio); every sampled record found")
    return all_pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "data" / "bench.db")
    parser.add_argument("--samples", type=int, default=200, help="queries per kind (default 200)")
    parser.add_argument("--naive-samples", type=int, default=20, help="baseline queries per kind (default 20)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the database even if complete")
    args = parser.parse_args(argv)
    db = args.db.resolve()
    ensure_database(db, args.rebuild)
    engine = make_engine(f"sqlite:///{db}")
    use_engine(engine)
    try:
        with engine.connect() as conn:
            counts = {t: conn.exec_driver_sql(f"SELECT max(rowid) FROM {t}").scalar() or 0
                      for t in ("customer", "line", "sim_card", "device", "invoice")}
        print("database: " + ", ".join(f"{t} {n:,}" for t, n in counts.items())
              + f"; {db.stat().st_size / 2**20:,.0f} MB")
        passed = run(args.samples, args.naive_samples)
    finally:
        use_engine(None)
        engine.dispose()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"peak memory (ru_maxrss) of the benchmark process: {usage.ru_maxrss / 1024:.0f} MB")
    print("PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
