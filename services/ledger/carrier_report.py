"""The carrier's daily line report (キャリア回線レポート) compared with the ledger (日次突合 source "carrier_lines").

The report is a picture of every line at the end of one Tokyo day. A line whose ledger state may
rightly differ from that picture is not compared: one in progress or waiting for a person, one
with a carrier call still open, one changed after the end of the day. Every other difference opens
one review item; nothing in the ledger is corrected. The day's data usage (data the carrier owns)
is stored per line, replacing what an earlier read of the same report stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from services.integrations.carrier import CarrierUnreachable, default_client
from services.ledger.carrier_sync import COMPARABLE_STATES
from services.ledger.provisioning import CARRIER
from services.models import ExternalOperation, Line, ReviewItem, UsageRecord
from services.models.line import LineStatus
from services.platform.clock import TOKYO
from services.platform.db import read_session, write_session
from services.platform.identifiers import format_msisdn
from services.platform.labels import label, state_label
from services.workflow.daily_reconciliation import ReportSource, ReportUnavailable, open_difference
from services.workflow.reconciliation import FINAL

log = logging.getLogger(__name__)

PREFIX = "carrier.report."
STATE_MISMATCH = PREFIX + "state_mismatch"
MISSING_IN_LEDGER = PREFIX + "missing_in_ledger"
MISSING_AT_CARRIER = PREFIX + "missing_at_carrier"
THROTTLE_MISMATCH = PREFIX + "throttle_mismatch"
REPORT_FLAGS = {"true": True, "false": False}  # the report's throttled column
REQUIRED_COLUMNS = frozenset({"date", "msisdn", "state", "usage_mb"})
# ledger state -> the carrier's name for it, for the states both sides know
CARRIER_STATES = {status.value: state for status, state in COMPARABLE_STATES.items() if state}
PRESENT_AT_CARRIER = frozenset({LineStatus.ACTIVE.value, LineStatus.SUSPENDED.value})
USAGE_BATCH = 5000


@dataclass(slots=True)
class _LedgerLine:
    id: int
    msisdn: str
    status: str
    customer_id: int
    comparable: bool  # known to the carrier, no carrier call open, unchanged since the end of the day
    throttled: bool


def compare(business_date: date) -> int:
    """Compare the carrier's line report for `business_date` with the ledger (system); rows checked.

    Opens review items carrier.report.state_mismatch / throttle_mismatch / missing_in_ledger /
    missing_at_carrier (one per line and day) and upserts each known line's UsageRecord for the day.
    Raises ReportUnavailable when the report cannot be fetched or read.
    """
    ledger = _ledger(business_date)
    day_text = f"{business_date:%Y/%m/%d}"
    differences: list[dict[str, Any]] = []
    usage: dict[int, int] = {}  # line id -> MB used that day
    reported: set[str] = set()
    try:
        with default_client().line_report(business_date) as rows:
            checked = _read_report(rows, business_date, ledger, day_text, differences, usage, reported)
    except CarrierUnreachable as exc:
        raise ReportUnavailable(f"キャリアの回線レポートを取得できません: {exc}") from exc
    if not checked and any(line.comparable and line.status in PRESENT_AT_CARRIER for line in ledger.values()):
        raise ReportUnavailable("キャリアの回線レポートが空です（利用中・停止中の回線があるはずです）。")
    for digits, line in ledger.items():
        if digits not in reported and line.comparable and line.status in PRESENT_AT_CARRIER:
            differences.append(_difference(
                MISSING_AT_CARRIER, business_date, digits, None, line,
                f"台帳で「{_label(line.status)}」の回線が、キャリアの{day_text}の回線レポートにありません。"))
    _store_usage(business_date, usage)
    opened = _open_differences(business_date, differences)
    log.info("carrier report %s: %d rows, %d usage records, %d new differences",
             business_date, checked, len(usage), opened)
    return checked


def _read_report(rows: Iterator[dict[str, str]], business_date: date, ledger: dict[str, _LedgerLine],
                 day_text: str, differences: list[dict[str, Any]], usage: dict[int, int], reported: set[str]) -> int:
    """Check each report row against the ledger as it arrives (differences, usage); returns how many rows."""
    checked = 0
    for row in rows:
        checked += 1
        if not REQUIRED_COLUMNS <= row.keys():
            raise ReportUnavailable(f"キャリアの回線レポートに必要な列がありません: {sorted(REQUIRED_COLUMNS)}")
        if row["date"] != business_date.isoformat():
            raise ReportUnavailable(f"キャリアの回線レポートに別の日付の行があります: {row['date']}")
        digits = (row["msisdn"] or "").strip().lstrip("+")
        if not digits:
            raise ReportUnavailable("キャリアの回線レポートに電話番号のない行があります。")
        carrier_state = (row["state"] or "").strip()
        reported.add(digits)
        line = ledger.get(digits)
        if line is None:
            differences.append(_difference(
                MISSING_IN_LEDGER, business_date, digits, row, None,
                f"キャリアの{day_text}の回線レポートに、台帳にない回線 {format_msisdn('+' + digits)} があります"
                f"（キャリアでの状態「{_label(carrier_state)}」）。"))
            continue
        used_mb = _used_mb(row["usage_mb"], digits)
        if used_mb is not None:
            usage[line.id] = used_mb
        if not (line.comparable and line.status in CARRIER_STATES):
            continue
        if CARRIER_STATES[line.status] != carrier_state:
            differences.append(_difference(
                STATE_MISMATCH, business_date, digits, row, line,
                f"{day_text}終了時点のキャリアの回線状態「{_label(carrier_state)}」と、"
                f"台帳の回線状態「{_label(line.status)}」が異なります。"))
        elif REPORT_FLAGS.get((row.get("throttled") or "").strip().lower(), line.throttled) != line.throttled:
            differences.append(_difference(
                THROTTLE_MISMATCH, business_date, digits, row, line,
                f"{day_text}終了時点のキャリアの速度制限「{'あり' if not line.throttled else 'なし'}」と、"
                f"台帳の速度制限「{'あり' if line.throttled else 'なし'}」が異なります。"))
    return checked


def _ledger(business_date: date) -> dict[str, _LedgerLine]:
    """Every ledger line by MSISDN digits (no "+"), read in one query."""
    day_end = datetime.combine(business_date + timedelta(days=1), time.min, TOKYO).astimezone(UTC)
    with read_session() as session:
        busy = set(session.exec(select(ExternalOperation.line_id).distinct().where(
            ExternalOperation.provider == CARRIER, col(ExternalOperation.line_id).is_not(None),
            col(ExternalOperation.status).not_in(FINAL))).all())
        rows = session.exec(select(Line.id, Line.msisdn, Line.status, Line.customer_id,
                                   (col(Line.updated_at) > day_end).label("changed"), Line.throttled)).all()
    statuses = {s.value: s.value for s in LineStatus}  # one string object per state for a million lines
    return {msisdn.lstrip("+"): _LedgerLine(line_id, msisdn, statuses.get(status, status), customer_id,
                                            not changed and line_id not in busy, bool(throttled))
            for line_id, msisdn, status, customer_id, changed, throttled in rows}


def _used_mb(value: str | None, digits: str) -> int | None:
    """Whole megabytes (rounded down) of the report's usage; None when the report left it empty."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal(-1)
    if not amount.is_finite() or amount < 0:
        raise ReportUnavailable(f"キャリアの回線レポートの通信量が読めません（{digits}）: {text}")
    return int(amount)


def _label(state: str) -> str:
    return state_label("line", state) if state else "（空欄）"


def _difference(kind: str, business_date: date, digits: str, row: dict[str, str] | None,
                line: _LedgerLine | None, reason: str) -> dict[str, Any]:
    evidence = {"business_date": business_date.isoformat(), "msisdn": digits,
                "ledger": None if line is None else {"line_id": line.id, "msisdn": line.msisdn,
                                                     "status": line.status, "throttled": line.throttled},
                "carrier_report": row}
    return {"kind": kind, "subject_key": f"{business_date.isoformat()}:{digits}", "reason": reason,
            "evidence": evidence, "line_id": None if line is None else line.id,
            "customer_id": None if line is None else line.customer_id}


def _store_usage(business_date: date, usage: dict[int, int]) -> None:
    """Insert or replace the day's UsageRecord of each line, a batch per transaction."""
    table = UsageRecord.__table__
    params = [{"line_id": line_id, "day": business_date, "used_mb": used_mb} for line_id, used_mb in usage.items()]
    for start in range(0, len(params), USAGE_BATCH):
        with write_session() as session:
            conn = session.connection()
            insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
            statement = insert.on_conflict_do_update(
                index_elements=[table.c.line_id, table.c.day], set_={"used_mb": insert.excluded.used_mb},
                where=table.c.used_mb != insert.excluded.used_mb)
            conn.execute(statement, params[start:start + USAGE_BATCH])


def _open_differences(business_date: date, differences: list[dict[str, Any]]) -> int:
    """Open a review item per difference not already queued for this day; how many were opened."""
    if not differences:
        return 0
    opened = 0
    with write_session() as session:
        queued = set(session.exec(select(ReviewItem.kind, ReviewItem.subject_key).where(
            col(ReviewItem.kind).startswith(PREFIX),
            col(ReviewItem.subject_key).startswith(f"{business_date.isoformat()}:"))).all())
        for item in differences:
            key = (item["kind"], item["subject_key"])
            if key not in queued:
                queued.add(key)
                opened += open_difference(session, **item)
    return opened


SOURCE = ReportSource("carrier_lines", label=label("report_source", "carrier_lines"), kind_prefix=PREFIX,
                      compare=compare)
