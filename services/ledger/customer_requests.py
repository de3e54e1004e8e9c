"""What a customer asks for about a line from the customer app (申請 → 承認 → 実行).

- Suspension, resumption and termination go through THE SAME gated call staff use
  (services.ledger.lines.request_line_event → services.workflow.approvals.submit): always an approval request that a
  person of staff approves, never run directly. The policies' customer_request (lines.customer_may_ask) checks the
  customer's scope (customer_contracts.customer_line), their right to ask (a 利用者 needs can_request) and that the
  line has no live request already. A suspension for a lost or stolen phone is urgent: first in the staff queue.
- An MNP 転出 予約番号 is asked of the carrier through the outbox (operation "mnp_reserve"): an MnpReservation row
  waits (requested) until the carrier answers with the 10-digit number and its last valid day (15 days counting the
  day of issue); the customer is told in the app (and by mail, unless switched off) with a link to the line.
- A SIM re-issue is a support ticket (問い合わせ) for staff, who send the new SIM; the ticket states the fee of the
  rate table (ChargeRate "sim_issue").

Every refusal of a line outside the person's scope is NotFound in the same words as an unknown id, and writes
nothing. Staff actors use the staff screens (PermissionDenied here).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from services.ledger import catalogue, lines
from services.ledger.customer_contracts import customer_line
from services.ledger.notifications import notify_in, permalink
from services.ledger.provisioning import CARRIER
from services.models import (
    ApprovalRequest,
    ChargeRate,
    Customer,
    ExternalOperation,
    Line,
    MnpReservation,
    Ticket,
    TicketMessage,
)
from services.models.base import utcnow
from services.models.line import LineEvent, LineStatus
from services.models.support import TicketStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.clock import today_in_tokyo
from services.platform.db import write_session
from services.platform.errors import Conflict, PermissionDenied, ValidationFailed
from services.platform.identifiers import digits_only, format_msisdn, parse_msisdn
from services.platform.labels import label, state_label
from services.platform.permissions import SYSTEM, Actor
from services.workflow import outbox

# What a customer may ask for about a line, and the line event each asks for (the rest are not line events).
LINE_REQUESTS: dict[str, LineEvent] = {"suspend": LineEvent.SUSPEND, "resume": LineEvent.RESUME,
                                       "terminate": LineEvent.TERMINATE}
REQUEST_KINDS = ("suspend", "resume", "terminate", "mnp", "sim_reissue")
# The reasons a customer chooses from, per request (labels: the "request_reason" group); "other" needs words.
REASONS: dict[str, tuple[str, ...]] = {
    "suspend": ("lost", "stolen", "other"),
    "resume": ("found", "other"),
    "terminate": ("not_needed", "other"),
    "sim_reissue": ("lost", "stolen", "damaged", "other"),
}
URGENT_REASONS = frozenset({"lost", "stolen"})  # a lost or stolen phone: first in the staff queue
DETAILS_MAX = 500

# The states a line may be in for each request (the lifecycle refuses the rest; these say it in advance).
ALLOWED_STATES: dict[str, frozenset[str]] = {
    "suspend": frozenset({LineStatus.ACTIVE}),
    "resume": frozenset({LineStatus.SUSPENDED}),
    "terminate": frozenset({LineStatus.APPLYING, LineStatus.ACTIVE, LineStatus.SUSPENDED}),
    "mnp": frozenset({LineStatus.ACTIVE, LineStatus.SUSPENDED}),
    "sim_reissue": frozenset({LineStatus.ACTIVE, LineStatus.SUSPENDED}),
}

MNP_OPERATION = "mnp_reserve"
MNP_VALID_DAYS = 15  # a 予約番号 is valid 15 days, the day of issue counted as the first
SIM_REISSUE_SUBJECT = "SIM再発行のお申し込み"
_OPEN_TICKET_STATES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.WAITING_CUSTOMER)


def _customer_only(actor: Actor | None) -> None:
    if actor is None or actor.kind != "customer":
        raise PermissionDenied()


def reason_text(kind: str, reason: str, details: str | None) -> str:
    """The reason as staff read it: the chosen reason's label, then the customer's words (「紛失: 電車で」).
    ValidationFailed for a reason not offered for `kind`, for 「その他」 without words, or for words too long."""
    reason, details = (reason or "").strip(), (details or "").strip()
    choices = REASONS.get(kind, ())
    if reason not in choices:
        raise ValidationFailed({"reason": "理由を選んでください（" + "・".join(
            label("request_reason", r) for r in choices) + "）。"})
    if reason == "other" and not details:
        raise ValidationFailed({"details": "「その他」を選んだときは、内容を入力してください。"})
    if len(details) > DETAILS_MAX:
        raise ValidationFailed({"details": f"内容は{DETAILS_MAX}文字以内で入力してください。"})
    chosen = label("request_reason", reason)
    return f"{chosen}: {details}" if details else chosen


def _refuse_state(kind: str, line: Line) -> None:
    if line.status not in ALLOWED_STATES[kind]:
        raise Conflict(f"この回線は「{state_label('line', line.status)}」のため、"
                       f"{label('request_kind', kind)}のお申し込みはできません。")


# ---- suspension, resumption, termination: an approval request for staff --------------------------------------

@mutating_service
def request_line_change(line_id: int, kind: str, *, actor: Actor, reason: str, details: str | None = None,
                        confirm_number: str | None = None) -> ApprovalRequest:
    """Ask staff to suspend, resume or terminate one of the customer's lines (`kind`: suspend / resume / terminate).

    Who: a signed-in customer — a 法人管理者 for any line of the company, a 利用者 for their own lines and only
    with the right to ask (can_request); anyone else PermissionDenied, a line outside the scope NotFound. The
    reason is chosen from the kind's REASONS with the customer's words. A termination is irreversible: the
    customer types the line's number to confirm (any common format). A suspension for a lost or stolen phone is
    urgent (first in the staff queue). A line with a live request is refused (Conflict: already requested).
    Writes the approval request and its one audit entry (approval.request) through lines.request_line_event;
    nothing happens to the line until a person of staff approves.
    """
    _customer_only(actor)
    event = LINE_REQUESTS.get(kind)
    if event is None:
        raise ValidationFailed({"kind": "お申し込みの種類を選んでください。"})
    text = reason_text(kind, reason, details)
    confirm_word = None
    if event is LineEvent.TERMINATE:
        typed = parse_msisdn(confirm_number or "")
        confirm_word = format_msisdn(typed) if typed else digits_only(confirm_number or "") or ""
    with write_session() as session:
        line = customer_line(session, actor, line_id, to_change=True)
        _refuse_state(kind, line)
        submitted = lines.request_line_event(
            line.id, event, actor=actor, reason=f"お客様からのお申し込み（{text}）", confirm_word=confirm_word,
            urgent=event is LineEvent.SUSPEND and reason in URGENT_REASONS)
    return submitted.request


# ---- MNP 転出: a 予約番号 from the carrier through the outbox ----------------------------------------------

def open_mnp(session: Session, line_id: int) -> MnpReservation | None:
    """The line's reservation still in play: waiting for the carrier, or issued and not past its last valid day."""
    rows = session.exec(select(MnpReservation).where(
        MnpReservation.line_id == line_id, col(MnpReservation.status).in_(("requested", "issued")))
        .order_by(col(MnpReservation.id).desc())).all()
    today = today_in_tokyo()
    return next((r for r in rows if r.status == "requested" or (r.expires_on and r.expires_on >= today)), None)


@mutating_service
def request_mnp_number(line_id: int, *, actor: Actor) -> MnpReservation:
    """Ask the carrier for an MNP 転出 予約番号 for one of the customer's lines (to keep the number elsewhere).

    Who: as for request_line_change (scope and the right to ask). The line must be 利用中 or 停止中. A line with a
    reservation waiting or still valid is refused (Conflict, with its number and last day). Writes an
    MnpReservation (requested), one carrier outbox operation "mnp_reserve" and one audit entry
    (mnp_reservation.request); the number arrives with the carrier's answer (apply_mnp_outcome).
    """
    _customer_only(actor)
    with write_session() as session:
        line = customer_line(session, actor, line_id, to_change=True)
        _refuse_state("mnp", line)
        held = open_mnp(session, line.id)
        if held is not None and held.status == "issued":
            raise Conflict(f"この回線には有効なMNP予約番号があります（{held.reservation_number}、"
                           f"有効期限 {held.expires_on:%Y/%m/%d}）。")
        if held is not None:
            raise Conflict("この回線のMNP予約番号は発行手続き中です。発行されるとお知らせします。")
        reservation = MnpReservation(line_id=line.id, customer_id=line.customer_id, status="requested",
                                     requested_by_customer_user_id=actor.id)
        session.add(reservation)
        session.flush()
        operation = outbox.enqueue(session, provider=CARRIER, operation=MNP_OPERATION, subject=f"mnp{reservation.id}",
                                   payload={"msisdn": line.msisdn.lstrip("+")}, customer_id=line.customer_id,
                                   contract_id=line.contract_id, line_id=line.id)
        reservation.external_operation_id = operation.id
        session.add(reservation)
        record(session, actor, "mnp_reservation.request", reservation)
    return reservation


def _issued(evidence: dict[str, Any]) -> tuple[str, date] | None:
    """The 予約番号 and last valid day in the carrier's answer (the call's body, or a webhook's data)."""
    answer: Any = evidence.get("data")
    if not isinstance(answer, dict):
        try:
            answer = json.loads(evidence.get("body") or "{}")
        except ValueError:
            answer = {}
    if not isinstance(answer, dict):
        return None
    number = str(answer.get("reservation_number") or "")
    try:
        expires = date.fromisoformat(str(answer.get("expires_on")))
    except ValueError:
        return None
    return (number, expires) if len(number) == 10 and number.isdigit() else None


def apply_mnp_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str,
                      evidence: dict[str, Any]) -> None:
    """A settled "mnp_reserve" call (registered with the carrier's outcomes; the outbox's transaction).

    succeeded with the number: the reservation is issued (number, last valid day), audited as the system, and the
    person who asked is told in the app (and by mail unless switched off, topic "request") with a link to the line.
    failed — or succeeded without the number in hand (settled by a look-up at the carrier) — : the reservation
    failed and the person is told to ask again (the carrier answers a line's valid number again). unknown: it waits
    (the outbox's review item holds the doubt).
    """
    reservation = session.exec(select(MnpReservation).where(MnpReservation.external_operation_id == op.id)
                               .with_for_update()).first()
    if reservation is None or reservation.status != "requested" or outcome == "unknown":
        return
    before = snapshot(reservation)
    customer = session.get(Customer, reservation.customer_id)
    line = session.get(Line, reservation.line_id)
    number = format_msisdn(line.msisdn)
    issued = _issued(evidence) if outcome == "succeeded" else None
    if outcome == "succeeded" and issued is None:
        detail = "キャリアの応答に予約番号がありませんでした"
    if issued is not None:
        reservation.status, (reservation.reservation_number, reservation.expires_on) = "issued", issued
        title = "MNP予約番号を発行しました"
        body = (f"回線 {number} のMNP予約番号は {issued[0]} です。有効期限は {issued[1]:%Y年%m月%d日} までです"
                f"（発行日を含めて{MNP_VALID_DAYS}日間）。\n"
                "次にすること: 有効期限までに、転入先の会社でこの番号を使ってお申し込みください。"
                "転入先での手続きが終わると、この回線は解約になります。")
    else:
        reservation.status = "failed"
        title = "MNP予約番号を発行できませんでした"
        body = (f"回線 {number} のMNP予約番号を、通信事業者で発行できませんでした。\n"
                "次にすること: マイページからもう一度お申し込みいただくか、問い合わせからご連絡ください。")
    reservation.updated_at = utcnow()
    session.add(reservation)
    sent = notify_in(session, customer, actor=SYSTEM, kind="request", title=title, body=body,
                     link=permalink("line", line.id), channels=("mail",), topic="request",
                     customer_user_id=reservation.requested_by_customer_user_id, line_id=line.id, audit=False)
    record(session, SYSTEM, f"mnp_reservation.{'issue' if reservation.status == 'issued' else 'fail'}", reservation,
           before=before, reason=f"キャリア {MNP_OPERATION}（外部連携処理 #{op.id}）: {detail}"[:500],
           after={**snapshot(reservation), "notification_ids": [n.id for n in sent.notifications]})


# ---- SIM re-issue: a ticket for staff ---------------------------------------------------------------

def sim_reissue_fee(session: Session) -> str | None:
    """The SIM issue fee of the rate table in effect today, as screens show it (「¥3,300（税込）」); None when the
    rate table has none."""
    rate = session.exec(select(ChargeRate).where(
        ChargeRate.code == catalogue.SIM_ISSUE, ChargeRate.effective_from <= today_in_tokyo())
        .order_by(col(ChargeRate.effective_from).desc())).first()
    return catalogue.shown_price(rate.amount, rate.tax_rate_percent, rate.price_includes_tax) if rate else None


def open_sim_reissue(session: Session, line_id: int) -> Ticket | None:
    """The line's SIM re-issue ticket still being handled, if any."""
    return session.exec(select(Ticket).where(
        Ticket.line_id == line_id, col(Ticket.subject).startswith(SIM_REISSUE_SUBJECT),
        col(Ticket.status).in_([s.value for s in _OPEN_TICKET_STATES])).order_by(col(Ticket.id).desc())).first()


@mutating_service
def request_sim_reissue(line_id: int, *, actor: Actor, reason: str, details: str | None = None) -> Ticket:
    """Ask staff for a new SIM card for one of the customer's lines (lost, stolen, damaged ...).

    Who: as for request_line_change (scope and the right to ask). The line must be 利用中 or 停止中; a line with a
    re-issue ticket still open is refused (Conflict). Writes a support ticket for staff (high priority for a lost
    or stolen SIM) whose first message, from the customer, states the line, the reason and the fee of the rate
    table (ChargeRate "sim_issue", billed with the next bill), and one audit entry (ticket.sim_reissue_request).
    """
    _customer_only(actor)
    text = reason_text("sim_reissue", reason, details)
    with write_session() as session:
        line = customer_line(session, actor, line_id, to_change=True)
        _refuse_state("sim_reissue", line)
        held = open_sim_reissue(session, line.id)
        if held is not None:
            raise Conflict(f"この回線のSIM再発行は受付済みです（問い合わせ T-{held.id:06d}）。担当者からの連絡をお待ちください。")
        fee = sim_reissue_fee(session)
        number = format_msisdn(line.msisdn)
        now = utcnow()
        ticket = Ticket(customer_id=line.customer_id, contract_id=line.contract_id, line_id=line.id,
                        subject=f"{SIM_REISSUE_SUBJECT}（{number}）",
                        priority="high" if reason in URGENT_REASONS else "normal", created_at=now, updated_at=now)
        session.add(ticket)
        session.flush()
        message = TicketMessage(ticket_id=ticket.id, author_kind="customer", author_id=actor.id, created_at=now, body=(
            f"SIMカードの再発行を申し込みます。\n回線: {number}\n理由: {text}\n"
            f"手数料: {fee + '（次回のご請求に含まれます）' if fee else '料金表に定めがありません（担当者からご案内します）'}\n"
            f"申込者: {actor.label}"))
        session.add(message)
        session.flush()
        record(session, actor, "ticket.sim_reissue_request", ticket,
               after={**snapshot(ticket), "first_message_id": message.id, "fee": fee, "reason": text})
    return ticket
