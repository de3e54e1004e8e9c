"""What the money screens read: payments not yet matched (未消込) with suggested invoices, the
accounts-receivable aging (売掛金年齢表) with its CSV, the billing runs and one run's review."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.billing.allocation import allocated_amounts
from services.billing.billing_runs import previous_period
from services.billing.corrections import misbilling_rate
from services.billing.matching import Candidate, suggest
from services.models import BillingAnomaly, BillingRun, Contract, Customer, Invoice, Payment, PaymentAllocation
from services.models.billing import InvoiceStatus, PaymentStatus
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session
from services.platform.errors import NotFound
from services.platform.formatting import tokyo_time, yen
from services.platform.identifiers import customer_code
from services.platform.labels import label, state_label
from services.platform.permissions import Actor, can, require

AGING_BUCKETS = (("current", "期日前", None, 0), ("d1_30", "1〜30日", 1, 30), ("d31_60", "31〜60日", 31, 60),
                 ("d61_90", "61〜90日", 61, 90), ("d90_plus", "90日超", 91, None))
CANDIDATE_LIMIT = 5000


def _outstanding_invoices(session: Session, customer_ids: list[int] | None = None) -> list[tuple[Invoice, int]]:
    query = select(Invoice).where(Invoice.status == InvoiceStatus.ISSUED.value, Invoice.kind == "invoice")
    if customer_ids is not None:
        query = query.where(col(Invoice.customer_id).in_(customer_ids))
    invoices = session.exec(query.order_by(Invoice.id)).all()
    paid = allocated_amounts(session, [i.id for i in invoices])
    return [(i, i.total - paid[i.id]) for i in invoices if i.total - paid[i.id] > 0]


def unmatched_payments(*, actor: Actor, limit: int = 100) -> list[dict[str, Any]]:
    """Money received but not (fully) allocated: each payment with what is left and up to five suggested
    invoices with the reasons (invoice number, amount, payer name as the bank wrote it)."""
    require(actor, "payment.view")
    with read_session() as session:
        used = (select(PaymentAllocation.payment_id, func.sum(PaymentAllocation.amount).label("used"))
                .group_by(PaymentAllocation.payment_id).subquery())
        rows = session.exec(
            select(Payment, func.coalesce(used.c.used, 0)).outerjoin(used, used.c.payment_id == Payment.id)
            .where(col(Payment.status).in_([PaymentStatus.RECEIVED.value, PaymentStatus.UNMATCHED.value,
                                            PaymentStatus.MATCHED.value]),  # matched in part: the rest waits too
                   Payment.method != "credit_note", Payment.amount > func.coalesce(used.c.used, 0))
            .order_by(col(Payment.received_at).desc()).limit(limit)).all()
        owed = _outstanding_invoices(session)[:CANDIDATE_LIMIT]
        customers = {c.id: c for c in session.exec(select(Customer).where(
            col(Customer.id).in_({i.customer_id for i, _ in owed} | {p.customer_id for p, _ in rows if p.customer_id})))}
        candidates = [Candidate(i.id, i.invoice_no, i.customer_id, customers[i.customer_id].name,
                                customers[i.customer_id].name_kana, left) for i, left in owed]
        out = []
        for payment, used_amount in rows:
            left = payment.amount - int(used_amount)
            pool = [c for c in candidates if payment.customer_id in (None, c.customer_id)]
            out.append({
                "id": payment.id, "received_at": tokyo_time(payment.received_at), "payer_name": payment.payer_name,
                "reference": payment.reference or "", "amount": yen(payment.amount), "left": yen(left),
                "left_yen": left, "method_label": label("payment_method", payment.method),
                "status_label": state_label("payment", payment.status),
                "customer": customers[payment.customer_id].name if payment.customer_id in customers else "",
                "suggestions": [{
                    "invoice_id": s.candidate.invoice_id, "invoice_no": s.candidate.invoice_no,
                    "customer_name": s.candidate.customer_name, "customer_code": customer_code(s.candidate.customer_id),
                    "outstanding": yen(s.candidate.outstanding), "amount": min(left, s.candidate.outstanding),
                    "reasons": "・".join(s.reasons), "score": s.score,
                } for s in suggest(payment.payer_name, payment.reference, left, pool)],
            })
        return out


def aging(*, actor: Actor, today: date | None = None) -> dict[str, Any]:
    """Accounts receivable by how long past due (期日前, 1–30, 31–60, 61–90, 90日超), per customer and in
    total, yen as numbers and as text."""
    require(actor, "payment.view")
    today = today or today_in_tokyo()
    with read_session() as session:
        owed = _outstanding_invoices(session)
        per_customer: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys([b[0] for b in AGING_BUCKETS], 0))
        for invoice, left in owed:
            late = (today - invoice.due_date).days if invoice.due_date else 0
            bucket = next(key for key, _, low, high in AGING_BUCKETS
                          if (low is None and late <= 0) or (low is not None and late >= low and (high is None or late <= high)))
            per_customer[invoice.customer_id][bucket] += left
        customers = {c.id: c for c in session.exec(select(Customer).where(col(Customer.id).in_(list(per_customer))))}
        rows = []
        for customer_id, buckets in sorted(per_customer.items(), key=lambda kv: -sum(kv[1].values())):
            rows.append({"customer_id": customer_id, "customer_code": customer_code(customer_id),
                         "customer_name": customers[customer_id].name, "total": sum(buckets.values()),
                         "total_text": yen(sum(buckets.values())), **buckets,
                         **{f"{k}_text": yen(v) for k, v in buckets.items()}})
        totals = {key: sum(r[key] for r in rows) for key, *_ in AGING_BUCKETS}
        return {"as_of": today.isoformat(), "rows": rows,
                "buckets": [{"key": k, "label": lbl, "total": yen(totals[k])} for k, lbl, *_ in AGING_BUCKETS],
                "total": yen(sum(totals.values()))}


def aging_csv(*, actor: Actor, today: date | None = None) -> tuple[str, bytes]:
    """The aging table as CSV (UTF-8 with BOM, so spreadsheet programs read the Japanese): file name and bytes."""
    require(actor, "payment.view")
    data = aging(actor=actor, today=today)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["顧客番号", "顧客名", *[lbl for _, lbl, *_ in AGING_BUCKETS], "合計"])
    for r in data["rows"]:
        writer.writerow([r["customer_code"], r["customer_name"], *[r[k] for k, *_ in AGING_BUCKETS], r["total"]])
    return f"aging-{data['as_of']}.csv", ("\ufeff" + out.getvalue()).encode("utf-8")


def billing_runs(*, actor: Actor, limit: int = 24) -> list[dict[str, Any]]:
    """The billing runs, newest period first, with progress, totals against last month and anomalies."""
    require(actor, "invoice.view")
    with read_session() as session:
        runs = session.exec(select(BillingRun).order_by(col(BillingRun.period).desc()).limit(limit)).all()
        return [_run_row(session, r) for r in runs]


def _run_row(session: Session, run: BillingRun) -> dict[str, Any]:
    corrected, issued = misbilling_rate(run.period)
    change = (run.total_amount - run.previous_total_amount) * 100 // run.previous_total_amount \
        if run.previous_total_amount else None
    return {
        "id": run.id, "period": run.period, "status": run.status, "status_label": state_label("billing_run", run.status),
        "progress": (run.done_contracts * 100 // run.total_contracts) if run.total_contracts else
        (100 if run.status not in ("queued", "running") else 0),
        "done": run.done_contracts, "total_contracts": run.total_contracts, "invoice_count": run.invoice_count,
        "issued_invoices": run.issued_invoices, "total_amount": yen(run.total_amount),
        "previous_period": previous_period(run.period), "previous_total": yen(run.previous_total_amount),
        "change": "" if change is None else f"{change:+d}%", "anomaly_count": run.anomaly_count,
        "error": run.error or "", "misbilling": f"{corrected} / {issued}（{corrected * 100 / issued:.2f}%）" if issued else "—",
        "created_at": tokyo_time(run.created_at), "drafted_at": tokyo_time(run.drafted_at),
        "issued_at": tokyo_time(run.issued_at),
    }


def billing_run_detail(run_id: int, *, actor: Actor) -> dict[str, Any]:
    """One run for its review: the run, its anomalies (open first) and what the reviewer may do."""
    require(actor, "invoice.view")
    with read_session() as session:
        run = session.get(BillingRun, run_id)
        if run is None:
            raise NotFound("請求締めが見つかりません。")
        anomalies = session.exec(
            select(BillingAnomaly, Invoice, Customer)
            .outerjoin(Invoice, Invoice.id == BillingAnomaly.invoice_id)
            .join(Contract, Contract.id == BillingAnomaly.contract_id)
            .join(Customer, Customer.id == Contract.customer_id)
            .where(BillingAnomaly.billing_run_id == run_id)
            .order_by(col(BillingAnomaly.acknowledged_at).is_not(None), BillingAnomaly.id).limit(500)).all()
        manage = can(actor, "billing.run")
        return {
            "run": _run_row(session, run),
            "anomalies": [{
                "id": a.id, "kind_label": label("anomaly_kind", a.kind), "message": a.message,
                "invoice_id": inv.id if inv else 0, "invoice_no": inv.invoice_no if inv else "",
                "contract_id": a.contract_id, "customer_name": cust.name if cust else "",
                "acknowledged": a.acknowledged_at is not None, "note": a.note or "",
            } for a, inv, cust in anomalies],
            "can_review": manage and run.status == "drafted",
            "can_issue": manage and run.status == "reviewed",
            "can_resume": manage and run.status == "failed",
        }
