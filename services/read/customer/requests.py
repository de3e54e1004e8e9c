"""The customer app's line page and the requests made from it (申請 → 承認/却下 → 実行/失敗), as timelines.

A request is what a customer asked for about a line in the customer app (services.ledger.customer_requests):
suspension, resumption or termination (an approval request a person of staff decides, then the carrier carries
out), an MNP 転出 予約番号 (the carrier issues it), a SIM re-issue (a ticket staff handle). Requests staff made
themselves (a suspension for an unpaid bill ...) are not the customer's and are not listed. Times are Asia/Tokyo.

Who sees what follows customer_scope: a 法人管理者 every line of the company and its requests, a 利用者 their own
lines (and the requests about them, whoever of the company asked); anything else is NotFound. Writes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlmodel import Session, col, select

from services.billing.rating import INITIAL_CANCELLATION_DAYS, is_initial_cancellation
from services.ledger import customer_requests as cr
from services.ledger.customer_users import LINE_NOT_FOUND, CustomerScope, customer_scope
from services.ledger.lines import open_line_request
from services.ledger.provisioning import CARRIER_OPERATIONS
from services.models import ApprovalRequest, Contract, ExternalOperation, Line, MnpReservation, RatePlan, Ticket
from services.models.support import TicketStatus
from services.models.workflow import ApprovalStatus, ExternalOperationStatus
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session
from services.platform.errors import NotFound
from services.platform.formatting import tokyo_time
from services.platform.identifiers import contract_code, format_msisdn
from services.platform.labels import label, state_label
from services.platform.permissions import Actor
from services.workflow import approvals

# approval operation -> the request kind a customer knows it by
_KIND_OF_OPERATION = {f"line.{event.value}": kind for kind, event in cr.LINE_REQUESTS.items()}
NO_RIGHT = ("お申し込みの権限がありません。手続きが必要なときは、法人管理者に依頼するか、"
            "お申し込みの権限を付けてもらってください。")


def _seen_line(session: Session, actor: Actor, line_id: Any) -> tuple[CustomerScope, Line]:
    """The person's scope and one line they see (NotFound in the same words otherwise); read without a lock."""
    scope = customer_scope(session, actor)
    line = session.get(Line, line_id) if isinstance(line_id, int) and scope.sees_line(line_id) else None
    if line is None or line.customer_id != scope.customer_id:
        raise NotFound(LINE_NOT_FOUND)
    return scope, line


def _day(value: date | None) -> str:
    return f"{value:%Y/%m/%d}" if value else ""


def _step(key: str, state: str, at=None, note: str = "") -> dict[str, str]:
    """One step of a timeline: what (its label), when (Tokyo), done / current / failed / waiting, and a note."""
    return {"key": key, "label": label("request_step", key), "state": state,
            "at": tokyo_time(at) if at is not None else "", "note": note}


def _carrier_call(session: Session, request: ApprovalRequest) -> ExternalOperation | None:
    """The carrier call an executed request made (sent in the same transaction as the approval)."""
    event = cr.LINE_REQUESTS.get(_KIND_OF_OPERATION.get(request.operation, ""))
    if event is None or request.executed_at is None or event not in CARRIER_OPERATIONS:
        return None
    return session.exec(select(ExternalOperation).where(
        ExternalOperation.line_id == request.line_id, ExternalOperation.operation == CARRIER_OPERATIONS[event],
        ExternalOperation.created_at >= request.executed_at - timedelta(seconds=5))
        .order_by(ExternalOperation.id)).first()


def _approval_timeline(session: Session, request: ApprovalRequest) -> tuple[str, list[dict[str, str]]]:
    status = request.status
    if status == ApprovalStatus.PENDING and approvals.is_expired(request):
        status = ApprovalStatus.EXPIRED.value
    steps = [_step("requested", "done", request.created_at, request.reason)]
    if status == ApprovalStatus.PENDING:
        steps += [_step("approval", "current", note=f"担当者が確認しています（受付期限 {tokyo_time(request.expires_at)}）。"),
                  _step("execution", "waiting")]
        return "pending", steps
    if status == ApprovalStatus.REJECTED:
        steps.append(_step("rejected", "failed", request.decided_at, request.decision_reason or ""))
        return "rejected", steps
    if status == ApprovalStatus.EXPIRED:
        steps.append(_step("expired", "failed", request.decided_at or request.expires_at,
                           "期限までに手続きできませんでした。必要ならもう一度お申し込みください。"))
        return "expired", steps
    steps.append(_step("approved", "done", request.decided_at))
    if status == ApprovalStatus.FAILED:
        steps.append(_step("failed", "failed", request.decided_at,
                           "手続きを完了できませんでした。担当者が確認します。"))
        return "failed", steps
    call = _carrier_call(session, request)
    if call is None or call.status == ExternalOperationStatus.SUCCEEDED:
        steps.append(_step("done", "done", call.completed_at if call else request.executed_at))
        return "done", steps
    if call.status == ExternalOperationStatus.FAILED:
        steps.append(_step("failed", "failed", call.completed_at,
                           "通信事業者で手続きできませんでした。担当者が確認し、必要ならご連絡します。"))
        return "failed", steps
    steps.append(_step("in_progress", "current", note="通信事業者で手続きしています。"))
    return "in_progress", steps


def _mnp_timeline(row: MnpReservation, today: date) -> tuple[str, list[dict[str, str]]]:
    steps = [_step("requested", "done", row.created_at)]
    if row.status == "requested":
        steps.append(_step("issue", "current", note="通信事業者で予約番号を発行しています。"))
        return "in_progress", steps
    if row.status == "failed":
        steps.append(_step("failed", "failed", row.updated_at, "予約番号を発行できませんでした。"))
        return "failed", steps
    if row.status in ("cancelled", "used"):
        steps.append(_step("done", "done", row.updated_at, label("mnp_status", row.status)))
        return "done", steps
    steps.append(_step("issued", "done", row.updated_at,
                       f"予約番号 {row.reservation_number}（有効期限 {_day(row.expires_on)} まで）"))
    if row.expires_on is not None and row.expires_on < today:
        steps.append(_step("expired", "failed", None, f"有効期限（{_day(row.expires_on)}）が過ぎました。"))
        return "expired", steps
    return "done", steps


def _mnp_status(row: MnpReservation, today: date) -> str:
    """The reservation's status as the customer reads it: an issued number past its last valid day is expired."""
    return "expired" if row.status == "issued" and row.expires_on and row.expires_on < today else row.status


def _ticket_timeline(ticket: Ticket) -> tuple[str, list[dict[str, str]]]:
    steps = [_step("requested", "done", ticket.created_at, f"問い合わせ T-{ticket.id:06d}")]
    if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        steps.append(_step("done", "done", ticket.updated_at, "担当者が手続きしました。"))
        return "done", steps
    waiting = ticket.status == TicketStatus.WAITING_CUSTOMER
    steps.append(_step("handling", "current", note="お客様からのご返信をお待ちしています。" if waiting
                       else "担当者が新しいSIMの手配をしています。"))
    return "in_progress", steps


def _entry(key: str, kind: str, line: Line, created_at, status: str, steps: list, **extra) -> dict[str, Any]:
    return {"key": key, "kind": kind, "kind_label": label("request_kind", kind), "line_id": line.id,
            "msisdn": format_msisdn(line.msisdn), "status": status, "status_label": label("request_step", status),
            "created_at": tokyo_time(created_at), "_sort": created_at, "steps": steps, "urgent": False,
            "reference": "", "reservation_number": "", "expires_on": "", **extra}


def _requests(session: Session, line_ids: list[int]) -> list[dict[str, Any]]:
    if not line_ids:
        return []
    numbers = {line.id: line for line in session.exec(select(Line).where(col(Line.id).in_(line_ids)))}
    out: list[dict[str, Any]] = []
    for request in session.exec(select(ApprovalRequest).where(
            col(ApprovalRequest.line_id).in_(line_ids), col(ApprovalRequest.requested_by_customer_user_id).is_not(None),
            col(ApprovalRequest.operation).in_(list(_KIND_OF_OPERATION)))):
        status, steps = _approval_timeline(session, request)
        out.append(_entry(f"approval-{request.id}", _KIND_OF_OPERATION[request.operation], numbers[request.line_id],
                          request.created_at, status, steps, urgent=request.urgent, reference=f"#{request.id}"))
    today = today_in_tokyo()
    for row in session.exec(select(MnpReservation).where(col(MnpReservation.line_id).in_(line_ids))):
        status, steps = _mnp_timeline(row, today)
        out.append(_entry(f"mnp-{row.id}", "mnp", numbers[row.line_id], row.created_at, status, steps,
                          reservation_number=row.reservation_number or "", expires_on=_day(row.expires_on)))
    for ticket in session.exec(select(Ticket).where(col(Ticket.line_id).in_(line_ids),
                                                    col(Ticket.subject).startswith(cr.SIM_REISSUE_SUBJECT))):
        status, steps = _ticket_timeline(ticket)
        out.append(_entry(f"ticket-{ticket.id}", "sim_reissue", numbers[ticket.line_id], ticket.created_at, status,
                          steps, urgent=ticket.priority == "high", reference=f"T-{ticket.id:06d}"))
    out.sort(key=lambda e: e.pop("_sort"), reverse=True)
    return out


def my_requests(*, actor: Actor, line_id: int | None = None) -> list[dict[str, Any]]:
    """The requests made from the customer app about the lines the person sees (one line with `line_id`), newest
    first, each with its timeline.

    Who: a customer actor (staff: PermissionDenied); a `line_id` outside the scope is NotFound. Writes nothing.
    Each entry: key, kind and kind_label (利用停止, 解約, MNP予約番号の発行 ...), line_id, msisdn, status
    (pending / in_progress / done / rejected / expired / failed) and status_label, created_at (Tokyo), urgent,
    reference (受付番号 #12 or 問い合わせ T-000012), reservation_number and expires_on (MNP), and `steps`: each
    {key, label, state (done / current / failed / waiting), at (Tokyo, "" when not yet), note}.
    """
    with read_session() as session:
        if line_id is not None:
            return _requests(session, [_seen_line(session, actor, line_id)[1].id])
        scope = customer_scope(session, actor)
        return _requests(session, sorted(scope.line_ids))


def focused_first(entries: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """The line's requests with the one named `key` (a notice's link) first and marked `focused`; the others keep
    their order. An unknown key changes nothing."""
    marked = [{**e, "focused": e["key"] == key} for e in entries]
    return sorted(marked, key=lambda e: not e["focused"])


def termination_terms(start: date | None, today: date) -> list[str]:
    """What terminating a line costs, in plain words, before the customer confirms (this catalogue has no early
    termination fee; 初期契約解除 applies to the whole contract within 8 days of its start)."""
    terms = [
        "解約金（違約金）はかかりません。",
        "解約する月の月額料金は、解約日までの日割りでご請求します。ユニバーサルサービス料・電話リレーサービス料は"
        "その月の分をご請求します。",
        "解約すると、この電話番号は使えなくなり、元に戻せません。SIMカードは返却扱いになります。",
        "電話番号をほかの会社で使い続ける場合は、解約ではなく「MNP予約番号の発行」をお申し込みください。",
    ]
    if start is not None and start <= today and is_initial_cancellation(start, today):
        last = start + timedelta(days=INITIAL_CANCELLATION_DAYS - 1)
        terms.append(f"ご契約の開始日（{_day(start)}）から{INITIAL_CANCELLATION_DAYS}日以内（{_day(last)}まで）は、"
                     "契約全体の初期契約解除ができます（ご利用日数分の月額料金のみのご請求）。初期契約解除はこの画面では"
                     "お受けできません。問い合わせからお申し出ください。")
    return terms


def _action(kind: str, line: Line, can_request: bool, blocking: str) -> dict[str, Any]:
    """A request the page may offer for the line now, or why not."""
    why = ""
    if not can_request:
        why = NO_RIGHT
    elif line.status not in cr.ALLOWED_STATES[kind]:
        why = f"回線が「{state_label('line', line.status)}」のため、今はお申し込みできません。"
    elif blocking:
        why = blocking
    return {"kind": kind, "label": label("request_kind", kind), "allowed": not why, "why": why,
            "reasons": [{"value": r, "label": label("request_reason", r)} for r in cr.REASONS.get(kind, ())]}


def my_line(line_id: int, *, actor: Actor) -> dict[str, Any]:
    """One line for its page in the customer app: the line, what may be asked for now (or why not), the fee of a
    SIM re-issue, what a termination costs, the MNP 予約番号 in play and the line's requests with their timelines.

    Who: a customer actor who sees the line (customer_scope; NotFound otherwise — a 利用者 without the right to ask
    still sees their line, with the reason they cannot ask). Writes nothing. Keys: id, msisdn, status and its
    label, plan_name, contract (C-000123) and contract_id, contract_start, can_request, no_right (words, "" when
    they may ask), actions (kind, label, allowed, why, reasons [{value, label}]), sim_fee, termination_terms,
    confirm_hint (the number to type for a termination), mnp ({} or status, status_label, reservation_number,
    expires_on), requests.
    """
    today = today_in_tokyo()
    with read_session() as session:
        scope, line = _seen_line(session, actor, line_id)
        contract = session.get(Contract, line.contract_id)
        plan = session.get(RatePlan, contract.rate_plan_id)
        pending = open_line_request(session, line.id)
        blocking = ""
        if pending is not None:
            blocking = (f"受付中のお申し込みがあります（受付番号 #{pending.id}「"
                        f"{label('request_kind', _KIND_OF_OPERATION.get(pending.operation, ''), default='手続き')}」）。")
        mnp = cr.open_mnp(session, line.id)
        last_mnp = mnp or session.exec(select(MnpReservation).where(MnpReservation.line_id == line.id)
                                       .order_by(col(MnpReservation.id).desc())).first()
        sim_ticket = cr.open_sim_reissue(session, line.id)
        actions = []
        for kind in cr.REQUEST_KINDS:
            block = blocking if kind in cr.LINE_REQUESTS else ""
            if kind == "mnp" and mnp is not None:
                block = ("有効な予約番号があります。" if mnp.status == "issued" else "予約番号を発行しています。")
            if kind == "sim_reissue" and sim_ticket is not None:
                block = f"SIM再発行を受付済みです（問い合わせ T-{sim_ticket.id:06d}）。"
            actions.append(_action(kind, line, scope.can_request, block))
        number = format_msisdn(line.msisdn)
        return {
            "id": line.id, "msisdn": number, "status": line.status, "status_label": state_label("line", line.status),
            "plan_name": plan.name if plan else "", "contract": contract_code(contract.id), "contract_id": contract.id,
            "contract_start": _day(contract.start_date), "can_request": scope.can_request,
            "no_right": "" if scope.can_request else NO_RIGHT, "actions": actions,
            "sim_fee": cr.sim_reissue_fee(session) or "料金表に定めがありません（担当者からご案内します）",
            "termination_terms": termination_terms(contract.start_date, today), "confirm_hint": number,
            "mnp": {} if last_mnp is None else {
                "status": _mnp_status(last_mnp, today),
                "status_label": label("mnp_status", _mnp_status(last_mnp, today)),
                "reservation_number": last_mnp.reservation_number or "", "expires_on": _day(last_mnp.expires_on)},
            "requests": _requests(session, [line.id]),
        }

