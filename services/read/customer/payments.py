"""The customer app's payments: paying one bill (by card on the gateway's page, and what to do when a payment
failed) and the company's payment method (口座振替, a card on file charged for every bill, or paying each bill).

Who: as for bills (services.read.customer.bills) — the 法人管理者, and a 利用者 allowed to see bills; a bill
outside that is NotFound in the bill's words. Nothing here writes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from services.billing import card_checkout, card_on_file, debit_applications, dunning
from services.billing.allocation import allocated_amounts
from services.billing.direct_debit import ACCOUNT_TYPE_LABELS, RESULT_KEYS
from services.ledger.customer_users import customer_scope
from services.models import CardCheckout, DirectDebitBatch, DirectDebitItem, DunningCase, ExternalOperation, Invoice
from services.models.collections import DebitBatchStatus, DunningStatus
from services.models.workflow import ExternalOperationStatus
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session
from services.platform.formatting import tokyo_time, yen
from services.platform.labels import label
from services.platform.permissions import Actor
from services.workflow import approvals

PAY_HOW = "下の「カードで支払う」からお支払いいただくか、請求書に記載の口座へお振込みください。"
WHAT_TO_DO = {
    "unpaid": PAY_HOW,
    "card_failed": "カード会社がお支払いを承認しませんでした。別のカードで" + PAY_HOW.removeprefix("下の"),
    "debit_failed": "口座からお引き落としできませんでした。" + PAY_HOW,
}
DEBIT_HINTS = {  # 振替結果コード -> what the customer can check (1 資金不足; 2 取引なし; 3 停止; 4 依頼書なし)
    1: "口座の残高が不足していました。",
    2: "口座が見つかりませんでした。口座振替の登録内容をご確認のうえ、「お支払い方法」から申し込み直してください。",
    3: "口座名義人のお申し出により振替が停止されています。",
    4: "銀行に口座振替のお届けがありませんでした。「お支払い方法」から申し込み直してください。",
}
WILL_SUSPEND = "期限までにお支払いが確認できない場合、ご契約の回線のご利用を停止します。"
SUSPENDED = "料金未払いのため回線のご利用を停止しています。お支払いが確認でき次第、自動で再開します。"


def _day(value: date) -> str:
    return f"{value:%Y年%m月%d日}"


def _problem(session: Session, invoice: Invoice, owed: int) -> dict[str, Any]:
    """What went wrong with paying a bill, what to do and by when ({} when nothing is owed or nothing is late)."""
    if owed <= 0 or invoice.kind != "invoice":
        return {}
    case = session.exec(select(DunningCase).where(
        DunningCase.invoice_id == invoice.id,
        col(DunningCase.status).in_([DunningStatus.OPEN.value, DunningStatus.SUSPENDED.value]))).first()
    today = today_in_tokyo()
    if case is None:
        if invoice.due_date is None or invoice.due_date >= today:
            return {}
        return {"reason": "unpaid", "title": label("payment_problem", "unpaid"), "detail": "",
                "what_to_do": WHAT_TO_DO["unpaid"], "deadline": "", "consequence": "", "next_retry": "", "suspended": False}
    detail, next_retry = "", ""
    if case.reason == "debit_failed":
        code = session.exec(select(DirectDebitItem.result_code).where(
            DirectDebitItem.invoice_id == invoice.id, col(DirectDebitItem.result_code).is_not(None),
            DirectDebitItem.result_code != 0).order_by(col(DirectDebitItem.id).desc())).first()
        if code is not None:
            detail = f"銀行からの結果: {label('debit_result', RESULT_KEYS.get(code, 'other'))}。" + DEBIT_HINTS.get(code, "")
        retry = session.exec(select(DirectDebitBatch.withdrawal_date).join(
            DirectDebitItem, DirectDebitItem.batch_id == DirectDebitBatch.id).where(
            DirectDebitItem.invoice_id == invoice.id, DirectDebitBatch.withdrawal_date >= today,
            col(DirectDebitBatch.status).in_([DebitBatchStatus.CREATED.value, DebitBatchStatus.SUBMITTED.value]))
            .order_by(DirectDebitBatch.withdrawal_date)).first()
        if retry is not None:
            next_retry = f"{_day(retry)}に口座から再度お引き落としします。前日までに口座へのご入金をお願いします。"
    suspended = case.status == DunningStatus.SUSPENDED
    return {"reason": case.reason, "title": label("payment_problem", case.reason, default=label("payment_problem", "unpaid")),
            "detail": detail, "what_to_do": WHAT_TO_DO.get(case.reason, PAY_HOW), "deadline": _day(dunning.pay_by(case)),
            "consequence": SUSPENDED if suspended else WILL_SUSPEND, "next_retry": next_retry,
            "suspended": suspended}


CHARGING = (ExternalOperationStatus.PENDING.value, ExternalOperationStatus.IN_FLIGHT.value,
            ExternalOperationStatus.UNKNOWN.value)  # a card charge that may still take the money


def _charging_card(session: Session, invoice: Invoice) -> str:
    """The card on file ("VISA ****4242") a charge of the bill is under way to, "" when none is."""
    card = card_on_file.active_card(session, invoice.customer_id)
    if card is None:
        return ""
    charging = session.exec(select(ExternalOperation.id).where(
        ExternalOperation.provider == card_on_file.PROVIDER, ExternalOperation.operation == "charge",
        ExternalOperation.invoice_id == invoice.id, col(ExternalOperation.status).in_(CHARGING))).first()
    return card_on_file.card_view(card)["masked"] if charging is not None else ""


def bill_payment(invoice_id: int, *, actor: Actor) -> dict[str, Any]:
    """How one bill is paid, for its page: what is owed, whether it can be paid by card now (not while it is being
    charged to the card on file: charged_to names that card; a failed automatic charge offers it again), its
    latest card checkout (services.billing.card_checkout.checkout_view, {} for none) and, for a late or failed
    payment, the problem — what happened (振替不能 / カード決済失敗 / 期限超過) and the bank's reason, what to do,
    the pay-by date of its dunning case (dunning.pay_by), what happens after it, the next withdrawal if one is planned.

    Who: a customer who may see the bill (otherwise NotFound; staff PermissionDenied). Writes nothing.
    """
    with read_session() as session:
        invoice = card_checkout.shown_invoice(session, invoice_id, customer_scope(session, actor))
        owed = max(0, invoice.total - allocated_amounts(session, [invoice.id])[invoice.id]) \
            if invoice.kind == "invoice" else 0
        latest = session.exec(select(CardCheckout).where(CardCheckout.invoice_id == invoice.id)
                              .order_by(col(CardCheckout.id).desc())).first()
        charged_to = _charging_card(session, invoice) if owed > 0 else ""
        return {"invoice_id": invoice.id, "owed_yen": owed, "owed": yen(owed),
                "can_pay_by_card": owed > 0 and not charged_to, "charged_to": charged_to,
                "checkout": card_checkout.checkout_view(latest), "problem": _problem(session, invoice, owed)}


APPLICATION_WORDS = {  # an approval request's state as the customer reads it
    "pending": "確認中です。登録が終わるまでは、これまでどおり請求書ごとにお支払いください。",
    "approved": "登録しています。",
    "executed": "登録しました。次回の請求から口座振替になります。",
    "rejected": "お申し込みをお受けできませんでした。お手数ですが、お問い合わせください。",
    "failed": "お申し込みをお受けできませんでした。お手数ですが、お問い合わせください。",
    "expired": "確認の期限が過ぎました。お手数ですが、もう一度お申し込みください。",
}


def my_payment_method(*, actor: Actor) -> dict[str, Any]:
    """The company's payment method for the 「お支払い方法」 page.

    Returns visible (False for a 利用者 not allowed to see bills: nothing else is filled), can_apply (the 法人管理者,
    no application waiting), can_manage_card (the 法人管理者), method ("direct_debit", "card_on_file" or
    "per_bill": 口座振替 takes precedence over a card on file) and its label, the active mandate (bank and branch
    codes, account type, ****last4, holder; {} for none), the card on file (card_on_file.card_view; {} for none),
    the latest 口座振替 application (its number, status, words for the customer, when; {} for none) and the
    account types to choose from. Who: a customer actor (staff PermissionDenied). Writes nothing.
    """
    with read_session() as session:
        scope = customer_scope(session, actor)
        if not scope.can_view_bills:
            return {"visible": False, "can_apply": False, "can_manage_card": False, "is_admin": False, "method": "",
                    "method_label": "", "mandate": {}, "card": {}, "application": {}, "account_types": []}
        mandate = debit_applications.active_mandate(session, scope.customer_id)
        card = card_on_file.active_card(session, scope.customer_id)
        request = debit_applications.latest_application(session, scope.customer_id)
    status = ""
    if request is not None:
        status = "expired" if request.status == "pending" and approvals.is_expired(request) else request.status
    waiting = status == "pending"
    method = "direct_debit" if mandate else "card_on_file" if card else "per_bill"
    return {
        "visible": True, "is_admin": scope.is_admin, "can_apply": scope.is_admin and not waiting,
        "can_manage_card": scope.is_admin, "method": method, "method_label": label("billing_method", method),
        "mandate": {
            "bank_code": mandate.bank_code, "branch_code": mandate.branch_code,
            "account_type": ACCOUNT_TYPE_LABELS.get(mandate.account_type, ""),
            "account_number": f"****{mandate.account_number_last4}", "holder": mandate.holder_kana,
            "since": tokyo_time(mandate.created_at),
        } if mandate else {},
        "card": card_on_file.card_view(card),
        "application": {
            "id": request.id, "status": status, "waiting": waiting, "words": APPLICATION_WORDS.get(status, ""),
            "created_at": tokyo_time(request.created_at),
        } if request else {},
        "account_types": [{"value": str(value), "label": text} for value, text in ACCOUNT_TYPE_LABELS.items()],
    }
