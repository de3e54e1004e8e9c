"""Bank transfers (銀行振込) into the operator's account: the bank's webhook and its daily statement.

A `transfer.received` webhook records the money as a bank_transfer payment once (the bank's
transaction id is its external_ref), audited as the system. When the transfer's EDI information
names an issued invoice whose outstanding amount is exactly the transfer, the payment is allocated
to it (消込); otherwise it stays 受領 for accounting. Each morning `compare` reads the bank's Zengin
入出金取引明細 of the previous day and queues every difference with the ledger for a person.

The statement identifies a transaction by the bank's 照会番号, which the webhook also carries and
the ledger keeps: entries are matched to payments by it, and a payment recorded without one (by
hand, or from a bank whose notice lacks it) is matched on (booked day, amount, payer name).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Session, select

from services.billing.allocation import allocate, allocated_amounts
from services.integrations.bank import BankClient, BankUnreachable, default_client
from services.integrations.zengin import DEPOSIT, ENCODING, ZenginFormatError, parse_statement
from services.models import Invoice, Payment, ReviewItem
from services.models.base import utcnow
from services.models.billing import InvoiceStatus
from services.platform.audit import record
from services.platform.clock import TOKYO, tokyo_day_bounds
from services.platform.db import write_session
from services.platform.labels import label
from services.platform.permissions import SYSTEM
from services.workflow.daily_reconciliation import ReportSource, ReportUnavailable, open_difference

PAYER_NAME_BYTES = 48  # the statement's 振込依頼人名 field
INVALID_KIND = "bank.transfer.invalid"


def bank_event(session: Session, event: dict[str, Any]) -> str:
    """Apply one bank webhook: transfer.received records the payment once and allocates it when its EDI
    names an issued invoice with exactly that outstanding amount; other events are ignored."""
    if event.get("type") != "transfer.received":
        return f"ignored: {event.get('type')}"
    data = event.get("data") or {}
    transfer_id, amount, payer_name = data.get("id"), data.get("amount"), str(data.get("payer_name") or "").strip()
    if (not isinstance(transfer_id, str) or not transfer_id or isinstance(amount, bool) or not isinstance(amount, int)
            or amount <= 0 or not payer_name or data.get("direction", "in") != "in"):
        session.add(ReviewItem(kind=INVALID_KIND, reason="銀行の入金通知を読み取れませんでした。入金明細で確認してください。",
                               evidence_json=json.dumps(event, ensure_ascii=False, default=str)))
        return "invalid transfer: queued for review"
    existing = session.exec(select(Payment.id).where(Payment.external_ref == transfer_id)).first()
    if existing is not None:
        return f"payment #{existing} already recorded"
    edi = str(data.get("edi") or "").strip() or None
    inquiry = data.get("inquiry_number")
    payment = Payment(amount=amount, method="bank_transfer", payer_name=payer_name[:200], reference=edi,
                      external_ref=transfer_id[:128], received_at=_received_at(data),
                      bank_inquiry_number=inquiry if isinstance(inquiry, int) and not isinstance(inquiry, bool)
                      and 0 < inquiry < 10 ** 8 else None)
    session.add(payment)
    session.flush()
    record(session, SYSTEM, "payment.record", payment,
           reason=f"銀行の入金通知（{event.get('id')}、取引 {transfer_id}）")
    invoice = _invoice_named(session, edi, amount)
    if invoice is None:
        return f"payment #{payment.id} recorded"
    allocate(session, payment, invoice, amount, actor=SYSTEM,
             reason=f"振込のEDI情報 {edi} が請求書番号・未収額と一致したため自動で消込")
    return f"payment #{payment.id} recorded and allocated to {invoice.invoice_no}"


def _invoice_named(session: Session, edi: str | None, amount: int) -> Invoice | None:
    """The issued invoice the EDI names, when exactly `amount` of it is outstanding."""
    if not edi:
        return None
    invoice = session.exec(select(Invoice).where(Invoice.invoice_no == edi).with_for_update()).first()
    if invoice is None or invoice.status != InvoiceStatus.ISSUED:
        return None
    outstanding = invoice.total - allocated_amounts(session, [invoice.id])[invoice.id]
    return invoice if outstanding == amount else None


def _received_at(data: dict[str, Any]) -> datetime:
    """When the money arrived: the bank's timestamp, on the day the bank booked it (Asia/Tokyo)."""
    try:
        booked = date.fromisoformat(str(data.get("booked_on")))
    except ValueError:
        booked = None
    try:
        created = datetime.fromisoformat(str(data.get("created_at")))
    except ValueError:
        created = None
    if created is not None and created.tzinfo is not None and (booked is None or created.astimezone(TOKYO).date()
                                                               == booked):
        return created.astimezone(UTC)
    return tokyo_day_bounds(booked)[0] if booked else utcnow()


def compare(business_date: date, *, client: BankClient | None = None) -> int:
    """Compare the bank's 入出金取引明細 of one Tokyo day with the ledger's bank transfers (system; daily job).

    Incoming statement entries without a ledger payment open bank.statement.missing_in_ledger;
    ledger bank_transfer payments received that day (with the bank's transaction id) absent from
    the statement open bank.statement.missing_in_statement; the same payer with another amount opens
    bank.statement.amount_mismatch. Matching is by 照会番号, else on (day, amount, payer name); each difference is
    queued once per date. Returns the number of incoming entries; raises ReportUnavailable when the
    file cannot be fetched, is malformed or covers another period.
    """
    try:
        parsed = parse_statement((client or default_client()).statement(business_date))
    except (BankUnreachable, ZenginFormatError) as exc:
        raise ReportUnavailable(f"銀行の入出金明細を読めません: {exc}") from exc
    period = parsed["period"]
    if period != (business_date, business_date):
        raise ReportUnavailable(f"入出金明細の期間が {period[0]}〜{period[1]} で、{business_date} ではありません。")
    entries = sorted((d for d in parsed["data"] if d["in_out"] == DEPOSIT), key=lambda d: d["inquiry_number"])
    start, end = tokyo_day_bounds(business_date)
    day = business_date.isoformat()
    with write_session() as session:
        payments = list(session.exec(select(Payment).where(
            Payment.method == "bank_transfer", Payment.external_ref.is_not(None),
            Payment.received_at >= start, Payment.received_at < end).order_by(Payment.id)).all())
        by_number: dict[int, Payment] = {}
        by_key: dict[tuple[int, str], list[Payment]] = defaultdict(list)
        for payment in payments:  # a number seen twice is no proof: those fall back to (amount, payer)
            if payment.bank_inquiry_number is not None and payment.bank_inquiry_number not in by_number:
                by_number[payment.bank_inquiry_number] = payment
            else:
                by_key[(payment.amount, statement_name(payment.payer_name))].append(payment)
        unmatched_entries = []
        for entry in entries:
            numbered = by_number.pop(entry["inquiry_number"], None)
            candidates = by_key.get((entry["amount"], entry["payer_name"]))
            if numbered is not None:
                payments.remove(numbered)
                if numbered.amount != entry["amount"]:
                    _amount_differs(session, day, entry, numbered)
            elif candidates:
                payments.remove(candidates.pop(0))
            else:
                unmatched_entries.append(entry)
        for entry in unmatched_entries:
            same_payer = next((p for p in payments if p not in by_number.values()
                               and statement_name(p.payer_name) == entry["payer_name"]), None)
            if same_payer is not None:
                payments.remove(same_payer)
                _amount_differs(session, day, entry, same_payer)
            else:
                open_difference(session, kind="bank.statement.missing_in_ledger",
                                subject_key=f"{day}:{entry['inquiry_number']:08d}",
                                reason=f"入出金明細の入金（照会番号 {entry['inquiry_number']}、{entry['payer_name']}、"
                                       f"{entry['amount']:,}円）が台帳にありません。",
                                evidence={"statement": entry, "ledger": None})
        for payment in payments:
            open_difference(session, kind="bank.statement.missing_in_statement",
                            subject_key=f"{day}:{payment.external_ref}"[:128],
                            reason=f"台帳の銀行振込（入金 #{payment.id}、{payment.payer_name}、{payment.amount:,}円）が"
                                   "入出金明細にありません。",
                            evidence={"statement": None, "ledger": _ledger_side(payment)},
                            customer_id=payment.customer_id)
    return len(entries)


def statement_name(payer_name: str) -> str:
    """A payer name as the statement's 48-byte 振込依頼人名 field carries it (cut, trailing spaces dropped)."""
    return payer_name.encode(ENCODING, errors="replace")[:PAYER_NAME_BYTES].decode(ENCODING, errors="ignore").rstrip(" ")


def _amount_differs(session: Session, day: str, entry: dict[str, Any], payment: Payment) -> None:
    open_difference(session, kind="bank.statement.amount_mismatch",
                    subject_key=f"{day}:{entry['inquiry_number']:08d}:{payment.external_ref}"[:128],
                    reason=f"振込依頼人 {entry['payer_name']} の入金額が一致しません（入出金明細 "
                           f"{entry['amount']:,}円、台帳 {payment.amount:,}円）。",
                    evidence={"statement": entry, "ledger": _ledger_side(payment)},
                    customer_id=payment.customer_id)


def _ledger_side(payment: Payment) -> dict[str, Any]:
    return {"payment_id": payment.id, "amount": payment.amount, "payer_name": payment.payer_name,
            "external_ref": payment.external_ref, "reference": payment.reference, "status": payment.status,
            "inquiry_number": payment.bank_inquiry_number,
            "received_at": payment.received_at}


SOURCE = ReportSource("bank_statement", label=label("report_source", "bank_statement"), kind_prefix="bank.statement.",
                      compare=compare)
