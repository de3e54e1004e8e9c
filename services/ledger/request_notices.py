"""Telling a customer what became of a request they made in the customer app (お申し込みの結果).

A customer's own request is an approval request whose requester is a customer user
(ApprovalRequest.requested_by_customer_user_id, set by services.workflow.approvals.request_approval for a customer
actor). When staff decide it — approved and carried out, rejected — or it fails or expires, `tell_requester`
(registered with the approvals engine by services.registry) tells that person in the same transaction: an
optional notice of the topic "request" (mail and LINE follow the company's preferences, the in-app notice is
always kept), addressed to the person who asked (their in-app notice, their e-mail), with what to do next and a
link to the line it is about, opened on this request (or to the request). Requests made by staff or by a rule
tell nobody. Audited as the system ("notification.create").
"""

from __future__ import annotations

from sqlmodel import Session

from services.ledger.notifications import TITLE_MAX, notify_in, permalink
from services.models import ApprovalRequest, Customer, CustomerUser
from services.platform.permissions import SYSTEM

CHANNELS = ("mail", "line", "in_app")
TOPIC = "request"
OUTCOMES = {  # status -> (title, what happened, what to do next)
    "executed": ("お申し込みの手続きが完了しました", "お申し込みの内容を承認し、手続きを行いました。",
                 "次にすること: お客様に必要な手続きはありません。反映まで時間がかかる場合があります。"),
    "rejected": ("お申し込みをお受けできませんでした", "お申し込みの内容を確認しましたが、お受けできませんでした。",
                 "次にすること: 内容を見直してもう一度お申し込みいただくか、お問い合わせ窓口までご連絡ください。"),
    "failed": ("お申し込みの手続きができませんでした", "お申し込みを承認しましたが、手続きを完了できませんでした。",
               "次にすること: 担当者が確認します。必要な場合はこちらからご連絡します。"),
    "expired": ("お申し込みの受付期限が過ぎました", "お申し込みは期限までに手続きできなかったため、取り消されました。",
                "次にすること: 必要な場合は、もう一度お申し込みください。"),
}


def _link(request: ApprovalRequest) -> str:
    """The line's page opened on this request (its timeline first), or the request itself without a line."""
    if request.line_id is None:
        return permalink("request", request.id)
    return f"{permalink('line', request.line_id)}?request=approval-{request.id}"


def tell_requester(session: Session, request: ApprovalRequest) -> None:
    """The customer user who asked hears the outcome (system; nothing for a request made by staff or a rule)."""
    person_id = getattr(request, "requested_by_customer_user_id", None)
    outcome = OUTCOMES.get(request.status)
    if person_id is None or outcome is None:
        return
    person = session.get(CustomerUser, person_id)
    customer = session.get(Customer, person.customer_id) if person is not None else None
    if customer is None or (request.customer_id is not None and request.customer_id != customer.id):
        return
    title, what, next_step = outcome
    body = "\n".join(part for part in (f"お申し込み: {request.summary}" if request.summary else "", what, next_step)
                     if part)
    notify_in(session, customer, actor=SYSTEM, kind=f"request.{request.status}", title=title[:TITLE_MAX], body=body,
              link=_link(request), channels=CHANNELS, topic=TOPIC, customer_user_id=person.id, line_id=request.line_id)
