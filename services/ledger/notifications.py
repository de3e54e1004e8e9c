"""Notifications (通知) to customers: in-app rows, mail and LINE messages sent through the outbox.

`notify_customer` writes one Notification per channel. in_app needs no provider (it is shown by
the app and counts as sent at once); mail and line each add one messaging operation to the
outbox (notification_id set), and `apply_outcome` marks the notification sent when the provider
took it. A channel the customer has no address for (no e-mail, not a LINE friend) is not used,
and the reason is returned; a customer no external channel reaches gets the in-app message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from services.integrations import messaging
from services.models import Customer, CustomerUser, ExternalOperation, Line, Notification, NotificationPreference
from services.models.base import utcnow
from services.models.self_service import NOTICE_TOPICS
from services.models.workflow import NOTIFICATION_CHANNELS, ExternalOperationStatus
from services.platform.audit import mutating_service, record, snapshot
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import ValidationFailed
from services.platform.formatting import tokyo_time
from services.platform.labels import label
from services.platform.permissions import SYSTEM, Actor, get_permitted
from services.workflow import outbox
from services.workflow.outbox import Provider

# channel -> the messaging operation that delivers it (in_app has none)
CHANNEL_OPERATIONS = {"mail": "mail", "line": "push"}
NO_ADDRESS_JA = {"mail": "メールアドレスが登録されていないため、メールは送りません。",
                 "line": "LINE の友だち登録がないため、LINE は送りません。"}
SWITCHED_OFF_JA = {"mail": "お客様の通知設定により、メールは送りません。",
                   "line": "お客様の通知設定により、LINE は送りません。"}
TITLE_MAX = 200
LINK_MAX = 300
SECTION_LIMIT = 20


@dataclass(frozen=True)
class NotifyResult:
    """What notify_customer wrote: the notifications, and why a requested channel was not used."""

    notifications: list[Notification]
    notes: list[str] = field(default_factory=list)


def _validate(kind: str, title: str, body: str, link: str | None, channels: Sequence[str]) -> None:
    errors: dict[str, str] = {}
    if not kind.strip() or len(kind) > 32:
        errors["kind"] = "通知の種類を指定してください（32文字以内）。"
    if not title.strip() or len(title) > TITLE_MAX:
        errors["title"] = f"件名を{TITLE_MAX}文字以内で入力してください。"
    if not body.strip():
        errors["body"] = "本文を入力してください。"
    if link and len(link) > LINK_MAX:
        errors["link"] = f"リンクは{LINK_MAX}文字以内にしてください。"
    if not channels or any(c not in NOTIFICATION_CHANNELS for c in channels):
        errors["channels"] = "送信方法はメール・LINE・アプリ内から選んでください。"
    if errors:
        raise ValidationFailed(errors)


@mutating_service
def notify_customer(customer_id: int, *, actor: Actor, kind: str, title: str, body: str, link: str | None = None,
                    channels: Sequence[str] = ("mail",), line_id: int | None = None) -> NotifyResult:
    """Send a customer a message with a next action and a link (all staff; system flows run as SYSTEM).

    Writes one Notification per usable channel, one messaging outbox operation per external
    channel (mail -> "mail", line -> "push") and one audit entry "notification.create". A channel
    without an address is skipped with a note; when none is left the message goes in-app. `line_id`: the
    line of the customer the message is about (as in `notify_in`; a line of another customer is ValidationFailed).
    """
    _validate(kind, title, body, link, channels)
    with write_session() as session:
        customer = get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "notification.send")
        return notify_in(session, customer, actor=actor, kind=kind, title=title, body=body, link=link,
                         channels=channels, line_id=line_id)


def notify_in(session: Session, customer: Customer, *, actor: Actor, kind: str, title: str, body: str,
              link: str | None = None, channels: Sequence[str] = ("mail",), topic: str | None = None,
              customer_user_id: int | None = None, line_id: int | None = None, audit: bool = True) -> NotifyResult:
    """notify_customer inside the caller's transaction (billing and dunning send their notices with the change
    that causes them).

    `topic` (services.models.self_service.NOTICE_TOPICS: usage, maintenance, request, shipment) makes the notice
    optional: mail and LINE the customer switched off for that topic (NotificationPreference; no row = on) are not
    sent, and the in-app notice is always kept. Without a topic — bills, dunning, security, legal and service
    notices — every channel asked for goes out. `customer_user_id` addresses the notice to one person of the
    company (the in-app notice is theirs alone, mail goes to their address). `line_id` names the one line of the
    company the notice is about (another company's line: ValidationFailed), stored on every row it writes: in the
    app only the people who see that line see it (services.ledger.notices_read). `audit=False`: the caller names
    the notification ids in the one audit entry of its own change."""
    _validate(kind, title, body, link, channels)
    notes: list[str] = []
    if topic is not None:
        if topic not in NOTICE_TOPICS:
            raise ValueError(f"unknown notice topic {topic!r}")
        off = set(session.exec(select(NotificationPreference.channel).where(
            NotificationPreference.customer_id == customer.id, NotificationPreference.topic == topic,
            col(NotificationPreference.enabled).is_(False))).all())
        notes += [SWITCHED_OFF_JA[c] for c in dict.fromkeys(channels) if c in off]
        channels = [c for c in dict.fromkeys(channels) if c not in off and c != "in_app"] + ["in_app"]
    if line_id is not None and getattr(session.get(Line, line_id), "customer_id", None) != customer.id:
        raise ValidationFailed({"line_id": "回線を選び直してください。"})
    person = session.get(CustomerUser, customer_user_id) if customer_user_id else None
    addresses = {"mail": person.email if person is not None else customer.email, "line": customer.line_user_id}
    notes += [NO_ADDRESS_JA[c] for c in dict.fromkeys(channels) if c in addresses and not addresses[c]]
    usable = [c for c in dict.fromkeys(channels) if c == "in_app" or addresses.get(c)]
    if not usable:
        usable = ["in_app"]
        notes.append("アプリ内通知のみ作成しました。")
    rows: list[Notification] = []
    operations: list[int] = []
    for channel in usable:
        row = Notification(customer_id=customer.id, customer_user_id=person.id if person is not None else None,
                           line_id=line_id, channel=channel, kind=kind.strip(), title=title.strip(),
                           body=body, link=link or None, sent_at=utcnow() if channel == "in_app" else None)
        session.add(row)
        session.flush()
        rows.append(row)
        if channel in CHANNEL_OPERATIONS:
            operations.append(outbox.enqueue(
                session, provider="messaging", operation=CHANNEL_OPERATIONS[channel],
                subject=f"notification{row.id}", payload=_message(channel, addresses[channel], row),
                customer_id=customer.id, notification_id=row.id).id)
    if audit:
        record(session, actor, "notification.create", rows[0], reason=" ".join(notes) or None, after={
            "kind": rows[0].kind, "title": rows[0].title, "channels": usable, "line_id": line_id,
            "notification_ids": [r.id for r in rows], "external_operation_ids": operations})
    return NotifyResult(rows, notes)


def permalink(kind: str, record_id: int | str) -> str:
    """The link a notice carries to the record it is about: the app's /go/<kind>/<id>, which opens that
    record's page for whoever follows it (after signing in); a one-time key (an invitation's token) in
    place of the id for records found by their key."""
    return f"{settings.app_url.rstrip('/')}/go/{kind}/{record_id}"


def mail_in(session: Session, *, to: str, subject: str, text: str, key: str,
            customer_id: int | None = None) -> ExternalOperation:
    """Mail one address that is not the customer's own (a person the company invites) through the outbox, in the
    caller's transaction: one messaging "mail" operation, no Notification row (the text may hold a one-time
    link that the company's in-app notices must not show). `key` names what the mail is about (the subject
    of the idempotency key, e.g. "invitation12"). The caller audits it in its own entry."""
    return outbox.enqueue(session, provider="messaging", operation=CHANNEL_OPERATIONS["mail"], subject=key,
                          payload={"to": to, "subject": subject, "text": text}, customer_id=customer_id)


def _message(channel: str, address: str, row: Notification) -> dict[str, Any]:
    """The outbox payload of one external notification (identical on every retry)."""
    text = row.body + (f"\n\n{row.link}" if row.link else "")
    if channel == "mail":
        return {"to": address, "subject": row.title, "text": text}
    return {"to": address, "text": f"{row.title}\n{text}"}


def apply_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str, evidence: dict[str, Any]
                  ) -> None:
    """Apply a settled messaging operation (called by services.workflow.outbox.settle, same transaction).

    succeeded -> the notification is marked sent (audited as system); failed and unknown leave it
    unsent, with the review item the outbox opens.
    """
    row = session.get(Notification, op.notification_id) if op.notification_id else None
    if row is None or outcome != "succeeded" or row.sent_at is not None:
        return
    before = snapshot(row)
    row.sent_at = utcnow()
    session.add(row)
    record(session, SYSTEM, "notification.sent", row, before=before,
           reason=f"{label('notification_channel', row.channel)}送信を確認（外部連携処理 #{op.id}）")


def customer_notifications(customer_id: int, *, actor: Actor, limit: int = SECTION_LIMIT) -> list[dict[str, Any]]:
    """A customer's latest notifications for the screen: channel, title, when, delivery state (all staff)."""
    with read_session() as session:
        get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "customer.view")
        rows = session.exec(select(Notification).where(Notification.customer_id == customer_id)
                            .order_by(col(Notification.id).desc()).limit(limit)).all()
        ids = [r.id for r in rows]
        ops = session.exec(select(ExternalOperation.notification_id, ExternalOperation.status)
                           .where(col(ExternalOperation.notification_id).in_(ids))
                           .order_by(ExternalOperation.id)).all() if ids else []
    op_status = dict(ops)
    out = []
    for r in rows:
        delivery = "sent" if r.sent_at else {
            ExternalOperationStatus.FAILED.value: "failed",
            ExternalOperationStatus.UNKNOWN.value: "unknown"}.get(op_status.get(r.id, ""), "waiting")
        out.append({"id": r.id, "channel": r.channel, "channel_label": label("notification_channel", r.channel),
                    "kind": r.kind, "title": r.title, "link": r.link or "", "created_at": tokyo_time(r.created_at),
                    "sent_at": tokyo_time(r.sent_at), "delivery": delivery,
                    "delivery_label": label("notification_delivery", delivery)})
    return out


MESSAGING_PROVIDER = Provider("messaging", client=messaging.default_client, apply_outcome=apply_outcome, bulk=True)
