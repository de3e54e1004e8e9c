"""A card on file (カード払いの登録): the company registers a card once on the gateway's hosted page, and every bill
issued afterwards is charged to it (services.billing.card_payments.charge_card_on_file).

Who: the company's 法人管理者 (a 利用者: PermissionDenied; staff: PermissionDenied — they see the card on the
customer's page, customer_cards). The card number is typed on the gateway's page only: the ledger keeps the
gateway's reference (pm_...), the brand, the last four digits and the expiry.

Registering mirrors paying a bill on the gateway's page (services.billing.card_checkout): `start_card_setup` writes
the CardSetup (open, no address yet), one "card_setup" operation for the gateway and one audit entry in one
transaction; the outbox task asks the gateway for the page under the operation's idempotency key and
`apply_outcome` keeps its id and address; the customer's page waits for the address, then opens it. A second tap
while a young setup is open returns it. The gateway's `setup.completed` webhook (verified, stored once, processed
by a task) stores the card: the same event twice stores once; a new card replaces the active one (replaced), under
the customer's row lock, so a customer has at most one active card. `remove_card` ends it (removed), audited with
the reason; bills issued afterwards are paid by hand again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from services.billing.card_checkout import return_url
from services.ledger.customer_users import CustomerScope, customer_scope
from services.ledger.notifications import notify_in, permalink
from services.models import CardSetup, Customer, CustomerCard, CustomerUser, ExternalOperation, ReviewItem
from services.models.base import utcnow
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import read_session, write_session
from services.platform.errors import NotFound, PermissionDenied, ValidationFailed
from services.platform.formatting import tokyo_time
from services.platform.identifiers import customer_code
from services.platform.labels import label
from services.platform.permissions import SYSTEM, Actor, get_permitted
from services.workflow.outbox import enqueue

PROVIDER = "payment"
OPEN_PAGE = "card_setup"  # the outbox operation that opens the gateway's page in setup mode
OPERATIONS = (OPEN_PAGE,)
LIFETIME = timedelta(minutes=30)  # how long the gateway keeps a page open (its checkout_lifetime_seconds)
REUSE_WITHIN = timedelta(minutes=25)  # a second tap reuses a page younger than this
URL_MAX = 500
ADMIN_ONLY = "お支払い方法の変更は法人管理者だけが行えます。"
CARD_NOT_FOUND = "登録カードが見つかりません。"
UNMATCHED_KIND = "payment.card_setup.unmatched"
INVALID_KIND = "payment.card_setup.invalid"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _admin_scope(session: Session, actor: Actor) -> CustomerScope:
    """The 法人管理者's scope; PermissionDenied for a 利用者 (and for staff, from customer_scope)."""
    scope = customer_scope(session, actor)
    if not scope.is_admin:
        raise PermissionDenied(ADMIN_ONLY)
    return scope


def active_card(session: Session, customer_id: int) -> CustomerCard | None:
    """The customer's active card on file, if any."""
    return session.exec(select(CustomerCard).where(CustomerCard.customer_id == customer_id,
                                                   CustomerCard.status == "active")
                        .order_by(col(CustomerCard.id).desc())).first()


def card_view(card: CustomerCard | None) -> dict[str, Any]:
    """A card as pages show it ({} for none): id, brand, ****last4 with the brand, expiry MM/YY, status, when."""
    if card is None:
        return {}
    brand = label("card_brand", card.brand, default=label("card_brand", "other"))
    return {"id": card.id, "brand": brand, "last4": card.last4, "masked": f"{brand} ****{card.last4}",
            "expiry": f"{card.exp_month:02d}/{card.exp_year % 100:02d}", "status": card.status,
            "status_label": label("card_status", card.status), "registered_at": tokyo_time(card.created_at),
            "removed_at": tokyo_time(card.removed_at)}


def _shown_status(setup: CardSetup) -> str:
    if setup.status == "open" and _aware(setup.created_at) + LIFETIME <= utcnow():
        return "expired"
    return setup.status


def setup_view(setup: CardSetup | None, card: CustomerCard | None = None) -> dict[str, Any]:
    """A card registration as the customer's page shows it ({} for none): id, status and its label, the page's
    address once the gateway gave it, whether the page is still being prepared, the card it stored."""
    if setup is None:
        return {}
    status = _shown_status(setup)
    return {"id": setup.id, "status": status, "status_label": label("card_setup_status", status),
            "setup_url": (setup.setup_url or "") if status == "open" else "",
            "preparing": status == "open" and not setup.setup_url, "completed": status == "completed",
            "card": card_view(card)}


@mutating_service
def start_card_setup(*, actor: Actor, success_url: str, cancel_url: str) -> dict[str, Any]:
    """Open (or reuse) the gateway's page that registers a card for the company's later bills (カードを登録する).

    Who: the company's 法人管理者 (a 利用者 or staff: PermissionDenied). `success_url` / `cancel_url` are where the
    page sends the person back (absolute http(s) addresses). Writes the CardSetup, one "card_setup" operation in
    the outbox and one audit entry (card_setup.start); a second tap while a young setup is open returns it and
    writes nothing. Returns setup_view (its setup_url is empty until the outbox task has opened the page).
    """
    with write_session() as session:
        scope = _admin_scope(session, actor)
        errors: dict[str, str] = {}
        success_url = return_url(success_url, "success_url", errors)
        cancel_url = return_url(cancel_url, "cancel_url", errors)
        if errors:
            raise ValidationFailed(errors)
        customer = session.exec(select(Customer).where(Customer.id == scope.customer_id).with_for_update()).one()
        now, expired = utcnow(), []
        for open_one in session.exec(select(CardSetup).where(CardSetup.customer_id == customer.id,
                                                             CardSetup.status == "open")
                                     .order_by(col(CardSetup.id).desc())).all():
            if not expired and _aware(open_one.created_at) + REUSE_WITHIN > now:
                return setup_view(open_one)
            open_one.status = "expired"
            session.add(open_one)
            expired.append(open_one.id)
        setup = CardSetup(customer_id=customer.id, customer_user_id=scope.customer_user_id)
        session.add(setup)
        session.flush()
        payload = {"customer_ref": customer_code(customer.id), "client_reference_id": f"cset{setup.id}",
                   "description": f"{customer.name[:100]} 様のお支払いカードの登録",
                   "success_url": success_url, "cancel_url": cancel_url}
        op = enqueue(session, provider=PROVIDER, operation=OPEN_PAGE, subject=f"cset{setup.id}", payload=payload,
                     customer_id=customer.id)
        record(session, actor, "card_setup.start", setup,
               after={**snapshot(setup), "external_operation_id": op.id, "idempotency_key": op.idempotency_key,
                      "expired_setup_ids": expired})
        return setup_view(setup)


def card_setup_status(*, actor: Actor) -> dict[str, Any]:
    """The company's latest card registration as setup_view ({} when it never had one), with the card it stored.

    Who: the company's 法人管理者 (a 利用者 or staff: PermissionDenied). Writes nothing.
    """
    with read_session() as session:
        scope = _admin_scope(session, actor)
        latest = session.exec(select(CardSetup).where(CardSetup.customer_id == scope.customer_id)
                              .order_by(col(CardSetup.id).desc())).first()
        card = session.get(CustomerCard, latest.card_id) if latest is not None and latest.card_id else None
        return setup_view(latest, card)


@mutating_service
def remove_card(card_id: int, *, actor: Actor, reason: str) -> dict[str, Any]:
    """End the company's card on file (カードの登録を解除する): bills issued afterwards are paid by hand again.

    Who: the company's 法人管理者 (a 利用者 or staff: PermissionDenied); another company's card, or one that does
    not exist, is NotFound in the same words. A reason is required. Writes the card (removed, when), tells the
    company (mail and in-app) and one audit entry (customer_card.remove); a card already ended is returned as it is and nothing is written.
    """
    with write_session() as session:
        scope = _admin_scope(session, actor)
        session.exec(select(Customer).where(Customer.id == scope.customer_id).with_for_update()).one()
        card = session.exec(select(CustomerCard).where(CustomerCard.id == card_id).with_for_update()).first() \
            if isinstance(card_id, int) and not isinstance(card_id, bool) else None
        if card is None or card.customer_id != scope.customer_id:
            raise NotFound(CARD_NOT_FOUND)
        reason = (reason or "").strip()
        if not reason:
            raise ValidationFailed({"reason": "理由を入力してください。"})
        if card.status != "active":
            return card_view(card)
        before = snapshot(card)
        card.status, card.removed_at = "removed", utcnow()
        session.add(card)
        told = _tell_company(session, card, registered=False)
        record(session, actor, "customer_card.remove", card, before=before, reason=reason[:500],
               after={**snapshot(card), "notification_ids": told})
        return card_view(card)


def _tell_company(session: Session, card: CustomerCard, registered: bool) -> list[int]:
    """Mail and in-app notice to the company that a card was registered or removed (always sent, like a security
    notice: a change nobody in the company made must not go unseen); returns the notification ids."""
    customer = session.get(Customer, card.customer_id)
    shown = card_view(card)
    if registered:
        title = "お支払いに使うカードを登録しました"
        what = (f"{shown['masked']}（有効期限 {shown['expiry']}）を登録しました。今後発行される請求書は、このカードに"
                "ご請求します（口座振替のご登録がある場合は口座振替）。")
    else:
        title = "登録カードを解除しました"
        what = f"{shown['masked']}の登録を解除しました。今後の請求書は、請求書ごとにお支払いください。"
    body = f"{what}\n次にすること: お心当たりがない場合は、至急お問い合わせください。"
    kind = "payment_method.card_registered" if registered else "payment_method.card_removed"
    result = notify_in(session, customer, actor=SYSTEM, kind=kind, title=title, body=body,
                       link=permalink("payment_method", card.id), channels=("mail", "in_app"), audit=False)
    return [n.id for n in result.notifications]


def customer_cards(customer_id: int, *, actor: Actor) -> list[dict[str, Any]]:
    """A customer's cards on file for staff, newest first (card_view with who registered it).

    Who: staff who may view payments (payment.view). Writes nothing.
    """
    with read_session() as session:
        get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "payment.view")
        rows = session.exec(select(CustomerCard, CustomerUser.name).outerjoin(
            CustomerUser, CustomerUser.id == CustomerCard.registered_by_customer_user_id)
            .where(CustomerCard.customer_id == customer_id).order_by(col(CustomerCard.id).desc())).all()
        return [{**card_view(card), "registered_by": name or ""} for card, name in rows]


# ---- the outbox's answer ---------------------------------------------------------------------------------------

def _setup_by_reference(session: Session, reference: Any) -> CardSetup | None:
    ref = str(reference or "")
    if not ref.startswith("cset") or not ref[4:].isdigit():
        return None
    return session.exec(select(CardSetup).where(CardSetup.id == int(ref[4:])).with_for_update()).first()


def apply_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str, evidence: dict[str, Any]
                  ) -> None:
    """Apply a settled card_setup operation (services.billing.card_payments routes the gateway's operations here).

    Opened: the session's id and page address are kept on the open setup. Refused by the gateway, or learnt from
    a look-up (no address): the setup is cancelled, so a new tap opens a new page. Unknown: nothing yet.
    """
    if op.operation != OPEN_PAGE or outcome == "unknown":
        return
    setup = _setup_by_reference(session, json.loads(op.payload_json).get("client_reference_id"))
    if setup is None or setup.status != "open":
        return
    answer: dict[str, Any] = {}
    if outcome == "succeeded":
        try:
            answer = json.loads(evidence.get("body") or "{}")
        except ValueError:
            answer = {}
    answer = answer if isinstance(answer, dict) else {}
    session_ref, url = str(answer.get("id") or "")[:100], str(answer.get("url") or "")
    if session_ref and url and len(url) <= URL_MAX:
        setup.session_ref, setup.setup_url = session_ref, url
    else:
        setup.status = "cancelled"
    session.add(setup)


# ---- the gateway's webhook ---------------------------------------------------------------------------------------

def _setup_for_event(session: Session, data: dict[str, Any]) -> CardSetup | None:
    """The setup a completed session belongs to: by the session id, else by our reference sent with it."""
    session_ref = str(data.get("id") or "")
    found = session.exec(select(CardSetup).where(CardSetup.session_ref == session_ref).with_for_update()
                         ).first() if session_ref else None
    if found is None:
        found = _setup_by_reference(session, data.get("client_reference_id"))
        if found is not None and found.session_ref not in (None, session_ref):
            return None
    return found


def _card_details(data: dict[str, Any]) -> dict[str, Any] | None:
    """The card the event names (gateway reference, brand, last4, expiry), None when it does not name one."""
    ref, brand, last4 = (str(data.get(k) or "") for k in ("payment_method", "brand", "last4"))
    month, year = data.get("exp_month"), data.get("exp_year")
    if not (ref.startswith("pm_") and len(ref) <= 64 and len(last4) == 4 and last4.isdigit()
            and isinstance(month, int) and 1 <= month <= 12 and isinstance(year, int) and 2000 <= year <= 2100):
        return None
    return {"gateway_ref": ref, "brand": brand.lower()[:16] or "other", "last4": last4, "exp_month": month,
            "exp_year": year}


def setup_event(session: Session, event: dict[str, Any]) -> str:
    """Apply one gateway setup webhook (system, from the stored event's task); returns what happened.

    setup.completed: the card becomes the customer's active card on file (the one before it: replaced), the setup
    completed, one audit entry (customer_card.register). The same event twice, or a card already stored, stores
    once. A session the ledger does not know, or an event without a usable card, opens a review item.
    """
    kind, data = event.get("type"), event.get("data") or {}
    if kind != "setup.completed":
        return f"ignored: {kind}"
    evidence = json.dumps({"event_id": event.get("id"), "data": data}, ensure_ascii=False, default=str)
    setup = _setup_for_event(session, data)
    if setup is None:
        session.add(ReviewItem(kind=UNMATCHED_KIND, evidence_json=evidence,
                               reason="決済代行のカード登録の完了通知に対応する登録手続きが台帳にありません。"
                                      "決済代行の管理画面で内容を確かめてください。"))
        return "no matching card setup"
    details = _card_details(data)
    if details is None:
        session.add(ReviewItem(kind=INVALID_KIND, customer_id=setup.customer_id, evidence_json=evidence,
                               reason="決済代行のカード登録の完了通知にカードの情報がありません。登録していません。"))
        return f"card setup #{setup.id}: no card in the event"
    session.exec(select(Customer).where(Customer.id == setup.customer_id).with_for_update()).one()
    stored = session.exec(select(CustomerCard).where(CustomerCard.gateway_ref == details["gateway_ref"])).first()
    if setup.card_id is not None or stored is not None:
        return f"card setup #{setup.id}: card already stored"
    now = utcnow()
    replaced = []
    for old in session.exec(select(CustomerCard).where(CustomerCard.customer_id == setup.customer_id,
                                                       CustomerCard.status == "active").with_for_update()).all():
        old.status, old.removed_at = "replaced", now
        session.add(old)
        replaced.append(old.id)
    card = CustomerCard(customer_id=setup.customer_id, registered_by_customer_user_id=setup.customer_user_id,
                        **details)
    session.add(card)
    session.flush()
    setup.status, setup.card_id, setup.completed_at = "completed", card.id, now
    setup.session_ref = setup.session_ref or (str(data.get("id"))[:100] if data.get("id") else None)
    session.add(setup)
    told = _tell_company(session, card, registered=True)
    record(session, SYSTEM, "customer_card.register", card, after={**snapshot(card), "card_setup_id": setup.id,
                                                                  "replaced_card_ids": replaced,
                                                                  "notification_ids": told},
           reason=f"お客様がカードを登録（決済代行のカード登録 {data.get('id')}、通知 {event.get('id')}）")
    return f"card #{card.id} stored (card setup #{setup.id})"
