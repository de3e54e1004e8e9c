"""A customer's application for 口座振替 (口座振替を申し込む) from the customer app, confirmed by staff.

The 法人管理者 enters the account — bank code (4 digits), branch (3), account type, number (7) and the holder as the
bank writes it (katakana, kept half-width) — checked with the very rules staff use when they register a mandate
(services.billing.direct_debit.check_account). The application is an approval request (承認申請) asked by the
customer (services.workflow.approvals, the policy's customer_request): accounting or an administrator compares it
with the signed 預金口座振替依頼書 and approves; approving registers the mandate (direct_debit.register_mandate,
which replaces the active one), once. The account number travels encrypted in the request's parameters and is
shown as ****1234 everywhere. Until it is approved, the bills are paid as before (card on the bill, or transfer).
"""

from __future__ import annotations

from sqlmodel import Session, select

from services.billing.direct_debit import ACCOUNT_TYPE_LABELS, check_account, register_mandate
from services.ledger.customer_users import CUSTOMER_NOT_FOUND, customer_scope
from services.models import ApprovalRequest, Customer, DirectDebitMandate
from services.platform import crypto
from services.platform.db import read_session
from services.platform.errors import NotFound, PermissionDenied
from services.platform.permissions import Actor
from services.workflow import approvals
from services.workflow.approvals import Policy, Preview

OPERATION = "debit_mandate.apply"
REASON = "お客様からの口座振替のお申し込み（預金口座振替依頼書と照合してください）"
ADMIN_ONLY = "お支払い方法の変更は法人管理者だけが行えます。"
PARAMS = ("customer_id", "bank_code", "branch_code", "account_type", "account_number_enc", "account_number_last4",
          "holder_name")


def active_mandate(session: Session, customer_id: int) -> DirectDebitMandate | None:
    """The customer's active 口座振替 mandate, if any."""
    return session.exec(select(DirectDebitMandate).where(DirectDebitMandate.customer_id == customer_id,
                                                         DirectDebitMandate.status == "active")
                        .order_by(DirectDebitMandate.id.desc())).first()


def latest_application(session: Session, customer_id: int) -> ApprovalRequest | None:
    """The customer's latest 口座振替 application, whatever became of it."""
    return session.exec(select(ApprovalRequest).where(ApprovalRequest.operation == OPERATION,
                                                      ApprovalRequest.customer_id == customer_id)
                        .order_by(ApprovalRequest.id.desc())).first()


def _customer_may_apply(session: Session, params: dict, actor: Actor) -> None:
    """The policy's customer_request: the 法人管理者 of the very customer the application is for."""
    scope = customer_scope(session, actor)
    if params.get("customer_id") != scope.customer_id:
        raise NotFound(CUSTOMER_NOT_FOUND)
    if not scope.is_admin:
        raise PermissionDenied(ADMIN_ONLY)


def _masked(last4: str) -> str:
    return f"****{last4}"


def _describe(session: Session, params: dict) -> Preview:
    customer = approvals.get_record(session, Customer, params.get("customer_id"), "顧客")
    current = active_mandate(session, customer.id)
    kind = ACCOUNT_TYPE_LABELS.get(int(params.get("account_type") or 0), "")
    changes = [
        ("金融機関コード", current.bank_code if current else "", str(params.get("bank_code"))),
        ("支店コード", current.branch_code if current else "", str(params.get("branch_code"))),
        ("預金種目", ACCOUNT_TYPE_LABELS.get(current.account_type, "") if current else "", kind),
        ("口座番号", _masked(current.account_number_last4) if current else "",
         _masked(str(params.get("account_number_last4")))),
        ("口座名義", current.holder_kana if current else "", str(params.get("holder_name"))),
    ]
    summary = (f"{customer.name}: 口座振替のお申し込み（{params.get('bank_code')}-{params.get('branch_code')} {kind} "
               f"{_masked(str(params.get('account_number_last4')))}）")
    return Preview(summary=summary, changes=changes, target_key=f"customer:{customer.id}", customer_id=customer.id)


def _execute(params: dict, actor: Actor, reason: str) -> None:
    register_mandate(int(params["customer_id"]), actor=actor, bank_code=params["bank_code"],
                     branch_code=params["branch_code"], account_type=params["account_type"],
                     account_number=crypto.decrypt(params["account_number_enc"]), holder_name=params["holder_name"],
                     reason=reason)


# The application's row of the approval policy table (services.registry registers it): a customer asks, a person of
# accounting (or an administrator) approves, and approving registers the mandate.
POLICIES = (
    Policy(OPERATION, "口座振替のお申し込み（お客様）", "payment.manage", approvals.ACCOUNTING_CHECKERS, _describe,
           _execute, required_params=PARAMS, customer_request=_customer_may_apply),
)


def apply_for_direct_debit(*, actor: Actor, bank_code: str, branch_code: str, account_type: int | str,
                           account_number: str, holder_name: str) -> ApprovalRequest:
    """「口座振替を申し込む」: the signed-in 法人管理者 applies for 口座振替 on this account.

    Who: a customer's 法人管理者 (a 利用者: PermissionDenied; staff register mandates directly with
    direct_debit.register_mandate: PermissionDenied here). The account is checked as staff's registration checks it
    (ValidationFailed naming each field). Becomes one approval request for accounting
    (services.workflow.approvals.request_approval, the mutating service: it writes the request and its one audit
    entry "approval.request"); a second application while one waits is refused (Conflict). Nothing changes in
    how the bills are collected until a person approves it.
    """
    if actor is None or actor.kind != "customer":
        raise PermissionDenied()
    with read_session() as session:
        scope = customer_scope(session, actor)
        if not scope.is_admin:
            raise PermissionDenied(ADMIN_ONLY)
    account = check_account(bank_code=bank_code, branch_code=branch_code, account_type=account_type,
                            account_number=account_number, holder_name=holder_name)
    params = {"customer_id": scope.customer_id, "bank_code": account.bank_code, "branch_code": account.branch_code,
              "account_type": account.account_type, "account_number_enc": crypto.encrypt(account.account_number),
              "account_number_last4": account.account_number[-4:], "holder_name": account.holder_kana}
    return approvals.request_approval(OPERATION, params, actor=actor, reason=REASON)
