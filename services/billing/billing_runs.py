"""The monthly billing run (請求締め): drafts for every billable contract, a person's review of what looks
wrong, then issue.

One run per period (YYYY-MM), after the month has ended. A worker makes the drafts in chunks (each its own
transaction, progress kept on the run): asking again for a period that has a run creates nothing and says
so, and a run that stopped half-way resumes where it stopped (contracts with an invoice for the period are
skipped). Before issue the run shows totals against last month and flags anomalies — a bill ±50% from the
contract's last one, nothing to bill on a contract with a number in service, discounts above the charges —
and each must be acknowledged. Issuing (a person's decision) runs in a worker too: numbers were taken when
the drafts were made; issue date, due date (next bank business day), the issuer and the recipient are
fixed, a customer's credit balance is applied, what is left is charged to a card on file
(card_payments.charge_card_on_file, once per bill), and the customer is told (請求書発行のお知らせ).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, func, insert, or_, update
from sqlmodel import Session, col, select

from services.billing import rating
from services.billing.allocation import allocate
from services.billing.card_payments import charge_card_on_file
from services.billing.invoices import amounts_by_rate, consumption_tax, end_of_next_month, take_numbers
from services.billing.rating import ContractFacts, month_bounds
from services.ledger.catalogue import PriceBook
from services.ledger.notifications import notify_in, permalink
from services.models import (
    BillingAnomaly,
    BillingRun,
    Contract,
    ContractOption,
    ContractPlanPeriod,
    Customer,
    InstalmentPlan,
    Invoice,
    InvoiceItem,
    Line,
    Payment,
    PaymentAllocation,
    PendingCharge,
    RateOption,
    RatePlan,
)
from services.models.base import utcnow
from services.models.billing import BillingRunEvent, BillingRunStatus, InvoiceStatus, PaymentStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.business_days import next_bank_business_day
from services.platform.clock import TOKYO, today_in_tokyo
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.formatting import yen
from services.platform.labels import state_label
from services.platform.lifecycle import Lifecycle, transition
from services.platform.permissions import SYSTEM, Actor, require
from services.workflow import dispatch

R, RE = BillingRunStatus, BillingRunEvent
BILLING_RUN = Lifecycle("billing_run", R, RE, {
    (R.QUEUED, RE.START): R.RUNNING,
    (R.QUEUED, RE.FAIL): R.FAILED,
    (R.RUNNING, RE.FINISH_DRAFTS): R.DRAFTED,
    (R.RUNNING, RE.FAIL): R.FAILED,
    (R.FAILED, RE.RESUME): R.QUEUED,
    (R.DRAFTED, RE.REVIEW): R.REVIEWED,
    (R.REVIEWED, RE.REOPEN): R.DRAFTED,
    (R.REVIEWED, RE.START_ISSUE): R.ISSUING,
    (R.ISSUING, RE.FINISH_ISSUE): R.ISSUED,
})

DRAFT_TASK = "telecom.billing_run_draft"
ISSUE_TASK = "telecom.billing_run_issue"
CHUNK = 2000
CHANGE_LIMIT = 0.5  # ±50% against the contract's previous bill
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def previous_period(period: str) -> str:
    """The month before "YYYY-MM"."""
    first, _ = month_bounds(period)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def _tokyo_day(moment: datetime | None) -> date | None:
    return moment.astimezone(TOKYO).date() if moment is not None else None


def _check_period(period: str) -> None:
    if not _PERIOD.match(period or ""):
        raise ValidationFailed({"period": "請求月は YYYY-MM の形式で入力してください（例: 2026-11）。"})
    if month_bounds(period)[1] >= today_in_tokyo():
        raise ValidationFailed({"period": f"{period} はまだ終わっていません。月末を過ぎてから締めてください。"})


# --------------------------------------------------------------------------- asking for a run


@mutating_service
def request_run(period: str, *, actor: Actor) -> tuple[BillingRun, str]:
    """Ask for the billing run of `period` (admin, accounting; the schedule asks as the system). Returns the run
    and what happened, in words: a new run is queued for a worker; a failed run is resumed; otherwise nothing
    is created and the message says where the period's run stands."""
    require(actor, "billing.run")
    _check_period(period)
    with write_session() as session:
        run = session.exec(select(BillingRun).where(BillingRun.period == period).with_for_update()).first()
        if run is not None and run.status != R.FAILED:
            return run, (f"{period} の請求締めは既にあります（{state_label('billing_run', run.status)}）。"
                         "もう一度実行しても新しい請求書は作られません。")
        if run is None:
            run = BillingRun(period=period, created_by=actor.id if actor.is_staff else None)
            session.add(run)
            session.flush()
            record(session, actor, "billing_run.request", run)
            message = f"{period} の請求締めを開始しました。進み具合はこの画面に表示されます。"
        else:
            transition(session, run, BILLING_RUN, RE.RESUME, actor=actor, reason="途中で止まった締めの再開")
            message = f"{period} の請求締めを、止まったところから再開しました。"
        run_id = run.id
    dispatch.send(DRAFT_TASK, run_id)
    return run, message


def schedule_monthly_run(today: date | None = None) -> BillingRun | None:
    """Beat's daily round: on and after the 1st, last month's run is asked for once (as the system); issuing it
    stays a person's decision."""
    period = previous_period((today or today_in_tokyo()).strftime("%Y-%m"))
    with read_session() as session:
        if session.exec(select(BillingRun).where(BillingRun.period == period)).first() is not None:
            return None
    run, _ = request_run(period, actor=SYSTEM)
    return run


# --------------------------------------------------------------------------- drafting (the worker)


def _billable_contract_ids(session: Session, period: str) -> list[int]:
    first, last = month_bounds(period)
    spans = select(ContractPlanPeriod.contract_id).where(
        ContractPlanPeriod.valid_from <= last,
        or_(col(ContractPlanPeriod.valid_to).is_(None), ContractPlanPeriod.valid_to >= first))
    charges = select(PendingCharge.contract_id).where(col(PendingCharge.invoice_item_id).is_(None),
                                                      PendingCharge.occurred_on <= last)
    instalments = select(InstalmentPlan.contract_id)
    ids = set(session.exec(spans).all()) | set(session.exec(charges).all()) | set(session.exec(instalments).all())
    return sorted(ids)


def _covering(column, ids: list[int]):
    """Conditions that together select at least the rows whose `column` is one of `ids` (sorted): one range when
    the ids are dense (nothing long to compile, send and look up one by one), else IN lists of 5,000. The caller
    keeps only the ids it asked for."""
    if not ids:
        return []
    if ids[-1] - ids[0] < 2 * len(ids) + 1000:
        return [column.between(ids[0], ids[-1])]
    return [col(column).in_(ids[i:i + 5000]) for i in range(0, len(ids), 5000)]


def _invoiced(session: Session, period: str, contract_ids: list[int]) -> set[int]:
    wanted = set(contract_ids)
    done: set[int] = set()
    for where in _covering(Invoice.contract_id, sorted(wanted)):
        done.update(cid for cid in session.exec(select(Invoice.contract_id).where(
            where, Invoice.period == period, Invoice.kind == "invoice", Invoice.status != InvoiceStatus.VOID.value))
            if cid in wanted)
    return done


def load_facts(session: Session, contract_ids: list[int], period: str) -> dict[int, ContractFacts]:
    """What rating needs about these contracts for `period`, in a few queries."""
    first, last = month_bounds(period)
    wanted = set(contract_ids)
    ids = sorted(wanted)
    if not ids:
        return {}
    plan_names = dict(session.execute(select(RatePlan.id, RatePlan.name)).all())
    option_names = dict(session.execute(select(RateOption.id, RateOption.name)).all())
    contracts: dict[int, tuple] = {}
    plans: dict[int, list] = defaultdict(list)
    options: dict[int, list] = defaultdict(list)
    lines: dict[int, list] = defaultdict(list)
    charges: dict[int, list] = defaultdict(list)
    instalments: dict[int, list] = defaultdict(list)
    Span, LineInService, Charge, Instalment = rating.Span, rating.LineInService, rating.Charge, rating.Instalment
    for where in _covering(Contract.id, ids):
        for cid, customer_id, start, end in session.execute(
                select(Contract.id, Contract.customer_id, Contract.start_date, Contract.end_date).where(where)
                .order_by(Contract.id)):
            if cid in wanted:
                contracts[cid] = (customer_id, start, end)
    for where in _covering(ContractPlanPeriod.contract_id, ids):
        for cid, plan_id, valid_from, valid_to in session.execute(
                select(ContractPlanPeriod.contract_id, ContractPlanPeriod.rate_plan_id, ContractPlanPeriod.valid_from,
                       ContractPlanPeriod.valid_to)
                .where(where, ContractPlanPeriod.valid_from <= last)
                .order_by(ContractPlanPeriod.contract_id, ContractPlanPeriod.valid_from)):
            if cid in wanted:
                plans[cid].append(Span(plan_id, plan_names[plan_id], valid_from, valid_to))
    for where in _covering(ContractOption.contract_id, ids):
        for cid, option_id, valid_from, valid_to in session.execute(
                select(ContractOption.contract_id, ContractOption.rate_option_id, ContractOption.valid_from,
                       ContractOption.valid_to)
                .where(where, ContractOption.valid_from <= last)
                .order_by(ContractOption.contract_id, ContractOption.id)):
            if cid in wanted:
                options[cid].append(Span(option_id, option_names[option_id], valid_from, valid_to))
    for where in _covering(Line.contract_id, ids):
        for line_id, cid, activated, terminated in session.execute(
                select(Line.id, Line.contract_id, Line.activated_at, Line.terminated_at)
                .where(where, col(Line.activated_at).is_not(None))):
            if cid in wanted:
                lines[cid].append(LineInService(line_id, _tokyo_day(activated), _tokyo_day(terminated)))
    for where in _covering(PendingCharge.contract_id, ids):
        for c in session.execute(
                select(PendingCharge.contract_id, PendingCharge.id, PendingCharge.code, PendingCharge.description,
                       PendingCharge.quantity, PendingCharge.unit_price, PendingCharge.tax_rate_percent,
                       PendingCharge.occurred_on, PendingCharge.line_id)
                .where(where, col(PendingCharge.invoice_item_id).is_(None), PendingCharge.occurred_on <= last)):
            if c[0] in wanted:
                charges[c[0]].append(Charge(*c[1:]))
    for where in _covering(InstalmentPlan.contract_id, ids):
        for i in session.execute(
                select(InstalmentPlan.contract_id, InstalmentPlan.id, InstalmentPlan.description, InstalmentPlan.total,
                       InstalmentPlan.months, InstalmentPlan.first_period, InstalmentPlan.tax_rate_percent,
                       InstalmentPlan.line_id)
                .where(where).order_by(InstalmentPlan.contract_id, InstalmentPlan.id)):
            if i[0] in wanted:
                instalments[i[0]].append(Instalment(*i[1:]))
    return {cid: ContractFacts(cid, customer_id, start, end, plans[cid], options[cid], lines[cid], charges[cid],
                               instalments[cid]) for cid, (customer_id, start, end) in contracts.items()}


def _previous_totals(session: Session, period: str, contract_ids: list[int]) -> dict[int, int]:
    wanted = set(contract_ids)
    totals: dict[int, int] = {}
    for where in _covering(Invoice.contract_id, sorted(wanted)):
        for cid, total in session.execute(select(Invoice.contract_id, Invoice.total).where(
                where, Invoice.period == previous_period(period), Invoice.kind == "invoice",
                Invoice.status != InvoiceStatus.VOID.value).order_by(Invoice.contract_id, Invoice.id)):
            if cid in wanted:
                totals[cid] = total
    return totals


_yen = lru_cache(maxsize=8192)(yen)  # the same amounts come back on many bills; formatting one takes a while


def _anomalies(facts: ContractFacts, total: int | None, previous: int | None, period: str) -> list[tuple[str, str]]:
    first, last = month_bounds(period)
    in_service = any(rating._clip(ln.start, ln.end, first, last) for ln in facts.lines)
    found = []
    if total is None:
        if in_service:
            found.append(("nothing_to_bill", "番号が利用中なのに請求する明細がありません（プランの設定を確認してください）。"))
        return found
    if total == 0 and in_service:
        found.append(("zero", "利用中の番号があるのに請求額が0円です。"))
    if previous and abs(total - previous) > previous * CHANGE_LIMIT:
        change = (total - previous) * 100 // previous
        found.append(("change", f"前月の請求額 {_yen(previous)} から {change:+d}% 変わっています（今月 {_yen(total)}）。"))
    return found


_INVOICE_COLUMNS = ("invoice_no", "customer_id", "contract_id", "period", "status", "subtotal", "tax", "total",
                    "created_at", "kind", "billing_run_id", "period_start", "period_end")
_ITEM_COLUMNS = ("invoice_id", "line_id", "description", "quantity", "unit_price", "amount", "tax_rate_percent",
                 "kind", "service_from", "service_to", "note")
_ANOMALY_COLUMNS = ("billing_run_id", "invoice_id", "contract_id", "kind", "message")


def _draft_chunk(run_id: int, period: str, contract_ids: list[int], book: PriceBook) -> int:
    """Draft the invoices of one chunk in one transaction; returns how many were written."""
    first, last = month_bounds(period)
    with write_session() as session:
        run = session.exec(select(BillingRun).where(BillingRun.id == run_id).with_for_update()).first()
        done = _invoiced(session, period, contract_ids)  # drafted meanwhile (a second delivery): never twice
        todo = [cid for cid in contract_ids if cid not in done]
        facts = load_facts(session, todo, period)
        previous = _previous_totals(session, period, todo)
        drafts: list[tuple[ContractFacts, list[rating.Item], int, int]] = []
        anomalies: list[tuple] = []
        for cid in todo:
            f = facts[cid]
            items = rating.rate_contract(f, period, book)
            if not items:
                anomalies += [(run_id, None, cid, k, m) for k, m in _anomalies(f, None, None, period)]
                continue
            by_rate = amounts_by_rate({"quantity": i.quantity, "unit_price": i.unit_price,
                                       "tax_rate_percent": i.tax_rate_percent} for i in items)
            subtotal = sum(by_rate.values())
            if subtotal < 0:
                anomalies.append((run_id, None, cid, "negative",
                                  f"値引きが請求額を上回ります（{_yen(subtotal)}）。請求書は作っていません。"))
                continue
            drafts.append((f, items, subtotal, consumption_tax(by_rate)))
        numbers = take_numbers(session, "invoice", period, len(drafts)) if drafts else []
        now = utcnow()
        draft = InvoiceStatus.DRAFT.value
        invoice_rows = [(numbers[n], f.customer_id, f.contract_id, period, draft, subtotal, tax, subtotal + tax, now,
                         "invoice", run_id, first, last) for n, (f, _, subtotal, tax) in enumerate(drafts)]
        ids = _insert_invoices(session, invoice_rows)
        items_out = _RowWriter(session, InvoiceItem.__table__, _ITEM_COLUMNS)
        service_day = items_out.converter("service_from")
        item_rows, linked = [], []
        for invoice_id, (_, items, _, _) in zip(ids, drafts, strict=True):
            for position, item in enumerate(items):
                item_rows.append((invoice_id, item.line_id, item.description[:200], item.quantity, item.unit_price,
                                  item.amount, item.tax_rate_percent, item.kind, service_day[item.service_from],
                                  service_day[item.service_to], item.note))
                if item.pending_charge_id:
                    linked.append((invoice_id, position, item.pending_charge_id))
        items_out.write(item_rows)
        if linked:
            _link_charges(session, linked)
        for invoice_id, (f, _, subtotal, tax) in zip(ids, drafts, strict=True):
            anomalies += [(run_id, invoice_id, f.contract_id, k, m)
                          for k, m in _anomalies(f, subtotal + tax, previous.get(f.contract_id), period)]
        _RowWriter(session, BillingAnomaly.__table__, _ANOMALY_COLUMNS).write(anomalies)
        run.done_contracts += len(contract_ids)
        run.updated_at = now
        session.add(run)
        if ids:
            record(session, SYSTEM, "billing_run.draft", run, after={
                "period": period, "invoices": len(ids), "first_invoice_id": ids[0], "last_invoice_id": ids[-1],
                "total": sum(r[7] for r in invoice_rows), "anomalies": len(anomalies)})
        return len(ids)


class _Converted(dict):
    """Values as the database driver takes them, each converted once (a month has few distinct days)."""

    def __init__(self, process):
        super().__init__()
        self.process = process

    def __missing__(self, value):
        converted = self[value] = self.process(value)
        return converted


class _RowWriter:
    """Many rows into one table in one executemany, without RETURNING. On SQLite the rows go to the driver as they
    are (a column SQLAlchemy converts, such as a date, through `converter`); elsewhere through SQLAlchemy Core."""

    def __init__(self, session: Session, table, columns: tuple[str, ...]):
        self.conn, self.table, self.columns = session.connection(), table, columns
        self.direct = self.conn.dialect.name == "sqlite"

    def converter(self, column: str) -> dict:
        """A mapping from a value of `column` to what goes into a row for write()."""
        dialect = self.conn.dialect
        process = self.table.c[column].type.dialect_impl(dialect).bind_processor(dialect) if self.direct else None
        return _Converted(process or (lambda value: value))

    def write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if not self.direct:
            self.conn.execute(insert(self.table), [dict(zip(self.columns, row, strict=True)) for row in rows])
            return
        quote = self.conn.dialect.identifier_preparer.quote
        self.conn.exec_driver_sql(
            f"INSERT INTO {quote(self.table.name)} ({', '.join(quote(c) for c in self.columns)}) "
            f"VALUES ({', '.join('?' * len(self.columns))})", rows)


def _insert_invoices(session: Session, rows: list[tuple]) -> list[int]:
    """Insert the drafts (rows in _INVOICE_COLUMNS order) and return their ids in the rows' order, read back by
    invoice number (one executemany and one range read instead of a RETURNING per row)."""
    if not rows:
        return []
    table = Invoice.__table__
    before = session.execute(select(func.max(table.c.id))).scalar() or 0
    writer = _RowWriter(session, table, _INVOICE_COLUMNS)
    convert = [writer.converter(c) for c in ("created_at", "period_start", "period_end")]
    writer.write([(*row[:8], convert[0][row[8]], *row[9:11], convert[1][row[11]], convert[2][row[12]])
                  for row in rows])
    position = {row[0]: n for n, row in enumerate(rows)}
    ids = [0] * len(rows)
    for invoice_id, number in session.execute(select(table.c.id, table.c.invoice_no).where(table.c.id > before)):
        n = position.get(number)
        if n is not None:
            ids[n] = invoice_id
    if not all(ids):
        raise RuntimeError("drafts written but not all read back by number")
    return ids


def _link_charges(session: Session, linked: list[tuple[int, int, int]]) -> None:
    """Point each billed pending charge at its invoice item: (invoice id, the item's place on it, charge id). An
    invoice's items were inserted in order, so its n-th item by id is the n-th it was given."""
    table = InvoiceItem.__table__
    invoice_ids = sorted({invoice_id for invoice_id, _, _ in linked})
    items: dict[int, list[int]] = defaultdict(list)
    for where in _covering(table.c.invoice_id, invoice_ids):
        for item_id, invoice_id in session.execute(select(table.c.id, table.c.invoice_id).where(where)
                                                   .order_by(table.c.id)):
            items[invoice_id].append(item_id)
    session.execute(update(PendingCharge.__table__).where(PendingCharge.__table__.c.id == bindparam("pid"))
                    .values(invoice_item_id=bindparam("iid")),
                    [{"pid": pid, "iid": items[invoice_id][position]} for invoice_id, position, pid in linked])


def draft_run(run_id: int) -> BillingRun:
    """The worker's part: make the period's drafts chunk by chunk, then the totals and the anomaly count.
    Delivered twice or resumed after a crash, it only does what is left."""
    with write_session() as session:
        run = session.exec(select(BillingRun).where(BillingRun.id == run_id).with_for_update()).first()
        if run is None:
            raise NotFound("請求締めが見つかりません。")
        if run.status not in (R.QUEUED, R.RUNNING):
            return run
        if run.status == R.QUEUED:
            transition(session, run, BILLING_RUN, RE.START, actor=SYSTEM, reason="下書きの作成を開始")
        run.started_at = run.started_at or utcnow()
        period = run.period
        billable = _billable_contract_ids(session, period)
        already = _invoiced(session, period, billable)
        run.total_contracts = len(billable)
        run.done_contracts = len(already)
        session.add(run)
        book = PriceBook(session)
    todo = [cid for cid in billable if cid not in already]
    try:
        for i in range(0, len(todo), CHUNK):
            _draft_chunk(run_id, period, todo[i:i + CHUNK], book)
    except Exception as exc:
        _fail(run_id, f"{type(exc).__name__}: {exc}")
        raise
    return _finish_drafts(run_id)


def _fail(run_id: int, error: str) -> None:
    with write_session() as session:
        run = session.exec(select(BillingRun).where(BillingRun.id == run_id).with_for_update()).first()
        if run is not None and run.status in (R.QUEUED, R.RUNNING):
            run.error = error[:1000]
            transition(session, run, BILLING_RUN, RE.FAIL, actor=SYSTEM, reason=error[:500])


def _finish_drafts(run_id: int) -> BillingRun:
    with write_session() as session:
        run = session.exec(select(BillingRun).where(BillingRun.id == run_id).with_for_update()).first()
        count, total = session.exec(select(func.count(), func.coalesce(func.sum(Invoice.total), 0)).where(
            Invoice.billing_run_id == run_id, Invoice.status != InvoiceStatus.VOID.value)).one()
        previous = session.exec(select(func.coalesce(func.sum(Invoice.total), 0)).where(
            Invoice.period == previous_period(run.period), Invoice.kind == "invoice",
            Invoice.status != InvoiceStatus.VOID.value)).one()
        run.invoice_count, run.total_amount, run.previous_total_amount = int(count), int(total), int(previous)
        run.anomaly_count = int(session.exec(select(func.count()).select_from(BillingAnomaly)
                                             .where(BillingAnomaly.billing_run_id == run_id)).one())
        run.done_contracts, run.drafted_at, run.error = run.total_contracts, utcnow(), None
        transition(session, run, BILLING_RUN, RE.FINISH_DRAFTS, actor=SYSTEM,
                   reason=f"下書き {run.invoice_count:,}件 合計 {yen(run.total_amount)}（要確認 {run.anomaly_count}件）")
        return run


# --------------------------------------------------------------------------- review and issue


def _locked_run(session: Session, run_id: int) -> BillingRun:
    run = session.exec(select(BillingRun).where(BillingRun.id == run_id).with_for_update()).first()
    if run is None:
        raise NotFound("請求締めが見つかりません。")
    return run


@mutating_service
def acknowledge_anomaly(anomaly_id: int, *, actor: Actor, note: str) -> BillingAnomaly:
    """Mark one flagged draft as looked at, with what was found (admin, accounting); needed before review."""
    require(actor, "billing.run")
    if not (note or "").strip():
        raise ValidationFailed({"note": "確認した内容を入力してください。"})
    with write_session() as session:
        anomaly = session.exec(select(BillingAnomaly).where(BillingAnomaly.id == anomaly_id).with_for_update()).first()
        if anomaly is None:
            raise NotFound("確認項目が見つかりません。")
        run = _locked_run(session, anomaly.billing_run_id)
        if run.status != R.DRAFTED:
            raise Conflict("この請求締めは確認中ではありません。")
        if anomaly.acknowledged_at is not None:
            return anomaly
        before = snapshot(anomaly)
        anomaly.acknowledged_by, anomaly.acknowledged_at, anomaly.note = actor.id, utcnow(), note.strip()[:500]
        session.add(anomaly)
        record(session, actor, "billing_run.acknowledge", anomaly, before=before, reason=note.strip())
    return anomaly


@mutating_service
def review_run(run_id: int, *, actor: Actor, reason: str) -> BillingRun:
    """Record that a person checked the drafts (admin, accounting): every flagged draft must be acknowledged."""
    require(actor, "billing.run")
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "確認した内容を入力してください。"})
    with write_session() as session:
        run = _locked_run(session, run_id)
        if run.status == R.REVIEWED:
            return run
        open_count = session.exec(select(func.count()).select_from(BillingAnomaly).where(
            BillingAnomaly.billing_run_id == run_id, col(BillingAnomaly.acknowledged_at).is_(None))).one()
        if open_count:
            raise Conflict(f"未確認の要確認項目が {open_count} 件あります。すべて確認してから確認済にしてください。")
        run.reviewed_by, run.reviewed_at = actor.id, utcnow()
        transition(session, run, BILLING_RUN, RE.REVIEW, actor=actor, reason=reason.strip())
    return run


@mutating_service
def issue_run(run_id: int, *, actor: Actor) -> BillingRun:
    """Issue a reviewed run (admin, accounting): a worker issues its drafts and tells the customers. Asking
    again while it issues, or after, changes nothing."""
    require(actor, "billing.run")
    with write_session() as session:
        run = _locked_run(session, run_id)
        if run.status in (R.ISSUING, R.ISSUED):
            return run
        run.issued_by = actor.id
        transition(session, run, BILLING_RUN, RE.START_ISSUE, actor=actor,
                   reason=f"{run.invoice_count:,}件 合計 {yen(run.total_amount)} を発行")
    dispatch.send(ISSUE_TASK, run_id)
    return run


def credit_balances(session: Session, customer_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """Per customer, money received and not yet allocated (過入金・前受金): [(payment id, amount left)], oldest first."""
    allocated = (select(PaymentAllocation.payment_id, func.sum(PaymentAllocation.amount).label("used"))
                 .group_by(PaymentAllocation.payment_id).subquery())
    rows = session.exec(
        select(Payment.customer_id, Payment.id, Payment.amount - func.coalesce(allocated.c.used, 0))
        .outerjoin(allocated, allocated.c.payment_id == Payment.id)
        .where(col(Payment.customer_id).in_(customer_ids),
               col(Payment.status).in_([PaymentStatus.RECEIVED.value, PaymentStatus.MATCHED.value]))
        .order_by(Payment.received_at, Payment.id)).all()
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for customer_id, payment_id, left in rows:
        if left and left > 0:
            out[customer_id].append((payment_id, int(left)))
    return out


def _issue_chunk(run_id: int, invoice_ids: list[int]) -> None:
    today = today_in_tokyo()
    due = next_bank_business_day(end_of_next_month(today))
    issuer = settings.issuer
    with write_session() as session:
        invoices = session.exec(select(Invoice).where(col(Invoice.id).in_(invoice_ids),
                                                      Invoice.status == InvoiceStatus.DRAFT.value)
                                .order_by(Invoice.id).with_for_update()).all()
        customers = {c.id: c for c in session.exec(select(Customer).where(
            col(Customer.id).in_({i.customer_id for i in invoices})))}
        credits = credit_balances(session, list(customers))
        for invoice in invoices:
            invoice.status, invoice.issue_date, invoice.due_date = InvoiceStatus.ISSUED.value, today, due
            invoice.issuer_name, invoice.issuer_address = issuer.name, issuer.address
            invoice.issuer_registration_number = issuer.registration_number
            invoice.recipient_name = customers[invoice.customer_id].name
            session.add(invoice)
        session.flush()
        run = _locked_run(session, run_id)
        record(session, SYSTEM, "billing_run.issue", run, after={
            "issued": len(invoices), "first_invoice_id": invoices[0].id if invoices else None,
            "last_invoice_id": invoices[-1].id if invoices else None, "issue_date": today.isoformat(),
            "due_date": due.isoformat(), "issuer_registration_number": issuer.registration_number})
        for invoice in invoices:
            left = invoice.total
            for n, (payment_id, amount) in enumerate(credits.get(invoice.customer_id, [])):
                if left <= 0 or amount <= 0:
                    continue
                use = min(left, amount)
                allocate(session, session.get(Payment, payment_id), invoice, use, actor=SYSTEM,
                         reason="前回までの過入金（前受金）を充当")
                credits[invoice.customer_id][n] = (payment_id, amount - use)
                left -= use
            charged = charge_card_on_file(session, invoice) is not None
            customer = customers[invoice.customer_id]
            notify_in(session, customer, actor=SYSTEM, kind="invoice_issued",
                      title=f"{invoice.period[:4]}年{int(invoice.period[5:])}月分のご請求（{yen(invoice.total)}）",
                      body=(f"{customer.name} 様\n{invoice.period[:4]}年{int(invoice.period[5:])}月分の請求書"
                            f"（{invoice.invoice_no}）を発行しました。\nご請求金額: {yen(invoice.total)}（税込）\n"
                            f"お支払期限: {due:%Y年%m月%d日}\n"
                            + (f"前受金 {yen(invoice.total - left)} を充当しました。お支払いいただく金額は {yen(left)} です。\n"
                               if left < invoice.total else "")
                            + ("ご登録のカードにご請求します。\n" if charged else "")
                            + "明細と請求書（PDF）は次のリンクからご確認いただけます。"),
                      link=permalink("invoice", invoice.id), channels=("mail", "in_app"))
        run.issued_invoices += len(invoices)
        session.add(run)


def issue_drafts(run_id: int) -> BillingRun:
    """The worker's part of issuing: every draft of the run, chunk by chunk; delivered twice, it only issues
    what is still a draft."""
    with read_session() as session:
        run = session.get(BillingRun, run_id)
        if run is None or run.status != R.ISSUING:
            return run
        ids = session.exec(select(Invoice.id).where(Invoice.billing_run_id == run_id,
                                                    Invoice.status == InvoiceStatus.DRAFT.value)
                           .order_by(Invoice.id)).all()
    for i in range(0, len(ids), 500):
        _issue_chunk(run_id, ids[i:i + 500])
    with write_session() as session:
        run = _locked_run(session, run_id)
        if run.status == R.ISSUING:
            run.issued_at = utcnow()
            transition(session, run, BILLING_RUN, RE.FINISH_ISSUE, actor=SYSTEM,
                       reason=f"{run.issued_invoices:,}件を発行")
        return run
