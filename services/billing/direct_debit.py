"""口座振替 (direct debit): customers' mandates, the withdrawal-request file for a withdrawal day, sending it
to the bank, and reading the bank's result back.

A mandate holds the account by codes (bank 4 digits, branch 3, type, number 7, encrypted) and the holder's
name in half-width katakana. A batch takes every issued, unpaid invoice of customers with an active mandate
that is not already waiting in another file, for a withdrawal day moved to the next bank business day, and
writes one Zengin 種別91 file (kept with its SHA-256). Sending it goes through the outbox like every call to
a provider. Reading the result (fetched from the bank, or a file a person uploads) creates one payment per
振替済 line, allocated to its invoice, and for every other code opens a dunning case whose first notice says
what to do; a result file read twice changes nothing (its hash is kept).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.billing import dunning
from services.billing.allocation import allocate, allocated_amounts
from services.integrations import bank
from services.integrations.direct_debit_file import (
    TRANSFERRED,
    DebitHeader,
    DebitItem,
    ZenginValueError,
    read_result,
    to_zengin_kana,
    write_request,
)
from services.models import Customer, DirectDebitBatch, DirectDebitItem, DirectDebitMandate, Invoice, Payment
from services.models.base import utcnow
from services.models.billing import InvoiceStatus, PaymentStatus
from services.models.collections import DebitBatchEvent, DebitBatchStatus
from services.models.workflow import ExternalOperation
from services.platform import crypto
from services.platform.audit import mutating_service, record, snapshot
from services.platform.business_days import next_bank_business_day
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, ValidationFailed
from services.platform.formatting import tokyo_time, yen
from services.platform.labels import label, state_label
from services.platform.lifecycle import Lifecycle, transition
from services.platform.permissions import SYSTEM, Actor, get_permitted, require
from services.workflow import outbox
from services.workflow.outbox import Provider

B, BE = DebitBatchStatus, DebitBatchEvent
DEBIT_BATCH = Lifecycle("debit_batch", B, BE, {
    (B.CREATED, BE.SUBMIT): B.SUBMITTED,
    (B.CREATED, BE.CANCEL): B.CANCELLED,
    (B.SUBMITTED, BE.IMPORT_RESULT): B.RESULT_IMPORTED,
})
PROVIDER = "bank"
SUBMIT = "submit_debits"
ACCOUNT_TYPE_LABELS = {1: "普通", 2: "当座", 9: "その他"}
RESULT_KEYS = {0: "transferred", 1: "insufficient_funds", 2: "no_account", 3: "stopped_by_payer", 4: "no_authority",
               8: "stopped_by_collector", 9: "other"}  # 振替結果コード -> its label in the catalogue


def _digits(value: Any, width: int, name: str, label_ja: str, errors: dict[str, str]) -> str:
    text = str(value or "").strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if not (text.isdigit() and len(text) == width):
        errors[name] = f"{label_ja}は{width}桁の数字で入力してください。"
    return text


@dataclass(frozen=True)
class BankAccount:
    """A 口座振替 account as the bank file needs it: codes, 預金種目, the 7-digit number and the holder in half-width
    katakana."""

    bank_code: str
    branch_code: str
    account_type: int
    account_number: str
    holder_kana: str


def check_account(*, bank_code: str, branch_code: str, account_type: int | str, account_number: str,
                  holder_name: str) -> BankAccount:
    """The account in the form the bank file needs, or ValidationFailed naming each wrong field (the one rule for
    staff registering a mandate and for a customer applying): bank code 4 digits, branch 3, account type 普通 /
    当座 / その他, number up to 7 digits (zero-filled), the holder's name in katakana (converted to half-width,
    at most 30 characters). Full-width digits are accepted."""
    errors: dict[str, str] = {}
    bank_code = _digits(bank_code, 4, "bank_code", "金融機関コード", errors)
    branch_code = _digits(branch_code, 3, "branch_code", "支店コード", errors)
    number = str(account_number or "").strip()
    number = number.zfill(7) if number.isdigit() and len(number) <= 7 else number
    number = _digits(number, 7, "account_number", "口座番号", errors)
    try:
        kind = int(account_type)
    except (TypeError, ValueError):
        kind = 0
    if kind not in ACCOUNT_TYPE_LABELS:
        errors["account_type"] = "預金種目（普通・当座・その他）を選んでください。"
    try:
        holder = to_zengin_kana(str(holder_name or "").strip())
    except ZenginValueError:
        holder = ""
        errors["holder_name"] = "口座名義はカタカナ（銀行に届け出た表記）で入力してください。"
    if not holder or len(holder) > 30:
        errors.setdefault("holder_name", "口座名義を30文字以内のカタカナで入力してください。")
    if errors:
        raise ValidationFailed(errors)
    return BankAccount(bank_code, branch_code, kind, number, holder)


@mutating_service
def register_mandate(customer_id: int, *, actor: Actor, bank_code: str, branch_code: str, account_type: int | str,
                     account_number: str, holder_name: str, reason: str | None = None) -> DirectDebitMandate:
    """Register a customer's 口座振替 account (accounting, admin): codes, type, number (7 digits; shorter numbers
    are zero-filled) and the holder's name as the bank writes it (converted to half-width katakana; check_account).
    A new mandate replaces the customer's active one."""
    account = check_account(bank_code=bank_code, branch_code=branch_code, account_type=account_type,
                            account_number=account_number, holder_name=holder_name)
    bank_code, branch_code, kind = account.bank_code, account.branch_code, account.account_type
    number, holder = account.account_number, account.holder_kana
    with write_session() as session:
        customer = get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "payment.manage")
        for old in session.exec(select(DirectDebitMandate).where(DirectDebitMandate.customer_id == customer.id,
                                                                 DirectDebitMandate.status == "active")):
            old.status, old.revoked_at = "revoked", utcnow()
            session.add(old)
        mandate = DirectDebitMandate(customer_id=customer.id, bank_code=bank_code, branch_code=branch_code,
                                     account_type=kind, account_number_enc=crypto.encrypt(number),
                                     account_number_last4=number[-4:], holder_kana=holder,
                                     customer_number=f"pending-{customer.id}-{utcnow().timestamp()}",
                                     created_by=actor.id)
        session.add(mandate)
        session.flush()
        mandate.customer_number = f"{mandate.id:020d}"
        session.add(mandate)
        record(session, actor, "debit_mandate.register", mandate, reason=reason, exclude={"account_number_enc"})
    return mandate


@mutating_service
def revoke_mandate(mandate_id: int, *, actor: Actor, reason: str) -> DirectDebitMandate:
    """End a 口座振替 mandate (accounting, admin): later files leave the customer out."""
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    with write_session() as session:
        mandate = session.exec(select(DirectDebitMandate).where(DirectDebitMandate.id == mandate_id)
                               .with_for_update()).first()
        if mandate is None:
            raise NotFound("口座振替の登録が見つかりません。")
        require(actor, "payment.manage", mandate)
        if mandate.status == "revoked":
            return mandate
        before = snapshot(mandate, {"account_number_enc"})
        mandate.status, mandate.revoked_at = "revoked", utcnow()
        session.add(mandate)
        record(session, actor, "debit_mandate.revoke", mandate, before=before, reason=reason.strip(),
               exclude={"account_number_enc"})
    return mandate


def _waiting_invoice_ids(session: Session) -> set[int]:
    """Invoices in a file that is made or sent and whose result is not read yet, or already collected."""
    waiting = select(DirectDebitItem.invoice_id).join(DirectDebitBatch, DirectDebitBatch.id == DirectDebitItem.batch_id) \
        .where(col(DirectDebitBatch.status).in_([B.CREATED.value, B.SUBMITTED.value]))
    collected = select(DirectDebitItem.invoice_id).where(DirectDebitItem.result_code == TRANSFERRED)
    return set(session.exec(waiting).all()) | set(session.exec(collected).all())


@mutating_service
def create_batch(*, actor: Actor, withdrawal_date: date | str) -> DirectDebitBatch:
    """Write the withdrawal-request file for a withdrawal day (accounting, admin): the day moves to the next bank
    business day; every issued, unpaid invoice of a customer with an active mandate, not waiting in another
    file, is in it, for what is still owed."""
    require(actor, "payment.manage")
    try:
        day = withdrawal_date if isinstance(withdrawal_date, date) else date.fromisoformat(str(withdrawal_date))
    except ValueError:
        raise ValidationFailed({"withdrawal_date": "引落日を YYYY-MM-DD で入力してください。"}) from None
    day = next_bank_business_day(day)
    with write_session() as session:
        mandates = {m.customer_id: m for m in session.exec(select(DirectDebitMandate).where(
            DirectDebitMandate.status == "active"))}
        waiting = _waiting_invoice_ids(session)
        invoices = [i for i in session.exec(select(Invoice).where(
            Invoice.status == InvoiceStatus.ISSUED.value, Invoice.kind == "invoice",
            col(Invoice.customer_id).in_(list(mandates))).order_by(Invoice.id)) if i.id not in waiting]
        paid = allocated_amounts(session, [i.id for i in invoices])
        owed = [(i, i.total - paid[i.id]) for i in invoices if i.total - paid[i.id] > 0]
        if not owed:
            raise Conflict("口座振替の対象となる未収の請求書がありません。")
        c = settings.consignor
        header = DebitHeader(consignor_code=c.code, consignor_name=c.name, withdrawal_date=day, bank_code=c.bank_code,
                             bank_name=c.bank_name, branch_code=c.branch_code, branch_name=c.branch_name,
                             account_type=c.account_type, account_number=c.account_number)
        items = []
        for invoice, amount in owed:
            m = mandates[invoice.customer_id]
            first_time = session.exec(select(func.count()).select_from(DirectDebitItem)
                                      .where(DirectDebitItem.mandate_id == m.id)).one() == 0
            items.append(DebitItem(bank_code=m.bank_code, bank_name="", branch_code=m.branch_code, branch_name="",
                                   account_type=m.account_type, account_number=crypto.decrypt(m.account_number_enc),
                                   holder_name=m.holder_kana, amount=amount, new_code=1 if first_time else 0,
                                   customer_number=m.customer_number))
        content = write_request(header, items)
        batch = DirectDebitBatch(withdrawal_date=day, item_count=len(items), total_amount=sum(a for _, a in owed),
                                 request_sha256=hashlib.sha256(content).hexdigest(), request_file=content,
                                 created_by=actor.id)
        session.add(batch)
        session.flush()
        session.add_all(DirectDebitItem(batch_id=batch.id, invoice_id=invoice.id, mandate_id=mandates[invoice.customer_id].id,
                                        amount=amount) for invoice, amount in owed)
        record(session, actor, "debit_batch.create", batch)
    return batch


@mutating_service
def submit_batch(batch_id: int, *, actor: Actor) -> DirectDebitBatch:
    """Send a batch's file to the bank (accounting, admin) through the outbox; sending it again changes nothing."""
    require(actor, "payment.manage")
    with write_session() as session:
        batch = _locked_batch(session, batch_id)
        if batch.status != B.CREATED:
            return batch
        if batch.id in _sending(session):
            return batch
        op = outbox.enqueue(session, provider=PROVIDER, operation=SUBMIT, subject=f"debit{batch.id}",
                            payload={"batch_id": batch.id, "file": base64.b64encode(batch.request_file).decode(),
                                     "sha256": batch.request_sha256})
        record(session, actor, "debit_batch.send", batch,
               after={"status": batch.status, "external_operation_id": op.id, "sha256": batch.request_sha256})
    return batch


def _sending(session: Session) -> dict[int, str]:
    """Batch id -> the status of its file's sending still under way (pending, in_flight, or unknown: 要確認)."""
    keys = session.exec(select(ExternalOperation.idempotency_key, ExternalOperation.status).where(
        ExternalOperation.provider == PROVIDER, ExternalOperation.operation == SUBMIT,
        col(ExternalOperation.status).in_(["pending", "in_flight", "unknown"]))).all()
    return {int(key.split("-")[2].removeprefix("debit")): status for key, status in keys}


def _locked_batch(session: Session, batch_id: int) -> DirectDebitBatch:
    batch = session.exec(select(DirectDebitBatch).where(DirectDebitBatch.id == batch_id).with_for_update()).first()
    if batch is None:
        raise NotFound("口座振替データが見つかりません。")
    return batch


def apply_outcome(session: Session, op: ExternalOperation, outcome: str, detail: str, evidence: dict[str, Any]
                  ) -> None:
    """The bank took (or refused) a withdrawal file: a taken file is 銀行へ送信済 with the bank's reference."""
    if op.operation != SUBMIT or outcome != "succeeded":
        return
    batch_id = int(json.loads(op.payload_json)["batch_id"])
    batch = _locked_batch(session, batch_id)
    if batch.status != B.CREATED:
        return
    batch.bank_ref = str(evidence.get("id") or op.provider_ref or "")[:64] or None
    batch.submitted_at = utcnow()
    transition(session, batch, DEBIT_BATCH, BE.SUBMIT, actor=SYSTEM, reason=f"銀行が受け付けました（{batch.bank_ref}）")


@mutating_service
def import_result(batch_id: int, *, actor: Actor, content: bytes | None = None) -> DirectDebitBatch:
    """Read the bank's result for a sent batch (accounting, admin): fetched from the bank, or `content` a person
    uploaded. 振替済 lines become payments allocated to their invoices; other codes open dunning. The same
    result read twice changes nothing; a result that does not match the batch is refused."""
    require(actor, "payment.manage")
    with read_session() as session:
        batch = session.get(DirectDebitBatch, batch_id)
        if batch is None:
            raise NotFound("口座振替データが見つかりません。")
        ref = batch.bank_ref
    if content is None:
        if not ref:
            raise Conflict("この口座振替データはまだ銀行に受け付けられていません。")
        try:
            content = bank.default_client().debit_result(ref)
        except bank.BankUnreachable as exc:
            raise Conflict(f"銀行から振替結果を取得できませんでした（{exc}）。時間をおいてやり直してください。") from None
    digest = hashlib.sha256(content).hexdigest()
    try:
        result = read_result(content)
    except ValueError as exc:
        raise ValidationFailed({"file": f"振替結果ファイルを読めません: {exc}"}) from None
    with write_session() as session:
        batch = _locked_batch(session, batch_id)
        if batch.result_sha256 == digest or batch.status == B.RESULT_IMPORTED:
            return batch
        if batch.status != B.SUBMITTED:
            raise Conflict("銀行へ送信済の口座振替データだけ結果を取り込めます。")
        batch_items = session.exec(select(DirectDebitItem).where(DirectDebitItem.batch_id == batch.id)
                                   .order_by(DirectDebitItem.id)).all()
        numbers = {m.id: m.customer_number for m in session.exec(select(DirectDebitMandate).where(
            col(DirectDebitMandate.id).in_({i.mandate_id for i in batch_items})))}
        # a customer with several unpaid invoices has several lines under one 顧客番号: each line takes the
        # first unanswered item of that number and amount, in the file's order
        waiting: dict[str, list[DirectDebitItem]] = {}
        for i in batch_items:
            waiting.setdefault(numbers[i.mandate_id], []).append(i)
        if result.total_count != batch.item_count or result.total_amount != batch.total_amount:
            raise ValidationFailed({"file": f"この結果は口座振替データ #{batch.id} のものではありません"
                                            f"（件数・金額が一致しません: {result.total_count}件 {yen(result.total_amount)}）。"})
        collected, failed = [], []
        for line in result.items:
            same_number = waiting.get(line.customer_number.zfill(20), [])
            item = next((i for i in same_number if i.amount == line.amount), None)
            if item is None:
                raise ValidationFailed({"file": f"顧客番号 {line.customer_number} の行がこのデータにありません。"})
            same_number.remove(item)
            item.result_code = line.result_code
            session.add(item)
            invoice = session.get(Invoice, item.invoice_id)
            if line.result_code == TRANSFERRED:
                payment = Payment(customer_id=invoice.customer_id, amount=item.amount, method="direct_debit",
                                  payer_name=session.get(DirectDebitMandate, item.mandate_id).holder_kana,
                                  reference=invoice.invoice_no, external_ref=f"debit-{batch.id}-{item.id}",
                                  status=PaymentStatus.RECEIVED.value)
                session.add(payment)
                session.flush()
                item.payment_id = payment.id
                allocate(session, payment, invoice, item.amount, actor=actor, audited=False)
                collected.append({"invoice_no": invoice.invoice_no, "payment_id": payment.id, "amount": item.amount})
            else:
                case = dunning.open_case(session, invoice, "debit_failed", audited=False)
                failed.append({"invoice_no": invoice.invoice_no, "code": line.result_code,
                               "result": label("debit_result", RESULT_KEYS[line.result_code]),
                               "dunning_case_id": case.id if case else None})
        before = snapshot(batch)
        batch.status = DEBIT_BATCH.next_state(batch.status, BE.IMPORT_RESULT).value
        batch.result_sha256, batch.result_imported_at = digest, utcnow()
        batch.collected_count, batch.collected_amount = result.transferred_count, result.transferred_amount
        batch.failed_count, batch.failed_amount = result.failed_count, result.failed_amount
        session.add(batch)
        record(session, actor, "debit_batch.import_result", batch, before=before,
               after={**snapshot(batch), "collected": collected, "failed": failed},
               reason=f"振替済 {result.transferred_count}件 {yen(result.transferred_amount)}・"
                      f"振替不能 {result.failed_count}件 {yen(result.failed_amount)}")
    return batch


def batches(*, actor: Actor, limit: int = 50) -> list[dict[str, Any]]:
    """The 口座振替 screen: files newest first, with counts, amounts and results; a file on its way to the bank
    says so (`sending`: the page refreshes itself meanwhile) and is not offered for sending again."""
    require(actor, "payment.view")
    with read_session() as session:
        rows = session.exec(select(DirectDebitBatch).order_by(col(DirectDebitBatch.id).desc()).limit(limit)).all()
        sending = _sending(session) if any(b.status == B.CREATED for b in rows) else {}
        return [{
            "id": b.id, "withdrawal_date": b.withdrawal_date.isoformat(), "status": b.status,
            "status_label": _status_label(b, sending.get(b.id)),
            "sending": sending.get(b.id) in ("pending", "in_flight"), "item_count": b.item_count,
            "total_amount": yen(b.total_amount), "sha256": b.request_sha256[:16], "bank_ref": b.bank_ref or "",
            "collected": f"{b.collected_count}件 {yen(b.collected_amount)}" if b.result_imported_at else "",
            "failed": f"{b.failed_count}件 {yen(b.failed_amount)}" if b.result_imported_at else "",
            "created_at": tokyo_time(b.created_at), "submitted_at": tokyo_time(b.submitted_at),
            "can_submit": b.status == B.CREATED and b.id not in sending, "can_import": b.status == B.SUBMITTED,
        } for b in rows]


def _status_label(batch: DirectDebitBatch, sending: str | None) -> str:
    if sending is None:
        return state_label("debit_batch", batch.status)
    return label("debit_sending", "unknown" if sending == "unknown" else "under_way")


def batch_items(batch_id: int, *, actor: Actor) -> list[dict[str, Any]]:
    """One file's lines: invoice, customer, amount and the bank's result in words."""
    require(actor, "payment.view")
    with read_session() as session:
        rows = session.exec(select(DirectDebitItem, Invoice, Customer).join(Invoice, Invoice.id == DirectDebitItem.invoice_id)
                            .join(Customer, Customer.id == Invoice.customer_id)
                            .where(DirectDebitItem.batch_id == batch_id).order_by(DirectDebitItem.id)).all()
        return [{"invoice_id": inv.id, "invoice_no": inv.invoice_no, "customer_id": cust.id, "customer_name": cust.name,
                 "amount": yen(item.amount),
                 "result": "" if item.result_code is None else label("debit_result", RESULT_KEYS[item.result_code]),
                 "failed": item.result_code not in (None, TRANSFERRED)} for item, inv, cust in rows]


def request_file(batch_id: int, *, actor: Actor) -> tuple[str, bytes]:
    """The stored request file of a batch, as a download (file name and bytes)."""
    require(actor, "payment.manage")
    with read_session() as session:
        batch = session.get(DirectDebitBatch, batch_id)
        if batch is None:
            raise NotFound("口座振替データが見つかりません。")
        return f"kouza-furikae-{batch.withdrawal_date:%Y%m%d}-{batch.id}.txt", batch.request_file


def customer_mandates(customer_id: int, *, actor: Actor) -> list[dict[str, Any]]:
    """A customer's 口座振替 mandates (account number masked to its last 4 digits)."""
    with read_session() as session:
        get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "payment.view")
        rows = session.exec(select(DirectDebitMandate).where(DirectDebitMandate.customer_id == customer_id)
                            .order_by(col(DirectDebitMandate.id).desc())).all()
        return [{"id": m.id, "bank": f"{m.bank_code}-{m.branch_code}",
                 "account": f"{ACCOUNT_TYPE_LABELS.get(m.account_type, '')} ***{m.account_number_last4}",
                 "holder": m.holder_kana, "status": "有効" if m.status == "active" else "解除",
                 "created_at": tokyo_time(m.created_at)} for m in rows]


BANK_PROVIDER = Provider(PROVIDER, client=bank.default_client, apply_outcome=apply_outcome)
