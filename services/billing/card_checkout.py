"""Paying one bill by card on the payment gateway's hosted page (カードで支払う), from the customer app.

Who: a signed-in customer who may see the bill (services.ledger.customer_users.customer_scope: the 法人管理者, or
a 利用者 with can_view_bills); anyone else gets the bill's NotFound, in the same words as for a bill that does not
exist, and nothing is written. The card number is typed on the gateway's page only: the ledger never sees it.

Opening the page is a call to a provider, so it goes through the outbox like every other (DESIGN.md, "External
calls"): `start_checkout` writes the CardCheckout (open, no address yet), one "checkout" operation for the gateway
and one audit entry in one transaction; the outbox task asks the gateway for the session under the operation's
idempotency key and `apply_outcome` keeps the session's id and page address on the checkout. The customer's page
waits for the address with a refreshing status (the relay runs every couple of seconds) and then opens it. No call
leaves the web process: a slow or unreachable gateway delays the page, never the ledger, and an answer lost on
the way is looked up by the reconciler under the same key.

One open checkout per bill: a second tap while one is open for what is still owed returns it; one for another
amount (a partial payment arrived since) or older than REUSE_WITHIN is closed — its page is closed at the gateway
too ("expire_checkout" through the outbox) — and a new one opens for what is owed now.

The gateway's `checkout.completed` webhook (verified, stored once, processed by a task: services.workflow.webhooks)
records one card payment allocated to the bill — the dunning case closes through the allocation hook — and marks
the checkout paid. The same event twice, or a second event for the same session, pays once. Money taken on a page
the ledger had already closed is still recorded (it was taken); money beyond what the bill owed, or for a bill no
longer issued, opens a review item for staff.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from sqlmodel import Session, col, select

from services.billing.allocation import allocate, allocated_amounts
from services.ledger.customer_users import CustomerScope, customer_scope
from services.models import CardCheckout, Customer, ExternalOperation, Invoice, Payment, ReviewItem
from services.models.base import utcnow
from services.models.billing import InvoiceStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.formatting import tokyo_time, yen
from services.platform.identifiers import customer_code
from services.platform.labels import label
from services.platform.permissions import SYSTEM, Actor
from services.workflow.outbox import enqueue

PROVIDER = "payment"
OPEN_PAGE = "checkout"  # the outbox operation that opens the gateway's page
CLOSE_PAGE = "expire_checkout"  # ... and the one that closes a page nobody should pay on any more
OPERATIONS = (OPEN_PAGE, CLOSE_PAGE)
LIFETIME = timedelta(minutes=30)  # how long the gateway keeps a page open (its checkout_lifetime_seconds)
REUSE_WITHIN = timedelta(minutes=25)  # a second tap reuses a page younger than this (time left to pay on it)
URL_MAX = 500
NOT_FOUND = "請求書が見つかりません。"  # the customer bill read model's words (services.read.customer.bills)
NOTHING_OWED = "この請求書はお支払い済みです。"
NOT_PAYABLE = "この請求書はカードでのお支払いの対象ではありません。"
OVERPAID_KIND = "payment.checkout.overpaid"
UNALLOCATED_KIND = "payment.checkout.unallocated"
UNMATCHED_KIND = "payment.checkout.unmatched"


def _aware(moment: datetime | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite gives naive ones back)."""
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def shown_invoice(session: Session, invoice_id: Any, scope: CustomerScope, *, lock: bool = False) -> Invoice:
    """An issued bill of the person's company they may see; NotFound otherwise (the same words every time)."""
    inv = None
    if scope.can_view_bills and isinstance(invoice_id, int) and not isinstance(invoice_id, bool):
        query = select(Invoice).where(Invoice.id == invoice_id)
        inv = session.exec(query.with_for_update() if lock else query).first()
    if inv is None or inv.customer_id != scope.customer_id or inv.status != InvoiceStatus.ISSUED:
        raise NotFound(NOT_FOUND)
    return inv


def _owed(session: Session, invoice: Invoice) -> int:
    return invoice.total - allocated_amounts(session, [invoice.id])[invoice.id]


def return_url(value: Any, name: str, errors: dict[str, str]) -> str:
    """A return address the gateway's page may send the person back to (absolute http(s)); a problem is noted in
    `errors` under `name`."""
    text = str(value or "").strip()
    parsed = urlparse(text)
    if len(text) > URL_MAX or parsed.scheme not in ("http", "https") or not parsed.netloc:
        errors[name] = "戻り先のURLが正しくありません。ページを再読み込みしてからやり直してください。"
    return text


def _shown_status(checkout: CardCheckout, now: datetime | None = None) -> str:
    """The checkout's state as the customer should understand it now (an open one past its page's life: expired)."""
    now = now or utcnow()
    if checkout.status == "open" and _aware(checkout.created_at) + LIFETIME <= now:
        return "expired"
    return checkout.status


def checkout_view(checkout: CardCheckout | None) -> dict[str, Any]:
    """A checkout as the customer's page shows it ({} for none): id, status and its label, amount, the page's
    address once the gateway gave it, whether the page is still being prepared, when it was paid."""
    if checkout is None:
        return {}
    status = _shown_status(checkout)
    return {
        "id": checkout.id, "invoice_id": checkout.invoice_id, "status": status,
        "status_label": label("checkout_status", status), "amount": yen(checkout.amount), "amount_yen": checkout.amount,
        "payment_url": (checkout.payment_url or "") if status == "open" else "",
        "preparing": status == "open" and not checkout.payment_url, "paid": status == "paid",
        "completed_at": tokyo_time(checkout.completed_at) if checkout.completed_at else "",
    }


def _close(session: Session, checkout: CardCheckout, status: str) -> None:
    """Close an open checkout (expired, cancelled); its page at the gateway, if it has one, is closed too."""
    checkout.status = status
    session.add(checkout)
    if checkout.session_ref:
        _close_page(session, checkout, checkout.session_ref)


def _close_page(session: Session, checkout: CardCheckout, session_ref: str) -> None:
    enqueue(session, provider=PROVIDER, operation=CLOSE_PAGE, subject=f"chk{checkout.id}",
            payload={"session_id": session_ref}, customer_id=checkout.customer_id, invoice_id=checkout.invoice_id)


@mutating_service
def start_checkout(invoice_id: int, *, actor: Actor, success_url: str, cancel_url: str) -> dict[str, Any]:
    """Open (or reuse) the gateway's card page for what is still owed on one of the customer's bills.

    Who: a customer who may see the bill (otherwise NotFound, the bill read model's words; staff PermissionDenied).
    A bill with nothing owed, or a credit note, is refused (Conflict). `success_url` / `cancel_url` are where the
    gateway's page sends the person back (absolute http(s) addresses the page builds from routes.py). Writes the
    CardCheckout, one "checkout" operation in the outbox and one audit entry (invoice.card_checkout); a second tap
    while the open checkout still fits returns it and writes nothing. Returns checkout_view (its payment_url is
    empty until the outbox task has opened the page: the caller waits for it with checkout_status).
    """
    with write_session() as session:
        scope = customer_scope(session, actor)
        invoice = shown_invoice(session, invoice_id, scope, lock=True)
        if invoice.kind != "invoice":
            raise Conflict(NOT_PAYABLE)
        owed = _owed(session, invoice)
        if owed <= 0:
            raise Conflict(NOTHING_OWED)
        errors: dict[str, str] = {}
        success_url, cancel_url = return_url(success_url, "success_url", errors), return_url(
            cancel_url, "cancel_url", errors)
        if errors:
            raise ValidationFailed(errors)
        now = utcnow()
        replaced = []
        for open_one in session.exec(select(CardCheckout).where(
                CardCheckout.invoice_id == invoice.id, CardCheckout.status == "open")
                .order_by(col(CardCheckout.id).desc())).all():
            if not replaced and open_one.amount == owed and _aware(open_one.created_at) + REUSE_WITHIN > now:
                return checkout_view(open_one)
            _close(session, open_one, "expired")
            replaced.append(open_one.id)
        checkout = CardCheckout(invoice_id=invoice.id, customer_id=invoice.customer_id, amount=owed,
                                customer_user_id=scope.customer_user_id)
        session.add(checkout)
        session.flush()
        payload = {"amount": owed, "currency": "JPY", "description": f"{invoice.invoice_no} のお支払い",
                   "customer_ref": customer_code(invoice.customer_id), "client_reference_id": f"chk{checkout.id}",
                   "success_url": success_url, "cancel_url": cancel_url}
        op = enqueue(session, provider=PROVIDER, operation=OPEN_PAGE, subject=f"chk{checkout.id}", payload=payload,
                     customer_id=invoice.customer_id, contract_id=invoice.contract_id, invoice_id=invoice.id)
        record(session, actor, "invoice.card_checkout", invoice,
               after={**snapshot(invoice), "card_checkout_id": checkout.id, "amount": owed,
                      "external_operation_id": op.id, "idempotency_key": op.idempotency_key,
                      "replaced_checkout_ids": replaced})
        return checkout_view(checkout)


def checkout_status(invoice_id: int, *, actor: Actor) -> dict[str, Any]:
    """The bill's latest card checkout as checkout_view ({} when the bill never had one).

    Who: a customer who may see the bill (otherwise NotFound; staff PermissionDenied). Writes nothing.
    """
    with read_session() as session:
        invoice = shown_invoice(session, invoice_id, customer_scope(session, actor))
        latest = session.exec(select(CardCheckout).where(CardCheckout.invoice_id == invoice.id)
                              .order_by(col(CardCheckout.id).desc())).first()
        return checkout_view(latest)


# ---- the outbox's answer ---------------------------------------------------------------------------------------

def _checkout_of(session: Session, op: ExternalOperation) -> CardCheckout | None:
    ref = str(json.loads(op.payload_json).get("client_reference_id") or "")
    if not ref.startswith("chk") or not ref[3:].isdigit():
        return None
    return session.exec(select(CardCheckout).where(CardCheckout.id == int(ref[3:])).with_for_update()).first()


def _answer(evidence: dict[str, Any]) -> dict[str, Any]:
    """The gateway's session in the call's answer (an empty dict when the outcome came from a look-up)."""
    try:
        data = json.loads(evidence.get("body") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def apply_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str, evidence: dict[str, Any]
                  ) -> None:
    """Apply a settled checkout operation (services.billing.card_payments routes the gateway's operations here).

    Opened: the session's id and page address are kept on the open checkout; a page opened for a checkout closed
    meanwhile is closed at the gateway. Refused by the gateway: the checkout is cancelled (the customer may tap
    again; the outbox's review item tells staff). An outcome learnt from a look-up carries no address: the
    checkout is cancelled, so a new tap opens a new page. Unknown: nothing yet. Closing a page changes nothing.
    """
    if op.operation != OPEN_PAGE or outcome == "unknown":
        return
    checkout = _checkout_of(session, op)
    if checkout is None:
        return
    answer = _answer(evidence) if outcome == "succeeded" else {}
    session_ref, url = str(answer.get("id") or "")[:100] or None, str(answer.get("url") or "")
    if checkout.status != "open":
        if session_ref and checkout.status != "paid":
            _close_page(session, checkout, session_ref)
        return
    if session_ref and url and len(url) <= URL_MAX:
        checkout.session_ref, checkout.payment_url = session_ref, url
    else:
        checkout.status = "cancelled"
        if session_ref:
            _close_page(session, checkout, session_ref)
    session.add(checkout)


# ---- the gateway's webhook ---------------------------------------------------------------------------------------

def _checkout_for_event(session: Session, data: dict[str, Any]) -> CardCheckout | None:
    """The checkout a completed session belongs to: by the session id, else by our reference sent with it."""
    session_ref = str(data.get("id") or "")
    found = session.exec(select(CardCheckout).where(CardCheckout.session_ref == session_ref).with_for_update()
                         ).first() if session_ref else None
    if found is not None:
        return found
    ref = str(data.get("client_reference_id") or "")
    if ref.startswith("chk") and ref[3:].isdigit():
        found = session.exec(select(CardCheckout).where(CardCheckout.id == int(ref[3:])).with_for_update()).first()
        if found is not None and found.session_ref in (None, session_ref):
            return found
    return None


def checkout_event(session: Session, event: dict[str, Any]) -> str:
    """Apply one gateway checkout webhook (system, from the stored event's task); returns what happened.

    checkout.completed: one card payment for the amount the gateway took, allocated to the bill (消込; the dunning
    case closes through the allocation hook), the checkout paid and its outbox operation linked to the payment
    (so a refund goes back to the gateway). Duplicates and repeats pay once. A session the ledger does not know
    opens a review item; so does money beyond what the bill owed, or for a bill no longer issued.
    """
    kind, data = event.get("type"), event.get("data") or {}
    if kind != "checkout.completed":
        return f"ignored: {kind}"
    charge_id = str(data.get("charge_id") or "")[:128] or None
    checkout = _checkout_for_event(session, data)
    if checkout is None:
        session.add(ReviewItem(
            kind=UNMATCHED_KIND, reason="決済代行のカード払い（決済ページ）の完了通知に対応するお支払いが台帳にありません。"
                                        "決済代行の管理画面で内容を確かめてください。",
            evidence_json=json.dumps({"event_id": event.get("id"), "data": data}, ensure_ascii=False, default=str)))
        return "no matching checkout"
    if checkout.status == "paid" or checkout.payment_id is not None:
        return f"card checkout #{checkout.id} already paid"
    existing = session.exec(select(Payment).where(Payment.external_ref == charge_id)).first() if charge_id else None
    if existing is not None:  # recorded under this charge already (a person, or an earlier event)
        checkout.status, checkout.payment_id = "paid", existing.id
        checkout.completed_at = checkout.completed_at or utcnow()
        session.add(checkout)
        return f"card checkout #{checkout.id} already recorded as payment #{existing.id}"
    try:
        amount = int(data.get("amount"))
    except (TypeError, ValueError):
        amount = checkout.amount
    invoice = session.exec(select(Invoice).where(Invoice.id == checkout.invoice_id).with_for_update()).one()
    customer = session.get(Customer, checkout.customer_id)
    owed = _owed(session, invoice)
    payment = Payment(customer_id=checkout.customer_id, amount=amount, method="card",
                      payer_name=(customer.name if customer else "カード")[:200], reference=invoice.invoice_no,
                      external_ref=charge_id)
    session.add(payment)
    session.flush()
    record(session, SYSTEM, "payment.record", payment,
           reason=f"お客様のカード払い（決済ページ {data.get('id')}、決済ID {charge_id or '不明'}、カード払い #{checkout.id}）")
    evidence = {"payment_id": payment.id, "invoice_id": invoice.id, "card_checkout_id": checkout.id,
                "session_id": data.get("id"), "charge_id": charge_id, "amount": amount, "owed_before": owed}
    if invoice.status == InvoiceStatus.ISSUED:
        allocate(session, payment, invoice, amount, actor=SYSTEM,
                 reason=f"カード払い（決済ページ）の請求書へ自動消込（カード払い #{checkout.id}）")
        if amount > owed:
            session.add(ReviewItem(
                kind=OVERPAID_KIND, customer_id=checkout.customer_id,
                reason=f"カード払いで請求書 {invoice.invoice_no} のお支払い残高（{yen(max(owed, 0))}）を超える "
                       f"{yen(amount)} を受け取りました。過入金の返金を検討してください。",
                evidence_json=json.dumps(evidence, ensure_ascii=False)))
    else:
        session.add(ReviewItem(
            kind=UNALLOCATED_KIND, customer_id=checkout.customer_id,
            reason="カード払い（決済ページ）は完了しましたが、請求書が発行済ではないため消込していません。入金を確認してください。",
            evidence_json=json.dumps(evidence, ensure_ascii=False)))
    checkout.status, checkout.payment_id, checkout.completed_at = "paid", payment.id, utcnow()
    checkout.session_ref = checkout.session_ref or (str(data.get("id"))[:100] if data.get("id") else None)
    session.add(checkout)
    op = session.exec(select(ExternalOperation).where(
        ExternalOperation.provider == PROVIDER, ExternalOperation.operation == OPEN_PAGE,
        ExternalOperation.idempotency_key == data.get("idempotency_key"))).first()
    if op is not None and op.payment_id is None:
        op.payment_id = payment.id
        session.add(op)
    return f"card checkout #{checkout.id} paid (payment #{payment.id})"
