"""Invoices (請求書): creation with consumption tax, numbering, issue and void.

Money is integer yen. Consumption tax (消費税) is computed once per invoice per tax rate (10% and the
reduced 8%) on the sum of that rate's item amounts and rounded down (切り捨て), as a qualified invoice
(適格請求書) requires. Numbers come from one series per kind and month (INV-202605-000001,
CN-202605-000001 for credit notes), taken in the invoice's own transaction: no gaps, and a voided
invoice keeps its number. Issuing fixes the issuer's name and 登録番号 and the recipient on the invoice.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy.orm import object_session
from sqlmodel import Session, select

from services.billing.allocation import allocated_amounts
from services.billing.card_payments import charge_card_on_file
from services.billing.rating import month_bounds
from services.models import Contract, Customer, Invoice, InvoiceItem, InvoiceNumberSeries, Line
from services.models.billing import InvoiceEvent, InvoiceStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.business_days import next_bank_business_day
from services.platform.clock import today_in_tokyo
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.formatting import yen
from services.platform.labels import state_label
from services.platform.lifecycle import Lifecycle, transition
from services.platform.permissions import Actor, require
from services.workflow import approvals
from services.workflow.approval_gate import require_approval
from services.workflow.approvals import Policy, Preview

I, IE = InvoiceStatus, InvoiceEvent
INVOICE = Lifecycle("invoice", I, IE, {
    (I.DRAFT, IE.ISSUE): I.ISSUED,
    (I.DRAFT, IE.VOID): I.VOID,
    (I.ISSUED, IE.VOID): I.VOID,
})


STANDARD_TAX_RATE_PERCENT = 10
REDUCED_TAX_RATE_PERCENT = 8
TAX_RATES = (STANDARD_TAX_RATE_PERCENT, REDUCED_TAX_RATE_PERCENT)
DESCRIPTION_MAX_LENGTH = 200
SERIES_PREFIX = {"invoice": "INV", "credit_note": "CN"}
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _date_the_invoice(invoice: Invoice) -> None:
    """Issued today (Asia/Tokyo), due at the end of next month (the next bank business day when that is a
    weekend or holiday); the issuer and the recipient are fixed on it as they are today."""
    invoice.issue_date = today_in_tokyo()
    invoice.due_date = None if invoice.kind == "credit_note" else next_bank_business_day(
        end_of_next_month(invoice.issue_date))
    stamp_parties(object_session(invoice), invoice)


def stamp_parties(session: Session, invoice: Invoice) -> None:
    """Fix on an invoice being issued who issues it (name, 登録番号, address) and to whom."""
    issuer = settings.issuer
    invoice.issuer_name, invoice.issuer_address = issuer.name, issuer.address
    invoice.issuer_registration_number = issuer.registration_number
    if invoice.recipient_name is None:
        invoice.recipient_name = session.get(Customer, invoice.customer_id).name


def end_of_next_month(day: date) -> date:
    """The last day of the month after `day`'s month (the standard due date)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, calendar.monthrange(year, month)[1])


def take_numbers(session: Session, kind: str, period: str, count: int = 1) -> list[str]:
    """The next `count` numbers of a series (INV-YYYYMM-000001 …), taken in the caller's transaction: the
    series row stays locked until it ends, so two runs never share a number and a rollback leaves no gap."""
    series = f"{SERIES_PREFIX[kind]}-{period.replace('-', '')}"
    row = session.exec(select(InvoiceNumberSeries).where(InvoiceNumberSeries.series == series).with_for_update()).first()
    if row is None:
        row = InvoiceNumberSeries(series=series, last_number=0)
    first = row.last_number + 1
    row.last_number += count
    session.add(row)
    session.flush()
    return [f"{series}-{n:06d}" for n in range(first, first + count)]


def consumption_tax(amounts_by_rate: dict[int, int]) -> int:
    """Tax of an invoice: per rate, the rate's amount sum times the rate, rounded down once."""
    return sum(tax_by_rate(amounts_by_rate).values())


def tax_by_rate(amounts_by_rate: dict[int, int]) -> dict[int, int]:
    """Per rate, the tax on that rate's amount sum, rounded down once (never per line)."""
    out = {}
    for rate, amount in amounts_by_rate.items():
        portion = abs(amount) * rate // 100
        out[rate] = portion if amount >= 0 else -portion
    return out


def amounts_by_rate(items: Iterable[dict[str, Any]]) -> dict[int, int]:
    """Per tax rate, the sum of the items' amounts (quantity × unit price)."""
    by_rate: dict[int, int] = {}
    for item in items:
        rate = item.get("tax_rate_percent", STANDARD_TAX_RATE_PERCENT)
        by_rate[rate] = by_rate.get(rate, 0) + item["quantity"] * item["unit_price"]
    return by_rate


def invoice_totals(items: Iterable[dict[str, Any]]) -> tuple[int, int, int]:
    """(subtotal, tax, total) of items (quantity × unit price each, tax once per rate: 10% and 8%)."""
    by_rate = amounts_by_rate(items)
    subtotal = sum(by_rate.values())
    tax = consumption_tax(by_rate)
    return subtotal, tax, subtotal + tax


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_items(session: Session, contract: Contract | None, items: list[dict[str, Any]],
                   errors: dict[str, str]) -> list[dict[str, Any]]:
    """Check invoice items (description, quantity, unit price, tax rate 10/8, a line of the contract): the clean
    items, with each problem put in `errors` under "items.<n>.<field>"."""
    clean: list[dict[str, Any]] = []
    if not items:
        errors["items"] = "明細を1行以上入力してください。"
        return clean
    for i, item in enumerate(items):
        description = str(item.get("description") or "").strip()
        quantity = item.get("quantity", 1)
        unit_price = item.get("unit_price")
        line_id = item.get("line_id")
        rate = item.get("tax_rate_percent", STANDARD_TAX_RATE_PERCENT)
        if not description:
            errors[f"items.{i}.description"] = "明細の内容を入力してください。"
        elif len(description) > DESCRIPTION_MAX_LENGTH:
            errors[f"items.{i}.description"] = f"明細の内容は{DESCRIPTION_MAX_LENGTH}文字以内で入力してください。"
        if not _is_int(quantity) or quantity < 1:
            errors[f"items.{i}.quantity"] = "数量は1以上の整数で入力してください。"
        if not _is_int(unit_price):
            errors[f"items.{i}.unit_price"] = "単価は円単位の整数で入力してください。"
        if rate not in TAX_RATES or not _is_int(rate):
            errors[f"items.{i}.tax_rate_percent"] = "税率は10%または8%（軽減税率）です。"
        if line_id is not None and contract is not None:
            line = session.get(Line, line_id)
            if line is None or line.contract_id != contract.id:
                errors[f"items.{i}.line_id"] = "この回線は請求先の契約の回線ではありません。"
        clean.append({"description": description, "quantity": quantity, "unit_price": unit_price,
                      "line_id": line_id, "tax_rate_percent": rate})
    return clean


@mutating_service
def create_invoice(*, actor: Actor, contract_id: int, period: str, items: list[dict[str, Any]]) -> Invoice:
    """Create a draft invoice for a contract and billing period (accounting, admin).

    Items are dicts of description, quantity, unit_price (yen; negative for a discount),
    optionally tax_rate_percent (10, the default, or the reduced 8) and line_id (a line of that
    contract). Subtotal is the sum of item amounts; tax is rounded down once per rate. Only one
    non-void invoice may exist per contract and period. Writes the invoice, its items and one
    audit entry (invoice.create).
    """
    require(actor, "invoice.manage")
    with write_session() as session:
        errors: dict[str, str] = {}
        if not _PERIOD.match(period or ""):
            errors["period"] = "請求期間は YYYY-MM の形式で入力してください（例: 2024-05）。"
        # Locking the contract serialises concurrent invoice runs for it (one per period).
        contract = session.exec(select(Contract).where(Contract.id == contract_id).with_for_update()).first()
        if contract is None:
            errors["contract_id"] = "指定の契約が見つかりません。"
        clean = validate_items(session, contract, list(items or []), errors)
        if errors:
            raise ValidationFailed(errors)
        subtotal, tax, total = invoice_totals(clean)
        if subtotal < 0:
            raise ValidationFailed({"items": "値引きが請求額を上回っています。小計は0円以上にしてください。"})
        existing = session.exec(
            select(Invoice).where(Invoice.contract_id == contract_id, Invoice.period == period,
                                  Invoice.status != InvoiceStatus.VOID.value)
        ).first()
        if existing is not None:
            raise Conflict(f"この契約の{period}分の請求書は既にあります（{existing.invoice_no}）。"
                           "作り直す場合は先に無効化してください。")
        first, last = month_bounds(period)
        invoice = Invoice(invoice_no=take_numbers(session, "invoice", period)[0], customer_id=contract.customer_id,
                          contract_id=contract.id, period=period, subtotal=subtotal, tax=tax, total=total,
                          period_start=first, period_end=last)
        session.add(invoice)
        session.flush()
        rows = [InvoiceItem(invoice_id=invoice.id, amount=item["quantity"] * item["unit_price"], **item)
                for item in clean]
        session.add_all(rows)
        session.flush()
        record(session, actor, "invoice.create", invoice,
               after={**snapshot(invoice), "items": [snapshot(row) for row in rows]})
    return invoice


def _load_invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = session.exec(select(Invoice).where(Invoice.id == invoice_id).with_for_update()).first()
    if invoice is None:
        raise NotFound("請求書が見つかりません。")
    return invoice


@mutating_service
def issue_invoice(invoice_id: int, *, actor: Actor) -> Invoice:
    """Issue a draft invoice (accounting, admin): issue date today (Asia/Tokyo), due end of next month.

    Issuing an issued invoice again changes nothing. Writes one audit entry (invoice.issue); for a customer with a
    card on file (and no 口座振替), the card charge too (card_payments.charge_card_on_file, audited as system).
    """
    with write_session() as session:
        invoice = _load_invoice(session, invoice_id)
        require(actor, "invoice.manage", invoice)
        if invoice.status == InvoiceStatus.ISSUED:
            return invoice
        transition(session, invoice, INVOICE, InvoiceEvent.ISSUE, actor=actor, follow=_date_the_invoice)
        charge_card_on_file(session, invoice)
    return invoice


@mutating_service
def void_invoice(invoice_id: int, *, actor: Actor, reason: str) -> Invoice:
    """Void a draft or issued invoice (accounting, admin); a reason is required.

    Voiding an issued invoice (the credit note 赤伝 that cancels it) runs only as an approved
    request. Refused while payments are allocated to it (refund them first). Voiding a void
    invoice again changes nothing. Writes one audit entry (invoice.void).
    """
    with write_session() as session:
        invoice = _load_invoice(session, invoice_id)
        require(actor, "invoice.manage", invoice)
        if not (reason or "").strip():
            raise ValidationFailed({"reason": "理由を入力してください。"})
        if invoice.status == InvoiceStatus.VOID:
            return invoice
        if invoice.status == InvoiceStatus.ISSUED:
            require_approval("invoice.void")
        allocated = allocated_amounts(session, [invoice.id])[invoice.id]
        if allocated:
            raise Conflict(f"この請求書には{allocated:,}円の入金が消込済みのため無効化できません。"
                           "先に入金を返金するか、消込を取り消してください。")
        transition(session, invoice, INVOICE, InvoiceEvent.VOID, actor=actor, reason=reason.strip())
    return invoice


def _describe_invoice_void(session: Session, params: dict) -> Preview:
    invoice = approvals.get_record(session, Invoice, params.get("invoice_id"), "請求書")
    after = INVOICE.next_state(invoice.status, InvoiceEvent.VOID)
    if invoice.status != "issued":
        raise ValidationFailed({"invoice_id": "承認が必要なのは発行済の請求書の取消だけです。"})
    allocated = allocated_amounts(session, [invoice.id])[invoice.id]
    if allocated:
        raise Conflict(f"この請求書には{allocated:,}円の入金が消込済みです。先に入金を返金してください。")
    customer = session.get(Customer, invoice.customer_id)
    return Preview(
        summary=f"請求書 {invoice.invoice_no}（{customer.name}、{invoice.period}、{yen(invoice.total)}）を取り消します（赤伝）。この操作は取り消せません。",
        changes=[("状態", state_label("invoice", invoice.status), state_label("invoice", after)),
                 ("請求額", yen(invoice.total), "￥0（取消）")],
        target_key=f"invoice:{invoice.id}", customer_id=invoice.customer_id, contract_id=invoice.contract_id,
        confirm_word=invoice.invoice_no,
    )


def _execute_invoice_void(params: dict, actor: Actor, reason: str) -> None:
    void_invoice(int(params["invoice_id"]), actor=actor, reason=reason)




POLICIES = (
    Policy("invoice.void", "請求書の取消（赤伝）", "invoice.manage", approvals.ACCOUNTING_CHECKERS,
           _describe_invoice_void, _execute_invoice_void, irreversible=True, required_params=("invoice_id",)),
)


def _invoice_operation(invoice_id: int, event: InvoiceEvent | str) -> str | None:
    """"invoice.void" for cancelling an issued invoice (it needs a second person); None for issuing or
    discarding a draft (they run at once)."""
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
    issued = invoice is not None and invoice.status == InvoiceStatus.ISSUED
    return "invoice.void" if InvoiceEvent(event) is InvoiceEvent.VOID and issued else None


def preview_invoice_event(invoice_id: int, event: InvoiceEvent | str, *, actor: Actor) -> dict | None:
    """What asking for an invoice event would do: an issued invoice's cancellation preview, else None."""
    return approvals.preview_if_gated(_invoice_operation(invoice_id, event), {"invoice_id": invoice_id}, actor=actor)


def request_invoice_event(invoice_id: int, event: InvoiceEvent | str, *, actor: Actor, reason: str,
                          confirm_word: str | None = None, confirm_repeat: bool = False) -> approvals.Submitted:
    """The one call for an invoice's lifecycle event, whoever asks: cancelling an issued invoice (赤伝) waits for
    a second person; issuing and discarding a draft run at once."""
    ev = InvoiceEvent(event)
    return approvals.submit(
        _invoice_operation(invoice_id, ev), {"invoice_id": invoice_id}, actor=actor, reason=reason,
        confirm_word=confirm_word, confirm_repeat=confirm_repeat,
        run_now=lambda: issue_invoice(invoice_id, actor=actor) if ev is InvoiceEvent.ISSUE
        else void_invoice(invoice_id, actor=actor, reason=reason))
