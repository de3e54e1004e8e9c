"""Read side for the screens: the 360° customer view, record details, paged lists, history.

Every function checks the actor's permission and returns plain, display-ready dicts, with
personal fields masked per role (services.security.masking): phone numbers, e-mail, address, date of
birth, identity-document number and bank account (decrypted, then masked).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.billing.allocation import allocated_amounts, invoice_payment_state
from services.billing.invoices import tax_by_rate
from services.ledger import kyc_records
from services.ledger.customers import bank_account_display
from services.models import (
    AuditEntry,
    Contract,
    ContractOption,
    Customer,
    CustomerUser,
    Device,
    ExternalAttempt,
    ExternalOperation,
    Invoice,
    InvoiceItem,
    KycRecord,
    Line,
    Payment,
    PaymentAllocation,
    RateOption,
    RatePlan,
    SimCard,
    Ticket,
    TicketMessage,
    UsageRecord,
)
from services.platform import crypto
from services.platform.clock import TOKYO
from services.platform.db import read_session
from services.platform.formatting import action_label, changed_fields, tokyo_time, yen
from services.platform.identifiers import contract_code, customer_code, format_msisdn
from services.platform.labels import label, state_label
from services.platform.paging import Page
from services.platform.permissions import Actor, can, get_permitted, require
from services.security.masking import can_see, mask, mask_snapshot, mask_text, revealable

log = logging.getLogger(__name__)

SECTION_LIMIT = 20
UNREADABLE = "（復号できません。暗号鍵の設定を確認してください）"
# Fields of the 360° view a permitted person may reveal (表示) when they see them masked.
CUSTOMER_REVEAL_FIELDS = ("phone", "email", "address", "birth_date", "id_document_number", "bank_account")
BODY_LIMIT = 2000  # characters of a request / response body shown on screen


def _customer_row(c: Customer, actor: Actor, *, sensitive: bool = False) -> dict:
    """A customer as `actor` may see it; `sensitive` adds the (decrypted, masked) document and bank account."""
    row = {
        "id": c.id, "code": customer_code(c.id), "kind": c.kind, "kind_label": label("customer_kind", c.kind),
        "name": c.name, "name_kana": c.name_kana, "email": mask("email", c.email, actor),
        "phone": mask("phone", c.phone, actor), "postal_code": mask("postal_code", c.postal_code, actor),
        "address": mask("address", c.address, actor), "birth_date": mask("birth_date", c.birth_date, actor),
        "kyc_status": c.kyc_status, "kyc_label": label("kyc_status", c.kyc_status),
    }
    if sensitive:
        row["id_document_label"] = label("id_document", c.id_document_type or "")
        row["id_document_number"] = _decrypted(c, "id_document_number", c.id_document_number_enc, crypto.decrypt, actor)
        row["bank_account"] = _decrypted(c, "bank_account", c.bank_account_enc, bank_account_display, actor)
        present = [f for f in CUSTOMER_REVEAL_FIELDS if row[f] and row[f] != UNREADABLE]
        row["revealable"] = revealable("customer", present, actor)
    return row


def _decrypted(row: Customer | KycRecord, name: str, token: str | None, read, actor: Actor) -> str:
    """Decrypt an encrypted column and mask it for `actor`; a wrong key shows a notice, not an error page."""
    try:
        return mask(name, read(token), actor)
    except crypto.EncryptionKeyMismatch:
        log.warning("cannot decrypt %s %s field %s: encryption key mismatch", row.__tablename__, row.id, name)
        return UNREADABLE


def _line_row(line: Line, sim: SimCard | None, device: Device | None, actor: Actor) -> dict:
    return {
        "id": line.id, "msisdn": mask("msisdn", format_msisdn(line.msisdn), actor), "status": line.status,
        "status_label": state_label("line", line.status), "contract_id": line.contract_id,
        "contract_code": contract_code(line.contract_id), "customer_id": line.customer_id,
        "iccid": sim.iccid if sim else "", "imsi": sim.imsi if sim else "",
        "sim_status_label": state_label("sim", sim.status) if sim else "",
        "imei": device.imei if device else "", "device_model": device.model if device else "",
        "device_status_label": state_label("device", device.status) if device else "",
        "activated_at": tokyo_time(line.activated_at), "throttled": line.throttled,
    }


def _invoice_row(inv: Invoice, allocated: int) -> dict:
    state = invoice_payment_state(allocated, inv.total) if inv.status == "issued" else ""
    return {
        "id": inv.id, "invoice_no": inv.invoice_no, "period": inv.period, "status": inv.status,
        "status_label": state_label("invoice", inv.status), "total": yen(inv.total),
        "allocated": yen(allocated), "payment_state": state,
        "payment_state_label": label("payment_state", state, default=""),
        "due_date": inv.due_date.isoformat() if inv.due_date else "",
        "contract_id": inv.contract_id, "contract_code": contract_code(inv.contract_id),
    }


def _ticket_row(t: Ticket) -> dict:
    return {
        "id": t.id, "subject": t.subject, "status": t.status, "status_label": state_label("ticket", t.status),
        "priority": t.priority, "created_at": tokyo_time(t.created_at), "line_id": t.line_id or 0,
    }


def _lines_with_stock(session: Session, lines: list[Line], actor: Actor) -> list[dict]:
    sim_ids = [ln.sim_card_id for ln in lines if ln.sim_card_id]
    dev_ids = [ln.device_id for ln in lines if ln.device_id]
    sims = {s.id: s for s in session.exec(select(SimCard).where(col(SimCard.id).in_(sim_ids)))} if sim_ids else {}
    devs = {d.id: d for d in session.exec(select(Device).where(col(Device.id).in_(dev_ids)))} if dev_ids else {}
    return [_line_row(ln, sims.get(ln.sim_card_id), devs.get(ln.device_id), actor) for ln in lines]


def _kyc_record_rows(session: Session, customer_id: int, actor: Actor) -> list[dict]:
    """The customer's 本人確認記録, newest first, the document number masked for `actor`'s role."""
    rows = session.exec(select(KycRecord).where(KycRecord.customer_id == customer_id)
                        .order_by(col(KycRecord.id).desc())).all()
    keep_until = kyc_records.retention_date(session, customer_id) if rows else None
    return [{
        "id": r.id, "confirmed_at": tokyo_time(r.confirmed_at), "method_label": label("kyc_method", r.method),
        "checked_by": r.checked_by_label, "approved_by": r.approved_by_label,
        "approval_request": f"#{r.approval_request_id}" if r.approval_request_id else "",
        "document_label": label("id_document", r.document_type),
        "document_number": _decrypted(r, "id_document_number", r.document_number_enc, crypto.decrypt, actor) or "",
        "tracking_number": r.mail_tracking_number or "",
        "keep_until": "契約中は保存" if keep_until is None else f"{keep_until:%Y/%m/%d} まで保存",
    } for r in rows]


def customer_360(customer_id: int, *, actor: Actor) -> dict:
    """Everything about one customer on one screen: contracts, lines, stock, bills, payments, tickets."""
    with read_session() as session:
        customer = get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "customer.view")
        plans = {p.id: p for p in session.exec(select(RatePlan))}
        contracts = session.exec(
            select(Contract).where(Contract.customer_id == customer_id).order_by(col(Contract.id).desc())
        ).all()
        line_total = session.exec(select(func.count()).select_from(Line).where(Line.customer_id == customer_id)).one()
        lines = session.exec(
            select(Line).where(Line.customer_id == customer_id).order_by(Line.id).limit(SECTION_LIMIT)
        ).all()
        out = {
            "customer": _customer_row(customer, actor, sensitive=True),
            "contracts": [
                {"id": k.id, "code": contract_code(k.id), "status": k.status,
                 "status_label": state_label("contract", k.status),
                 "plan": plans[k.rate_plan_id].name if k.rate_plan_id in plans else "",
                 "start_date": k.start_date.isoformat() if k.start_date else ""}
                for k in contracts
            ],
            "lines": _lines_with_stock(session, lines, actor),
            "line_total": int(line_total),
            "users": [
                {"id": u.id, "name": u.name, "email": mask("email", u.email, actor),
                 "role_label": label("role", u.role), "active": u.is_active}
                for u in session.exec(select(CustomerUser).where(CustomerUser.customer_id == customer_id))
            ],
            "kyc_records": _kyc_record_rows(session, customer_id, actor),
            "invoices": [], "payments": [], "tickets": [],
            "can_view_invoices": can(actor, "invoice.view", customer),
            "can_view_payments": can(actor, "payment.view", customer),
        }
        if out["can_view_invoices"]:
            invoices = session.exec(
                select(Invoice).where(Invoice.customer_id == customer_id)
                .order_by(col(Invoice.period).desc(), col(Invoice.id).desc()).limit(SECTION_LIMIT)
            ).all()
            allocated = allocated_amounts(session, [i.id for i in invoices])
            out["invoices"] = [_invoice_row(i, allocated.get(i.id, 0)) for i in invoices]
        if out["can_view_payments"]:
            payments = session.exec(
                select(Payment).where(Payment.customer_id == customer_id)
                .order_by(col(Payment.received_at).desc()).limit(SECTION_LIMIT)
            ).all()
            out["payments"] = [_payment_row(p) for p in payments]
        if can(actor, "ticket.view", customer):
            tickets = session.exec(
                select(Ticket).where(Ticket.customer_id == customer_id)
                .order_by(col(Ticket.created_at).desc()).limit(SECTION_LIMIT)
            ).all()
            out["tickets"] = [_ticket_row(t) for t in tickets]
        return out


def _payment_row(p: Payment) -> dict:
    return {
        "id": p.id, "amount": yen(p.amount), "method_label": label("payment_method", p.method),
        "payer_name": p.payer_name, "status": p.status, "status_label": state_label("payment", p.status),
        "received_at": tokyo_time(p.received_at), "reference": p.reference or "",
    }


def line_detail(line_id: int, *, actor: Actor) -> dict:
    """A line, its contract, customer, SIM, device, recent usage and its full change history."""
    with read_session() as session:
        line = get_permitted(session, Line, line_id, "回線が見つかりません。", actor, "line.view")
        sim = session.get(SimCard, line.sim_card_id) if line.sim_card_id else None
        device = session.get(Device, line.device_id) if line.device_id else None
        contract = session.get(Contract, line.contract_id)
        customer = session.get(Customer, line.customer_id)
        plan = session.get(RatePlan, contract.rate_plan_id)
        usage = session.exec(
            select(UsageRecord).where(UsageRecord.line_id == line_id).order_by(col(UsageRecord.day).desc()).limit(14)
        ).all()
        return {
            "line": _line_row(line, sim, device, actor),
            "customer": _customer_row(customer, actor),
            "contract": {"id": contract.id, "code": contract_code(contract.id), "status_label":
                         state_label("contract", contract.status)},
            "plan": {"name": plan.name, "data_cap_mb": plan.data_cap_mb, "monthly_fee": yen(plan.monthly_fee)},
            "usage": [{"day": u.day.isoformat(), "used_mb": u.used_mb} for u in usage],
            "month": _month_usage(session, line, plan),
            "history": line_history(session, line_id, actor=actor) if can(actor, "audit.view", line) else [],
            "external_operations": external_operation_rows(session, session.exec(
                select(ExternalOperation).where(ExternalOperation.line_id == line_id)
                .order_by(col(ExternalOperation.id).desc()).limit(SECTION_LIMIT)).all(), actor=actor)
            if can(actor, "review.view", line) else [],
        }


def external_operation_label(provider: str, operation: str) -> str:
    """The on-screen name of a provider call: ("carrier", "suspend") -> "キャリア停止"."""
    return label("provider", provider) + label("external_operation", operation)


def external_operation_rows(session: Session, operations: list[ExternalOperation], *, actor: Actor) -> list[dict]:
    """External operations (外部連携処理) with their attempts, display-ready and masked for `actor`.

    Each row: label, status and its label, attempt count, idempotency key, created / updated /
    completed (Asia/Tokyo), last error, and the attempts (time, duration ms, HTTP status, outcome,
    error, request and response bodies, shortened). Free text is masked like the audit log
    (phone numbers and long digit runs) for people who may not see phone numbers.
    """
    shown = (lambda text: text) if can_see("msisdn", actor) else mask_text
    ids = [op.id for op in operations]
    attempts: dict[int, list[ExternalAttempt]] = defaultdict(list)
    if ids:
        for attempt in session.exec(select(ExternalAttempt).where(col(ExternalAttempt.external_operation_id).in_(ids))
                                    .order_by(ExternalAttempt.attempt_no, ExternalAttempt.id)):
            attempts[attempt.external_operation_id].append(attempt)

    def body(text: str | None) -> str:
        text = shown(text or "")
        return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "…"

    return [{
        "id": op.id, "provider": op.provider, "operation": op.operation,
        "label": external_operation_label(op.provider, op.operation),
        "status": op.status, "status_label": state_label("external_operation", op.status),
        "attempt_count": max(op.attempts, len(attempts[op.id])), "idempotency_key": op.idempotency_key,
        "provider_ref": op.provider_ref or "", "created_at": tokyo_time(op.created_at, with_seconds=True),
        "updated_at": tokyo_time(op.updated_at, with_seconds=True),
        "completed_at": tokyo_time(op.completed_at, with_seconds=True),
        "next_attempt_at": tokyo_time(op.next_attempt_at, with_seconds=True) if op.status == "pending" else "",
        "last_error": shown(op.last_error or ""),
        "attempts": [{
            "no": a.attempt_no, "at": tokyo_time(a.started_at, with_seconds=True), "duration_ms": a.duration_ms,
            "http_status": str(a.response_status) if a.response_status is not None else "—",
            "outcome": a.outcome, "outcome_label": label("attempt_outcome", a.outcome),
            "error": shown(a.error or ""), "request": body(a.request_json), "response": body(a.response_body),
        } for a in attempts[op.id]],
    } for op in operations]


def _month_usage(session: Session, line: Line, plan: RatePlan) -> dict:
    """This month's (Asia/Tokyo) data use against the plan's cap (上限), and the speed limit (速度制限).

    The line is 速度制限中 only once the carrier confirmed it; until then a line over its cap says
    the limit is being arranged (services.ledger.usage_caps asks the carrier after each daily report).
    """
    first_day = datetime.now(TOKYO).date().replace(day=1)
    used = session.exec(select(func.coalesce(func.sum(UsageRecord.used_mb), 0))
                        .where(UsageRecord.line_id == line.id, UsageRecord.day >= first_day)).one()
    cap = plan.data_cap_mb
    percent = min(100, round(100 * used / cap)) if cap else 0
    over = bool(cap) and used >= cap
    speed = (f"（速度制限中・{plan.throttled_kbps} kbps）" if line.throttled else
             "（上限到達・速度制限はキャリアの確認待ち）" if over else "")
    return {"used_mb": int(used), "cap_mb": cap, "percent": percent, "over_cap": over, "throttled": line.throttled,
            "summary": (f"{int(used):,} MB / {cap:,} MB" if cap else f"{int(used):,} MB（上限なし）") + speed}


def line_history(session: Session, line_id: int, *, actor: Actor) -> list[dict]:
    """Who changed what on a line, when and why, newest first (from the audit log, masked for `actor`)."""
    entries = session.exec(
        select(AuditEntry).where(AuditEntry.line_id == line_id).order_by(col(AuditEntry.id).desc())
    ).all()
    return [_history_row(e, actor) for e in entries]


def _masked_changes(e: AuditEntry, actor: Actor) -> list[tuple[str, str, str]]:
    """(field, before, after) of an audit entry, compared in full, shown masked; *_enc fields dropped."""
    changes = changed_fields(e.before_json, e.after_json)
    before = mask_snapshot(e.entity_type, {f: b or None for f, b, _ in changes}, actor) or {}
    after = mask_snapshot(e.entity_type, {f: a or None for f, _, a in changes}, actor) or {}
    return [(f, before.get(f) or "", after.get(f) or "") for f, _, _ in changes if f in after]


def _history_row(e: AuditEntry, actor: Actor) -> dict:
    changes = _masked_changes(e, actor)
    status_change = next(((b, a) for f, b, a in changes if f == "status"), None)
    return {
        "id": e.id, "at": tokyo_time(e.at, with_seconds=True), "actor": e.actor_label,
        "action": action_label(e.action), "reason": e.reason or "", "request_id": e.request_id or "",
        "status_change": (f"{state_label(e.entity_type if e.entity_type != 'sim_card' else 'sim', status_change[0])}"
                          f" → {state_label(e.entity_type if e.entity_type != 'sim_card' else 'sim', status_change[1])}")
        if status_change and status_change[0] else "",
        "changes": ", ".join(f"{f}: {b or '—'} → {a or '—'}" for f, b, a in changes if f != "status")
        if e.before_json else "",
    }


def contract_detail(contract_id: int, *, actor: Actor) -> dict:
    """A contract with its plan, options, lines, invoices and history."""
    with read_session() as session:
        contract = get_permitted(session, Contract, contract_id, "契約が見つかりません。", actor, "contract.view")
        customer = session.get(Customer, contract.customer_id)
        plan = session.get(RatePlan, contract.rate_plan_id)
        options = session.exec(
            select(RateOption).join(ContractOption, ContractOption.rate_option_id == RateOption.id)
            .where(ContractOption.contract_id == contract_id)
        ).all()
        lines = session.exec(select(Line).where(Line.contract_id == contract_id).order_by(Line.id).limit(100)).all()
        invoices = []
        if can(actor, "invoice.view", contract):
            rows = session.exec(select(Invoice).where(Invoice.contract_id == contract_id)
                                .order_by(col(Invoice.period).desc()).limit(SECTION_LIMIT)).all()
            allocated = allocated_amounts(session, [i.id for i in rows])
            invoices = [_invoice_row(i, allocated.get(i.id, 0)) for i in rows]
        history = session.exec(select(AuditEntry).where(AuditEntry.entity_type == "contract",
                                                        AuditEntry.entity_id == contract_id)
                               .order_by(col(AuditEntry.id).desc())).all()
        return {
            "contract": {"id": contract.id, "code": contract_code(contract.id), "status": contract.status,
                         "status_label": state_label("contract", contract.status),
                         "start_date": contract.start_date.isoformat() if contract.start_date else "",
                         "end_date": contract.end_date.isoformat() if contract.end_date else ""},
            "customer": _customer_row(customer, actor),
            "plan": {"name": plan.name, "monthly_fee": yen(plan.monthly_fee), "data_cap_mb": plan.data_cap_mb},
            "options": [{"name": o.name, "monthly_fee": yen(o.monthly_fee)} for o in options],
            "lines": _lines_with_stock(session, lines, actor),
            "invoices": invoices,
            "history": [_history_row(e, actor) for e in history] if can(actor, "audit.view", contract) else [],
        }


def invoice_detail(invoice_id: int, *, actor: Actor) -> dict:
    """An invoice with its items, allocations (消込), derived payment state and its provider calls (card charges)."""
    with read_session() as session:
        inv = get_permitted(session, Invoice, invoice_id, "請求書が見つかりません。", actor, "invoice.view")
        items = session.exec(select(InvoiceItem).where(InvoiceItem.invoice_id == invoice_id).order_by(InvoiceItem.id)).all()
        allocations = session.exec(
            select(PaymentAllocation, Payment).join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.invoice_id == invoice_id)
        ).all()
        allocated = allocated_amounts(session, [invoice_id]).get(invoice_id, 0)
        linked = {i.id: i for i in session.exec(select(Invoice).where(
            (Invoice.id == inv.corrects_invoice_id) | (Invoice.id == inv.replaces_invoice_id)
            | (Invoice.corrects_invoice_id == inv.id) | (Invoice.replaces_invoice_id == inv.id)))}
        credit_note = next((i for i in linked.values() if i.corrects_invoice_id == inv.id), None)
        reissue = next((i for i in linked.values() if i.replaces_invoice_id == inv.id), None)
        original = linked.get(inv.corrects_invoice_id or inv.replaces_invoice_id or 0)
        rates = defaultdict(int)
        for item in items:
            rates[item.tax_rate_percent] += item.amount
        taxes = tax_by_rate(dict(rates))
        return {
            "invoice": {**_invoice_row(inv, allocated), "subtotal": yen(inv.subtotal), "tax": yen(inv.tax),
                        "issue_date": inv.issue_date.isoformat() if inv.issue_date else "",
                        "kind": inv.kind, "kind_label": label("invoice_kind", inv.kind),
                        "period_span": f"{inv.period_start:%Y/%m/%d} 〜 {inv.period_end:%Y/%m/%d}"
                        if inv.period_start and inv.period_end else inv.period,
                        "issuer": f"{inv.issuer_name}（登録番号 {inv.issuer_registration_number}）"
                        if inv.issuer_registration_number else "",
                        "has_pdf": inv.status != "draft" and inv.issue_date is not None,
                        "original_id": original.id if original else 0,
                        "original_no": original.invoice_no if original else "",
                        "credit_note_id": credit_note.id if credit_note else 0,
                        "credit_note_no": credit_note.invoice_no if credit_note else "",
                        "reissue_id": reissue.id if reissue else 0, "reissue_no": reissue.invoice_no if reissue else "",
                        "correction_reason": inv.correction_reason or "",
                        "correctable": inv.kind == "invoice" and inv.status == "issued" and credit_note is None},
            "taxes": [{"rate": f"{rate}%対象", "taxable": yen(rates[rate]), "tax": yen(tax)}
                      for rate, tax in sorted(taxes.items(), reverse=True)],
            "customer": _customer_row(session.get(Customer, inv.customer_id), actor),
            "items": [{"description": i.description, "quantity": i.quantity, "unit_price": yen(i.unit_price),
                       "amount": yen(i.amount), "line_id": i.line_id or 0,
                       "tax_rate": f"{i.tax_rate_percent}%" + ("※" if i.tax_rate_percent == 8 else ""),
                       "note": i.note or "", "kind_label": label("item_kind", i.kind)}
                      for i in items],
            "allocations": [{"amount": yen(a.amount), "payer_name": p.payer_name, "received_at":
                             tokyo_time(p.received_at), "method_label": label("payment_method", p.method)}
                            for a, p in allocations] if can(actor, "payment.view", inv) else [],
            "external_operations": external_operation_rows(session, session.exec(
                select(ExternalOperation).where(ExternalOperation.invoice_id == invoice_id)
                .order_by(col(ExternalOperation.id).desc()).limit(SECTION_LIMIT)).all(), actor=actor)
            if can(actor, "review.view", inv) else [],
        }


def ticket_detail(ticket_id: int, *, actor: Actor) -> dict:
    """A support ticket with its conversation and the records it is linked to."""
    with read_session() as session:
        t = get_permitted(session, Ticket, ticket_id, "問い合わせが見つかりません。", actor, "ticket.view")
        messages = session.exec(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
                                .order_by(TicketMessage.id)).all()
        line = session.get(Line, t.line_id) if t.line_id else None
        return {
            "ticket": {**_ticket_row(t), "contract_id": t.contract_id or 0,
                       "contract_code": contract_code(t.contract_id) if t.contract_id else "",
                       "msisdn": mask("msisdn", format_msisdn(line.msisdn), actor) if line else ""},
            "customer": _customer_row(session.get(Customer, t.customer_id), actor),
            "messages": [{"author": label("actor_kind", m.author_kind), "body": m.body,
                          "at": tokyo_time(m.created_at)} for m in messages],
        }


def list_customers(*, actor: Actor, page: int = 1, page_size: int = 50, kind: str | None = None) -> Page:
    """Customers, newest first, one server-side page at a time."""
    require(actor, "customer.view")
    page = max(1, page)
    with read_session() as session:
        query = select(Customer)
        count = select(func.count()).select_from(Customer)
        if kind:
            query, count = query.where(Customer.kind == kind), count.where(Customer.kind == kind)
        total = session.exec(count).one()
        rows = session.exec(query.order_by(col(Customer.id).desc()).offset((page - 1) * page_size).limit(page_size)).all()
        return Page([_customer_row(c, actor) for c in rows], page, page_size, int(total))


def list_lines(*, actor: Actor, page: int = 1, page_size: int = 50, customer_id: int | None = None,
               status: str | None = None) -> Page:
    """Lines (optionally of one customer or in one state), one server-side page at a time."""
    require(actor, "line.view")
    page = max(1, page)
    with read_session() as session:
        query = select(Line)
        count = select(func.count()).select_from(Line)
        if customer_id:
            query, count = query.where(Line.customer_id == customer_id), count.where(Line.customer_id == customer_id)
        if status:
            query, count = query.where(Line.status == status), count.where(Line.status == status)
        total = session.exec(count).one()
        rows = session.exec(query.order_by(Line.id).offset((page - 1) * page_size).limit(page_size)).all()
        return Page(_lines_with_stock(session, rows, actor), page, page_size, int(total))


def dashboard_counts(*, actor: Actor) -> dict:
    """Headline numbers for the home screen: lines by state, open tickets, unpaid invoices."""
    require(actor, "search.use")
    with read_session() as session:
        by_status = dict(session.exec(select(Line.status, func.count()).group_by(Line.status)).all())
        open_tickets = session.exec(select(func.count()).select_from(Ticket)
                                    .where(col(Ticket.status).in_(["open", "in_progress", "waiting_customer"]))).one()
        return {
            "lines": [{"status": s, "label": state_label("line", s), "count": int(by_status.get(s, 0))}
                      for s in ("active", "suspended", "applying", "pending", "needs_review", "terminated")],
            "open_tickets": int(open_tickets),
        }


def active_plans(*, actor: Actor) -> list[dict]:
    """Plans on sale, for choosing one on a new contract."""
    require(actor, "catalog.view")
    with read_session() as session:
        plans = session.exec(select(RatePlan).where(RatePlan.is_active == True).order_by(RatePlan.monthly_fee)).all()  # noqa: E712
        return [{"id": p.id, "label": f"{p.name}（月額 {yen(p.monthly_fee)}）"} for p in plans]
