"""Benchmark of the monthly billing run (請求締め) and of the 口座振替 file.

1. Builds a fresh SQLite database (in a temporary directory) with 100,000 active lines: 60,000 contracts of one
   number and 10,000 of four, on two priced plans, one contract in five with an option, levies per number.
   Times the run's worker body (services.billing.billing_runs.draft_run: rating, invoice numbers, invoices,
   items, anomalies, audit) for last month, then inserts the very same invoice and item rows with one raw
   `executemany` each into an empty database of the same schema (the baseline), and prints both and the ratio.
   Targets: ≤ 10 s and ≤ 3× the raw insert.
2. Writes a 100,000-record Zengin 91 withdrawal request, has it answered (a result file, one in fifty 資金不足) and
   reads the result back; prints rows per second for each, beside the same rows written and read as CSV.

PDFs per second: scripts/bench_invoice_pdf.py (also in `make bench`).

Usage: python scripts/bench_billing.py [--lines 100000]
"""

from __future__ import annotations

import argparse
import csv
import io
import sqlite3
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402
from sqlmodel import SQLModel  # noqa: E402

from services.billing import billing_runs  # noqa: E402
from services.integrations import direct_debit_file as dd  # noqa: E402
from services.models import (  # noqa: E402
    BillingRun,
    ChargeRate,
    Contract,
    ContractOption,
    ContractPlanPeriod,
    Customer,
    Invoice,
    InvoiceItem,
    Line,
    RateOption,
    RateOptionVersion,
    RatePlan,
    RatePlanVersion,
)
from services.platform.clock import today_in_tokyo  # noqa: E402
from services.platform.db import make_engine, use_engine, write_session  # noqa: E402

FOUR_LINE_SHARE = 0.4  # of the numbers, in contracts of four


def build(lines: int, period_first: date) -> tuple[int, int]:
    """The catalogue priced since 2025-01-01 and `lines` numbers in service since then; returns (contracts, lines).
    Rows are written directly (the catalogue screens refuse dates that have passed, as they should)."""
    since = date(2025, 1, 1)
    four = int(lines * FOUR_LINE_SHARE) // 4
    single = lines - four * 4
    contracts = single + four
    started = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
    start_day = since
    with write_session() as session:
        conn = session.connection()
        conn.execute(insert(RatePlan), [{"id": 1, "code": "B3", "name": "ベーシック 3GB", "monthly_fee": 990,
                                         "data_cap_mb": 3072}, {"id": 2, "code": "B20", "name": "たっぷり 20GB",
                                                                "monthly_fee": 2970, "data_cap_mb": 20480}])
        conn.execute(insert(RatePlanVersion), [{"rate_plan_id": p, "effective_from": since, "monthly_fee": fee,
                                                "data_cap_mb": cap, "throttled_kbps": 200, "tax_rate_percent": 10}
                                               for p, fee, cap in ((1, 990, 3072), (2, 2970, 20480))])
        conn.execute(insert(RateOption), [{"id": 1, "code": "CALL", "name": "かけ放題", "monthly_fee": 1100}])
        conn.execute(insert(RateOptionVersion), [{"rate_option_id": 1, "effective_from": since, "monthly_fee": 1100,
                                                  "tax_rate_percent": 10}])
        conn.execute(insert(ChargeRate), [{"code": code, "name": name, "kind": "levy", "effective_from": since,
                                           "amount": amount, "tax_rate_percent": 10}
                                          for code, name, amount in (("universal_service", "ユニバーサルサービス料", 2),
                                                                     ("relay_service", "電話リレーサービス料", 1))])
        plans, option = (1, 2), 1
        conn.execute(insert(Customer), [{"id": n, "kind": "individual", "name": f"顧客 {n}",
                                         "name_kana": f"コキャク {n}"} for n in range(1, contracts + 1)])
        conn.execute(insert(Contract), [{"id": n, "customer_id": n, "rate_plan_id": plans[n % 2], "status": "active",
                                         "start_date": start_day} for n in range(1, contracts + 1)])
        conn.execute(insert(ContractPlanPeriod), [{"contract_id": n, "rate_plan_id": plans[n % 2],
                                                   "valid_from": start_day} for n in range(1, contracts + 1)])
        conn.execute(insert(ContractOption), [{"contract_id": n, "rate_option_id": option, "valid_from": start_day}
                                              for n in range(1, contracts + 1, 5)])
        numbers = []
        for n in range(1, contracts + 1):
            for _ in range(1 if n <= single else 4):
                numbers.append({"msisdn": f"+8180{len(numbers):08d}", "customer_id": n, "contract_id": n,
                                "status": "active", "activated_at": started})
        conn.execute(insert(Line), numbers)
    assert period_first > start_day
    return contracts, len(numbers)


def queue_run(period: str) -> int:
    """The period's run, queued as the request leaves it."""
    with write_session() as session:
        run = BillingRun(period=period)
        session.add(run)
        session.flush()
        return run.id


def run_billing(run_id: int) -> tuple[float, BillingRun]:
    """Time the worker's body."""
    started = time.perf_counter()
    run = billing_runs.draft_run(run_id)
    return time.perf_counter() - started, run


def raw_baseline(engine, run_id: int, copy: Path) -> tuple[float, int, int]:
    """The run's invoice and item rows inserted with one raw executemany each into `copy`, the database as it
    was before the run (same customers, contracts and queued run, so the same foreign keys are checked)."""
    invoice_columns = [c.name for c in Invoice.__table__.columns]
    item_columns = [c.name for c in InvoiceItem.__table__.columns]
    with engine.connect() as conn:
        invoices = [tuple(r) for r in conn.execute(select(*Invoice.__table__.columns)
                                                   .where(Invoice.__table__.c.billing_run_id == run_id))]
        items = [tuple(r) for r in conn.execute(select(*InvoiceItem.__table__.columns))]  # only this run's
    empty = make_engine(f"sqlite:///{copy}")
    raw = empty.raw_connection()
    try:
        cursor = raw.cursor()
        invoice_rows, item_rows = [_plain(r) for r in invoices], [_plain(r) for r in items]
        started = time.perf_counter()
        cursor.executemany(f"INSERT INTO invoice ({', '.join(invoice_columns)}) "
                           f"VALUES ({', '.join('?' * len(invoice_columns))})", invoice_rows)
        cursor.executemany(f"INSERT INTO invoice_item ({', '.join(item_columns)}) "
                           f"VALUES ({', '.join('?' * len(item_columns))})", item_rows)
        raw.commit()
        elapsed = time.perf_counter() - started
    finally:
        raw.close()
        empty.dispose()
    return elapsed, len(invoices), len(items)


def _plain(row: tuple) -> tuple:
    return tuple(v.isoformat(sep=" ") if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v
                 for v in row)


def zengin(count: int) -> None:
    """Write a request of `count` withdrawals, answer it, read the result; print rows/s beside CSV."""
    header = dd.DebitHeader("1234567890", "ｻﾝﾌﾟﾙﾂｳｼﾝ(ｶ", today_in_tokyo(), "0001", "ｻﾝﾌﾟﾙｷﾞﾝｺｳ", "001", "ﾎﾝﾃﾝ", 1,
                            "1234567")
    items = [dd.DebitItem("0005", "", f"{n % 900 + 100:03d}", "", 1, f"{n % 10_000_000:07d}", f"ﾔﾏﾀﾞ ﾀﾛｳ{n % 100}",
                          1000 + n % 9000, 0, str(n)) for n in range(1, count + 1)]
    started = time.perf_counter()
    request = dd.write_request(header, items)
    write_s = time.perf_counter() - started
    answered = [dd.DebitItem(**{**i.__dict__, "result_code": 1 if n % 50 == 0 else 0}) for n, i in enumerate(items)]
    result = dd.write_result(header, answered)
    started = time.perf_counter()
    read = dd.read_result(result)
    read_s = time.perf_counter() - started
    assert len(read.items) == count and read.failed_count == sum(1 for i in answered if i.result_code)
    fields = list(items[0].__dict__)
    started = time.perf_counter()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([getattr(i, f) for f in fields] for i in answered)
    csv_write_s = time.perf_counter() - started
    started = time.perf_counter()
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    csv_read_s = time.perf_counter() - started
    assert len(rows) == count
    print(f"口座振替 request file: {count:,} records ({len(request) / 2**20:.1f} MB) written in {write_s:.2f} s "
          f"({count / write_s:,.0f} rows/s); result read back and checked in {read_s:.2f} s "
          f"({count / read_s:,.0f} rows/s)")
    print(f"  baseline, the same rows as CSV with the csv module: write {count / csv_write_s:,.0f} rows/s, "
          f"read {count / csv_read_s:,.0f} rows/s")


def main(argv: list[str] | None = None) -> int:
    """Build, run, compare and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args(argv)
    today = today_in_tokyo()
    period_first = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    period = period_first.strftime("%Y-%m")
    with tempfile.TemporaryDirectory(prefix="bench-billing-") as tmp:
        directory = Path(tmp)
        engine = make_engine(f"sqlite:///{directory / 'billing.db'}")
        SQLModel.metadata.create_all(engine)
        use_engine(engine)
        try:
            started = time.perf_counter()
            contracts, lines = build(args.lines, period_first)
            print(f"built {contracts:,} contracts with {lines:,} lines in service in {time.perf_counter() - started:.1f} s")
            run_id = queue_run(period)
            copy = directory / "before-run.db"
            with closing(sqlite3.connect(directory / "billing.db")) as plain:
                plain.execute(f"VACUUM INTO '{copy}'")
            elapsed, run = run_billing(run_id)
            raw_s, invoices, items = raw_baseline(engine, run_id, copy)
        finally:
            use_engine(None)
            engine.dispose()
    print(f"billing run {period}: {run.invoice_count:,} invoices, ¥{run.total_amount:,}, "
          f"{run.anomaly_count} anomalies, status {run.status}")
    print(f"  draft run {elapsed:.1f} s (target ≤ 10 s); raw executemany of the same {invoices:,} invoice and "
          f"{items:,} item rows {raw_s:.2f} s; ratio {elapsed / raw_s:.1f}× (target ≤ 3×)")
    zengin(100_000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
