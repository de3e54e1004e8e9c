"""The payment gateway's daily settlement report (決済精算レポート) compared with the ledger (日次突合).

Each report row (a succeeded charge or refund of one Tokyo day; a customer's payment on the gateway's card page
is a "checkout" row under the key that opened the page) is matched with the ledger's gateway operation sent
under the same idempotency key. A row whose operation the ledger does not hold as succeeded (for a checkout
row: whose payment the ledger never recorded), a ledger success of that day the report lacks, and a different
amount each open one review item (payment.settlement.*) with both sides as evidence; nothing is corrected
silently.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlmodel import select

from services.integrations.payment import PaymentClient, PaymentUnreachable
from services.models import ExternalOperation
from services.models.workflow import ExternalOperationStatus
from services.platform.clock import tokyo_day_bounds
from services.platform.db import write_session
from services.platform.labels import label
from services.workflow.daily_reconciliation import ReportSource, ReportUnavailable, open_difference
from services.workflow.outbox import client_for

PROVIDER = "payment"
OPERATIONS = ("charge", "refund")


def compare(business_date: date, *, client: PaymentClient | None = None) -> int:
    """Compare the gateway's settlement report of one Tokyo day with the ledger (system; daily job).

    Opens payment.settlement.missing_in_ledger, .missing_in_report and .amount_mismatch review items,
    each at most once per (date, idempotency key). Returns the number of report rows checked; raises
    ReportUnavailable when the report cannot be fetched or read.
    """
    gateway = client or client_for(PROVIDER)
    try:
        rows = gateway.settlement_report(business_date)
        report = {row["idempotency_key"]: _report_amount(row) for row in rows}
    except (PaymentUnreachable, KeyError, ValueError) as exc:
        raise ReportUnavailable(f"決済精算レポートを読めません: {exc}") from exc
    rows_by_key = {row["idempotency_key"]: row for row in rows}
    start, end = tokyo_day_bounds(business_date)
    with write_session() as session:
        in_report = {op.idempotency_key: op for op in session.exec(select(ExternalOperation).where(
            ExternalOperation.provider == PROVIDER,
            ExternalOperation.idempotency_key.in_(list(report)))).all()} if report else {}
        completed_that_day = session.exec(select(ExternalOperation).where(
            ExternalOperation.provider == PROVIDER, ExternalOperation.operation.in_(OPERATIONS),
            ExternalOperation.status == ExternalOperationStatus.SUCCEEDED.value,
            ExternalOperation.completed_at >= start, ExternalOperation.completed_at < end)).all()
        for key, row in rows_by_key.items():
            op = in_report.get(key)
            subject = f"{business_date.isoformat()}:{key}"[:128]
            evidence = {"report": row, "ledger": _ledger_side(op)}
            unpaid_page = op is not None and op.operation == "checkout" and op.payment_id is None  # webhook lost
            if op is None or op.status != ExternalOperationStatus.SUCCEEDED or op.operation != row.get("type") \
                    or unpaid_page:
                open_difference(session, kind="payment.settlement.missing_in_ledger", subject_key=subject,
                                reason=f"決済代行の精算レポートにある{_type_ja(row.get('type'))}"
                                       f"（{row.get('id')}、{report[key]:,}円）が台帳で完了になっていません。",
                                evidence=evidence, customer_id=op.customer_id if op else None,
                                external_operation_id=op.id if op else None)
            elif report[key] != _ledger_amount(op):
                open_difference(session, kind="payment.settlement.amount_mismatch", subject_key=subject,
                                reason=f"{_type_ja(row.get('type'))}の金額が一致しません（精算レポート "
                                       f"{report[key]:,}円、台帳 {_ledger_amount(op):,}円）。",
                                evidence=evidence, customer_id=op.customer_id, external_operation_id=op.id)
        absent = [op for op in completed_that_day if op.idempotency_key not in report]
        if absent:
            # an operation settled just after midnight may have happened (and be reported) the day before
            earlier = _keys_reported(gateway, business_date - timedelta(days=1))
            for op in absent:
                if op.idempotency_key in earlier:
                    continue
                open_difference(session, kind="payment.settlement.missing_in_report",
                                subject_key=f"{business_date.isoformat()}:{op.idempotency_key}"[:128],
                                reason=f"台帳で完了した{_type_ja(op.operation)}（外部連携処理 #{op.id}、"
                                       f"{_ledger_amount(op):,}円）が決済代行の精算レポートにありません。",
                                evidence={"report": None, "ledger": _ledger_side(op)},
                                customer_id=op.customer_id, external_operation_id=op.id)
    return len(rows)


def _report_amount(row: dict[str, str]) -> int:
    """The yen of a report row as the ledger counts it (a refund's negative amount as a positive refund)."""
    return abs(int(row["amount"]))


def _ledger_amount(op: ExternalOperation) -> int:
    return int(json.loads(op.payload_json).get("amount") or 0)


def _ledger_side(op: ExternalOperation | None) -> dict[str, Any] | None:
    if op is None:
        return None
    return {"external_operation_id": op.id, "operation": op.operation, "status": op.status,
            "amount": _ledger_amount(op), "provider_ref": op.provider_ref, "invoice_id": op.invoice_id,
            "payment_id": op.payment_id, "completed_at": op.completed_at}


def _keys_reported(gateway: PaymentClient, day: date) -> set[str]:
    try:
        return {row["idempotency_key"] for row in gateway.settlement_report(day)}
    except (PaymentUnreachable, KeyError) as exc:
        raise ReportUnavailable(f"前日の決済精算レポートを読めません: {exc}") from exc


def _type_ja(kind: str | None) -> str:
    return label("settlement_type", kind or "", default=label("settlement_type", "other"))


SOURCE = ReportSource("payment_settlement", label=label("report_source", "payment_settlement"),
                      kind_prefix="payment.settlement.", compare=compare)
