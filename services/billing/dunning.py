"""Dunning (督促): chasing an unpaid invoice through written steps, to suspension and back.

A case opens when a withdrawal fails (振替不能), a card payment fails, or an issued invoice is still unpaid
the day after its due date. The policy table below says, per step, how many days after the case opened it
comes, how the customer is told and in what words, and what happens: a notice with the next action, the
deadline and a link; a reminder; a final notice; suspension for non-payment. Suspension and resumption go
through the same line operations and approval policy as a person's: the dunning policy asks and approves
them as the system (approvals.run_by_policy), visible in the approval queue and the audit trail. Paying in
full (any way the money is allocated) marks the case paid at once; the next round resumes what dunning
suspended and keeps how long that took. Every step is an audited event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.billing.allocation import allocated_amounts
from services.ledger.notifications import notify_in, permalink
from services.models import Customer, DunningCase, Invoice, Line
from services.models.base import utcnow
from services.models.billing import InvoiceStatus
from services.models.collections import DunningEvent, DunningStatus
from services.models.line import LineStatus
from services.platform.audit import record, snapshot
from services.platform.clock import TOKYO, today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.errors import DomainError
from services.platform.formatting import yen
from services.platform.labels import state_label
from services.platform.lifecycle import Lifecycle, transition
from services.platform.permissions import SYSTEM, Actor, require
from services.workflow import approvals

D, DE = DunningStatus, DunningEvent
DUNNING = Lifecycle("dunning", D, DE, {
    (D.OPEN, DE.SUSPEND): D.SUSPENDED,
    (D.OPEN, DE.PAY): D.PAID,
    (D.SUSPENDED, DE.PAY): D.PAID,
    (D.PAID, DE.CLOSE): D.CLOSED,
    (D.OPEN, DE.CLOSE): D.CLOSED,
})

RULE = "督促ポリシー"
REASONS = {"unpaid": "お支払期限を過ぎても入金が確認できない", "debit_failed": "口座振替ができなかった",
           "card_failed": "クレジットカードでの決済ができなかった"}
SUSPENDABLE = (LineStatus.ACTIVE.value,)


@dataclass(frozen=True)
class Step:
    """One step of the policy: `days` after the case opened, a notice (title and words), and whether the
    customer's lines are suspended for non-payment."""

    days: int
    kind: str
    title: str
    words: str
    suspend: bool = False


# The policy table. {deadline} is the pay-by date told at the first step; {amount}, {invoice_no} fill in.
STEPS: tuple[Step, ...] = (
    Step(0, "payment_failed", "お支払いが確認できません（{invoice_no}）",
         "{why}ため、{amount} のお支払いが確認できていません。\n"
         "{deadline} までに、請求書に記載の口座へのお振込み、またはクレジットカードでお支払いください。"
         "お支払い方法は次のリンクからご確認いただけます。"),
    Step(7, "payment_reminder", "【再送】お支払いのお願い（{invoice_no}）",
         "{amount} のお支払いがまだ確認できていません。{deadline} までにお支払いください。"),
    Step(14, "payment_final_notice", "【最終のご案内】{deadline} までにお支払いください（{invoice_no}）",
         "{amount} のお支払いが確認できないままです。{deadline} までにお支払いがない場合、"
         "ご契約の回線のご利用を停止します。お支払いいただくと、停止後でも自動で再開します。"),
    Step(21, "suspended_for_non_payment", "ご利用を停止しました（料金未払い）",
         "{amount} のお支払いが確認できないため、回線のご利用を停止しました。"
         "お支払いが確認でき次第、自動でご利用を再開します。", suspend=True),
)
PAY_WITHIN_DAYS = 20  # the deadline told at the first step: the day before suspension


def _at(day: date) -> datetime:
    """09:00 Tokyo on `day`, when a step's notice goes out."""
    return datetime.combine(day, time(9, 0), tzinfo=TOKYO)


def _outstanding(session: Session, invoice: Invoice) -> int:
    return invoice.total - allocated_amounts(session, [invoice.id])[invoice.id]


def open_case(session: Session, invoice: Invoice, reason: str, *, audited: bool = True) -> DunningCase | None:
    """Start chasing `invoice` (in the caller's transaction): the first step runs in the next round. An invoice
    already chased, or paid, opens nothing. A batch that opens many (a result file) audits them in its own entry."""
    if _outstanding(session, invoice) <= 0:
        return None
    case = session.exec(select(DunningCase).where(DunningCase.invoice_id == invoice.id)).first()
    if case is not None:
        return None
    case = DunningCase(invoice_id=invoice.id, customer_id=invoice.customer_id, reason=reason,
                       started_on=today_in_tokyo(), next_step_at=utcnow())
    session.add(case)
    session.flush()
    if audited:
        record(session, SYSTEM, "dunning.open", case, reason=REASONS.get(reason, reason))
    return case


def open_overdue(today: date | None = None) -> int:
    """Open a case for every issued invoice still unpaid after its due date; returns how many opened."""
    today = today or today_in_tokyo()
    opened = 0
    with write_session() as session:
        chased = select(DunningCase.invoice_id)
        overdue = session.exec(select(Invoice).where(
            Invoice.status == InvoiceStatus.ISSUED.value, Invoice.kind == "invoice", Invoice.due_date < today,
            col(Invoice.id).not_in(chased))).all()
        paid = allocated_amounts(session, [i.id for i in overdue])
        for invoice in overdue:
            if invoice.total - paid[invoice.id] > 0 and open_case(session, invoice, "unpaid"):
                opened += 1
    return opened


def pay_by(case: DunningCase) -> date:
    """The pay-by date the customer is told (the day before suspension): PAY_WITHIN_DAYS after the case opened."""
    return case.started_on + timedelta(days=PAY_WITHIN_DAYS)


def _words(step: Step, case: DunningCase, invoice: Invoice, amount: int) -> tuple[str, str]:
    deadline = pay_by(case)
    values = {"invoice_no": invoice.invoice_no, "amount": yen(amount), "deadline": f"{deadline:%Y年%m月%d日}",
              "why": REASONS.get(case.reason, "")}
    return step.title.format(**values), step.words.format(**values)


def _suspend(session: Session, case: DunningCase, invoice: Invoice) -> list[int]:
    """Suspend the contract's lines in service, each through its approval policy approved by the dunning rule."""
    suspended = []
    for line in session.exec(select(Line).where(Line.contract_id == invoice.contract_id,
                                                col(Line.status).in_(SUSPENDABLE))):
        try:
            approvals.run_by_policy("line.suspend", {"line_id": line.id}, rule=RULE,
                                    reason=f"料金未払いによる利用停止（{invoice.invoice_no}、督促 #{case.id}）")
        except DomainError as exc:  # e.g. a person's request for the same line is waiting: leave it to them
            record(session, SYSTEM, "dunning.skip", case, reason=f"回線 #{line.id}: {exc.message}")
            continue
        suspended.append(line.id)
    return suspended


def _take_step(case_id: int, now: datetime) -> str:
    with write_session() as session:
        case = session.exec(select(DunningCase).where(DunningCase.id == case_id).with_for_update()).first()
        if case is None or case.status != D.OPEN or case.next_step_at is None or case.next_step_at > now:
            return "skipped"
        invoice = session.get(Invoice, case.invoice_id)
        amount = _outstanding(session, invoice)
        if amount <= 0 or invoice.status != InvoiceStatus.ISSUED:
            _mark_paid(session, case)
            return "paid"
        step = STEPS[case.step]
        before = snapshot(case)
        title, words = _words(step, case, invoice, amount)
        if step.suspend:
            case.suspended_line_ids = ",".join(map(str, _suspend(session, case, invoice))) or None
            case.suspended_at = now
            case.status = DUNNING.next_state(case.status, DE.SUSPEND).value
        case.step += 1
        case.next_step_at = _at(case.started_on + timedelta(days=STEPS[case.step].days)) \
            if case.step < len(STEPS) else None
        case.updated_at = now
        session.add(case)
        record(session, SYSTEM, f"dunning.step{case.step}", case, before=before, reason=f"{RULE}: {title}")
        customer = session.get(Customer, case.customer_id)
        notify_in(session, customer, actor=SYSTEM, kind=step.kind, title=title,
                  body=f"{customer.name} 様\n{words}", link=permalink("invoice", invoice.id),
                  channels=("mail", "line", "in_app"))
        return step.kind


def _mark_paid(session: Session, case: DunningCase) -> None:
    if case.status in (D.OPEN, D.SUSPENDED):
        case.paid_at = case.paid_at or utcnow()
        transition(session, case, DUNNING, DE.PAY, actor=SYSTEM, reason="全額の入金を確認")


def on_allocation(session: Session, invoice: Invoice) -> None:
    """After money is allocated to `invoice` (same transaction): a case chasing it is marked paid once it is
    paid in full; the next round resumes what was suspended."""
    case = session.exec(select(DunningCase).where(DunningCase.invoice_id == invoice.id).with_for_update()).first()
    if case is not None and case.status in (D.OPEN, D.SUSPENDED) and _outstanding(session, invoice) <= 0:
        _mark_paid(session, case)


def _resume(case_id: int) -> str:
    with write_session() as session:
        case = session.exec(select(DunningCase).where(DunningCase.id == case_id).with_for_update()).first()
        if case is None or case.status != D.PAID:
            return "skipped"
        invoice = session.get(Invoice, case.invoice_id)
        line_ids = [int(x) for x in (case.suspended_line_ids or "").split(",") if x]
        if any(line.status == LineStatus.SUSPENDING for line in session.exec(select(Line).where(
                col(Line.id).in_(line_ids)))):
            return "waiting"  # paid while the carrier still carries out the suspension: resume once it is done
        resumed = []
        for line_id in line_ids:
            line = session.get(Line, line_id)
            if line is None or line.status != LineStatus.SUSPENDED:
                continue
            try:
                approvals.run_by_policy("line.resume", {"line_id": line_id}, rule=RULE,
                                        reason=f"料金のお支払いを確認したため利用再開（{invoice.invoice_no}、督促 #{case.id}）")
            except DomainError as exc:
                record(session, SYSTEM, "dunning.skip", case, reason=f"回線 #{line_id}: {exc.message}")
                continue
            resumed.append(line_id)
        case.resumed_at = utcnow() if case.suspended_line_ids else None
        waited = (case.resumed_at - case.paid_at) if case.resumed_at and case.paid_at else None
        transition(session, case, DUNNING, DE.CLOSE, actor=SYSTEM,
                   reason="入金確認" + (f"から再開まで {int(waited.total_seconds())} 秒" if waited is not None else ""))
        customer = session.get(Customer, case.customer_id)
        if case.suspended_line_ids:
            notify_in(session, customer, actor=SYSTEM, kind="resumed_after_payment",
                      title="ご利用を再開しました",
                      body=f"{customer.name} 様\nお支払い（{invoice.invoice_no}）を確認しました。回線のご利用を再開しました。"
                           "ご不便をおかけしました。",
                      link=permalink("invoice", invoice.id), channels=("mail", "line", "in_app"))
        return "resumed" if resumed else "closed"


def advance(now: datetime | None = None) -> dict[str, int]:
    """One dunning round (beat runs it every minute): open cases for overdue invoices, take every step that
    is due, and resume what was suspended for invoices now paid. Returns counts by what happened."""
    now = now or utcnow()
    counts: dict[str, int] = {"opened": open_overdue(now.astimezone(TOKYO).date())}
    with read_session() as session:
        due = session.exec(select(DunningCase.id).where(DunningCase.status == D.OPEN,
                                                        DunningCase.next_step_at <= now)).all()
        paid = session.exec(select(DunningCase.id).where(DunningCase.status == D.PAID)).all()
    for case_id in due:
        outcome = _take_step(case_id, now)
        counts[outcome] = counts.get(outcome, 0) + 1
    for case_id in paid:
        outcome = _resume(case_id)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def dunning_cases(*, actor: Actor, status: str | None = None, limit: int = 200) -> list[dict]:
    """The dunning list: each case with its invoice, customer, step, next step and times (newest first)."""
    require(actor, "payment.view")
    with read_session() as session:
        query = select(DunningCase, Invoice, Customer).join(Invoice, Invoice.id == DunningCase.invoice_id) \
            .join(Customer, Customer.id == DunningCase.customer_id)
        if status:
            query = query.where(DunningCase.status == status)
        rows = session.exec(query.order_by(col(DunningCase.id).desc()).limit(limit)).all()
        paid = allocated_amounts(session, [i.id for _, i, _ in rows])
        return [{
            "id": case.id, "invoice_id": invoice.id, "invoice_no": invoice.invoice_no, "customer_id": customer.id,
            "customer_name": customer.name, "reason": REASONS.get(case.reason, case.reason), "status": case.status,
            "status_label": state_label("dunning", case.status),
            "step": case.step, "steps": len(STEPS), "last_step": STEPS[case.step - 1].title.split("（")[0] if case.step else "",
            "outstanding": yen(invoice.total - paid[invoice.id]), "started_on": case.started_on.isoformat(),
            "next_step_at": case.next_step_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if case.next_step_at else "",
            "suspended_at": case.suspended_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if case.suspended_at else "",
            "paid_at": case.paid_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if case.paid_at else "",
            "resumed_at": case.resumed_at.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M") if case.resumed_at else "",
        } for case, invoice, customer in rows]


def open_case_count(*, actor: Actor) -> int:
    """How many cases are being chased (for the navigation)."""
    require(actor, "payment.view")
    with read_session() as session:
        return int(session.exec(select(func.count()).select_from(DunningCase).where(
            col(DunningCase.status).in_([D.OPEN.value, D.SUSPENDED.value]))).one())
