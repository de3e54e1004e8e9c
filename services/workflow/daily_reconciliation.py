"""Daily reconciliation (日次突合): a provider's report for one business day compared with the ledger.

Each source (the carrier's line report, the payment gateway's settlement report, the bank's
statement file) has a `compare(business_date) -> rows_checked` function that reads the report and
opens one review item per difference with `open_difference` — never a silent fix. A run is kept per
(source, business date): a completed run is not repeated, a failed one (report unreachable) is
tried again at the next round. Celery beat runs every source for the previous Tokyo day each morning;
staff can run one again from the review screen (再突合): the request is queued and a worker runs it,
so a large report never holds up the screen.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from services.models import ReconciliationRun, ReviewItem
from services.models.base import utcnow
from services.platform.audit import mutating_service, record
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, ValidationFailed
from services.platform.permissions import Actor, require
from services.workflow import dispatch

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class ReportSource:
    """A provider's daily report that is compared with the ledger (declared beside its comparison)."""

    name: str
    label: str         # its name on screens (キャリア回線レポート)
    kind_prefix: str   # the kinds of the review items its comparison opens start with this
    compare: Callable[[date], int]  # compares one business date; returns the differences opened


SOURCES: dict[str, ReportSource] = {}


def register_source(source: ReportSource) -> None:
    """Add a report to the daily comparison (services.registry declares every source once, in run order)."""
    SOURCES[source.name] = source


def source_label(name: str) -> str:
    """The on-screen name of a report source (its key when unknown)."""
    return SOURCES[name].label if name in SOURCES else name

CATCH_UP_DAYS = 7  # the scheduled round also retries failed or missing runs of the past week
# A run still "running" after this long died with its worker: the scheduled round runs it again.
RUN_LEASE = timedelta(minutes=30)
# A queued run not started after this long lost its task message: the scheduled round runs it.
QUEUE_GRACE = timedelta(minutes=1)


class ReportUnavailable(Exception):
    """The provider's report could not be fetched or read; the run is tried again later."""


def open_difference(session: Session, *, kind: str, subject_key: str, reason: str, evidence: dict[str, Any],
                    customer_id: int | None = None, line_id: int | None = None,
                    external_operation_id: int | None = None) -> bool:
    """Open a review item for one difference unless one for the same (kind, subject) exists; True if opened."""
    exists = session.exec(select(ReviewItem.id).where(ReviewItem.kind == kind,
                                                      ReviewItem.subject_key == subject_key)).first()
    if exists is not None:
        return False
    session.add(ReviewItem(kind=kind, subject_key=subject_key[:128], customer_id=customer_id, line_id=line_id,
                           external_operation_id=external_operation_id, reason=reason[:500],
                           evidence_json=json.dumps(evidence, ensure_ascii=False, default=str)))
    return True


def run(source: str, business_date: date, *, force: bool = False, queued_only: bool = False
        ) -> ReconciliationRun | None:
    """Compare one source's report for one business date with the ledger (system; idempotent per date).

    A completed run is returned unchanged unless `force`; otherwise the comparison runs and the run records how
    many rows it checked and how many review items it opened, or why it failed. With `queued_only` it runs only
    a run a person queued and still waiting (None otherwise), so a task delivered twice runs it once.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown reconciliation source {source!r}")
    compare = SOURCES[source].compare
    with write_session() as session:
        existing = _run_row(session, source, business_date)
        if queued_only and (existing is None or existing.status != "queued"):
            return None
        if existing is not None and existing.status == "completed" and not force:
            return existing
        if existing is None:
            existing = ReconciliationRun(source=source, business_date=business_date)
        existing.status, existing.error, existing.started_at, existing.finished_at = "running", None, utcnow(), None
        session.add(existing)
        session.flush()
        run_id = existing.id
        before = _open_count(session, source)  # review items of this source so far
    try:
        checked = compare(business_date)
        status, error = "completed", None
    except ReportUnavailable as exc:
        checked, status, error = 0, "failed", str(exc)[:500]
        log.warning("daily reconciliation %s %s: %s", source, business_date, exc)
    with write_session() as session:
        row = session.get(ReconciliationRun, run_id)
        row.status, row.error, row.rows_checked, row.finished_at = status, error, checked, utcnow()
        row.differences = max(0, _open_count(session, source) - before)
        session.add(row)
    return row


@mutating_service
def run_again(source: str, business_date: date, *, actor: Actor, reason: str) -> ReconciliationRun:
    """Queue one source's comparison for a date to run again at a person's request (support / admin; 再突合).

    The run becomes 待機中 and a worker reads the report again; differences already queued are not
    queued twice. Writes one audit entry ("reconciliation.run"). A run already waiting or running
    is not queued a second time (Conflict), so a double click runs the comparison once.
    """
    require(actor, "review.resolve")
    if source not in SOURCES:
        raise ValidationFailed({"source": "突合の対象が正しくありません。"})
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    if business_date > today_in_tokyo():
        raise ValidationFailed({"business_date": "未来の日付は突合できません。"})
    with write_session() as session:
        row = _run_row(session, source, business_date)
        if row is not None and _in_progress(row, utcnow()):
            raise Conflict(f"{source_label(source)} {business_date:%Y/%m/%d} の突合は"
                           f"{'待機中' if row.status == 'queued' else '実行中'}です。終わってから実行してください。")
        row = row or ReconciliationRun(source=source, business_date=business_date)
        row.status, row.error, row.started_at, row.finished_at = "queued", None, utcnow(), None
        session.add(row)
        session.flush()
        record(session, actor, "reconciliation.run", row, reason=reason.strip())
    _enqueue(row.source, row.business_date)
    return row


def _in_progress(row: ReconciliationRun, now: datetime) -> bool:
    """Queued, or running within its lease (a run past its lease died with its worker)."""
    return row.status == "queued" or (row.status == "running" and now - _aware(row.started_at, now) < RUN_LEASE)


def _enqueue(source: str, business_date: date) -> None:
    try:
        dispatch.send("telecom.run_reconciliation", source, business_date.isoformat())
    except Exception:  # the run is queued in the ledger: the scheduled round starts it
        log.exception("could not queue reconciliation %s %s; the scheduled round will run it", source, business_date)


def run_due(today: date | None = None) -> dict[str, str]:
    """The scheduled round: queued runs whose task was lost, then every source for yesterday and the
    failed or missing days of the past week (a run in progress within its lease is left alone)."""
    today, now = today or today_in_tokyo(), utcnow()
    results: dict[str, str] = {}
    with read_session() as session:
        lost = [(r.source, r.business_date) for r in session.exec(select(ReconciliationRun).where(
            ReconciliationRun.status == "queued")) if now - _aware(r.started_at, now) >= QUEUE_GRACE]
    for source, day in lost:
        if (started := run(source, day, queued_only=True)) is not None:
            results[f"{source}:{day}"] = started.status
    for source in SOURCES:
        for back in range(CATCH_UP_DAYS, 0, -1):
            day = today - timedelta(days=back)
            with read_session() as session:
                done = _run_row(session, source, day)
            if done is not None and (done.status == "completed" or _in_progress(done, now)):
                continue
            if done is None and back > 1 and not _has_any_run(source):
                continue  # a new installation starts with yesterday, not a week of history
            try:
                results[f"{source}:{day}"] = run(source, day).status
            except IntegrityError:  # another worker started the same run a moment ago
                results[f"{source}:{day}"] = "running"
    return results


def _aware(moment: datetime, now: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)


def recent_runs(*, actor: Actor, limit: int = 30) -> list[ReconciliationRun]:
    """The latest runs, newest first (anyone who may see the review queue)."""
    require(actor, "review.view")
    with read_session() as session:
        return list(session.exec(select(ReconciliationRun).order_by(
            ReconciliationRun.business_date.desc(), ReconciliationRun.source).limit(limit)).all())


def _run_row(session: Session, source: str, business_date: date) -> ReconciliationRun | None:
    return session.exec(select(ReconciliationRun).where(ReconciliationRun.source == source,
                                                        ReconciliationRun.business_date == business_date)
                        .with_for_update()).first()


def _has_any_run(source: str) -> bool:
    with read_session() as session:
        return session.exec(select(ReconciliationRun.id).where(ReconciliationRun.source == source)).first() is not None


def _open_count(session: Session, source: str) -> int:
    return session.exec(select(func.count(ReviewItem.id)).where(
        ReviewItem.kind.startswith(SOURCES[source].kind_prefix))).one()

