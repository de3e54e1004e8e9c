"""What a customer is told about their identity verification (本人確認): the documents were received, and the
result (verified, or rejected with what to do next).

These are service notices (no topic: they go out on every channel the customer has, whatever the notification
preferences say). Each links to the customer's record (permalink("customer", id): the customer app's home,
the staff member's customer screen). The caller decides when and audits: `tell_received` is sent as the system
when the KYC provider accepted the submission (services.ledger.kyc_checks), `tell_result` inside the approved
confirmation of the result (services.ledger.customers.set_kyc_status), whose one audit entry names the
notification ids.
"""

from __future__ import annotations

from sqlmodel import Session

from services.ledger.notifications import notify_in, permalink
from services.models import Customer
from services.platform.permissions import SYSTEM, Actor

CHANNELS = ("mail", "line", "in_app")
RESULTS = {
    "verified": ("本人確認が完了しました",
                 "ご提出いただいた本人確認書類で、ご本人であることを確認しました。\n"
                 "次にすること: お客様に必要な手続きはありません。お申し込みの手続きはこのまま進みます。"),
    "rejected": ("本人確認ができませんでした",
                 "ご提出いただいた本人確認書類では、ご本人であることを確認できませんでした"
                 "（書類が読み取れない、有効期限が切れている、ご登録の氏名・住所・生年月日と一致しない など）。\n"
                 "次にすること: 有効期限内の本人確認書類（運転免許証・マイナンバーカードなど）をご用意のうえ、"
                 "お問い合わせ窓口までご連絡ください。あらためて確認の手続きをご案内します。"),
}


def tell_received(session: Session, customer: Customer) -> list[int]:
    """「書類を受け付けました」: the check has started (system, audited as "notification.create")."""
    result = notify_in(session, customer, actor=SYSTEM, kind="kyc.submitted", title="本人確認書類を受け付けました",
                       body="ご提出いただいた本人確認書類を受け付け、確認を始めました。\n"
                            "次にすること: 結果は確認が済みしだいお知らせします。それまでお待ちください。",
                       link=permalink("customer", customer.id), channels=CHANNELS)
    return [n.id for n in result.notifications]


def tell_result(session: Session, customer: Customer, status: str, *, actor: Actor) -> list[int]:
    """The confirmed result, for "verified" and "rejected" (nothing for another status); not audited here — the
    caller's entry names the returned notification ids."""
    if status not in RESULTS:
        return []
    title, body = RESULTS[status]
    result = notify_in(session, customer, actor=actor, kind=f"kyc.{status}", title=title, body=body,
                       link=permalink("customer", customer.id), channels=CHANNELS, audit=False)
    return [n.id for n in result.notifications]
