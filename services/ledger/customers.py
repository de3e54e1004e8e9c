"""Customers: registration, contact details, KYC status, and the name index for search.

The identity-document number and the bank account are encrypted at rest (services.platform.crypto);
audit snapshots never hold them, only the marker "(変更あり)" when they change, and the value
before the change is kept encrypted beside the audit entry for an auditor (services.platform.audit).
Confirming an identity check writes its 本人確認記録 (services.ledger.kyc_records); while a customer is
verified, the identity document checked cannot be changed or cleared — a new check comes first.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, select

from services.ledger import kyc_notices, kyc_records
from services.models import Customer, CustomerNameGram
from services.models.base import utcnow
from services.models.customer import CUSTOMER_KINDS, KYC_STATUSES
from services.platform import crypto
from services.platform.audit import mutating_service, record, seal_before_values, snapshot
from services.platform.db import write_session
from services.platform.errors import Conflict, DomainError, NotFound, ValidationFailed
from services.platform.identifiers import customer_code
from services.platform.labels import label
from services.platform.permissions import Actor, get_permitted, require
from services.platform.text import bigrams
from services.workflow import approvals
from services.workflow.approval_gate import require_approval
from services.workflow.approvals import Policy, Preview

KYC_CONFIRMED_STATUSES = ("verified", "rejected")
_KANA = re.compile(r"^[\u30A0-\u30FF\u3040-\u309F\uFF65-\uFF9F\s　ー・]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_POSTAL = re.compile(r"^\d{3}-?\d{4}$")
_DOCUMENT_NUMBER = re.compile(r"^[A-Z0-9]{4,20}$")

# The identity documents the ledger accepts (their names: the labels' "id_document" group);
# corporate_registry is a corporation's 登記事項証明書 (with its 会社法人等番号).
ID_DOCUMENT_TYPES = ("drivers_license", "passport", "residence_card", "health_insurance", "my_number_card",
                     "corporate_registry")
ACCOUNT_TYPES = ("普通", "当座", "貯蓄")
BANK_ACCOUNT_KEYS = ("bank_name", "branch_name", "account_type", "account_number", "holder")
SENSITIVE_CHANGED = "(変更あり)"  # stands for an encrypted field's value in audit snapshots
_ENCRYPTED = {"id_document_number_enc": "id_document_number", "bank_account_enc": "bank_account"}
_BANK_FORMAT_MESSAGE = "金融機関名・支店名・種別・口座番号・名義の順に入力してください。"
VERIFIED_DOCUMENT_FROZEN = ("本人確認済の本人確認書類は変更・削除できません。書類が変わった場合は、先に「本人確認をやり直す」を"
                            "行ってください（確認済の記録はそのまま保存され、新しい確認で新しい記録が作られます）。")


class _Keep:
    """Default of optional update arguments: leave the stored value as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


def index_customer_name(session: Session, customer: Customer) -> None:
    """Rebuild the bigram index rows of one customer's name and kana."""
    session.exec(delete(CustomerNameGram).where(CustomerNameGram.customer_id == customer.id))
    for gram in bigrams(customer.name) | bigrams(customer.name_kana):
        session.add(CustomerNameGram(gram=gram, customer_id=customer.id))


def parse_bank_account(value: Mapping[str, Any] | str | None) -> dict[str, str] | None:
    """Normalise a bank account given as a dict, its JSON, or text "みずほ銀行 渋谷支店 普通 1234567 名義".

    Returns {bank_name, branch_name, account_type, account_number (7 digits), holder}, None for
    an empty value, or raises ValidationFailed({"bank_account": ...}).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                raise ValidationFailed({"bank_account": _BANK_FORMAT_MESSAGE}) from None
        else:
            tokens = text.split()
            if len(tokens) < 4:
                raise ValidationFailed({"bank_account": _BANK_FORMAT_MESSAGE})
            data = dict(zip(BANK_ACCOUNT_KEYS[:4], tokens[:4], strict=True), holder=" ".join(tokens[4:]))
    else:
        data = dict(value)
    parts = {k: unicodedata.normalize("NFKC", str(data.get(k) or "")).strip() for k in BANK_ACCOUNT_KEYS}
    parts["account_type"] = parts["account_type"].removesuffix("預金")
    number = re.sub(r"[\s\-]", "", parts["account_number"])
    if not parts["bank_name"] or not parts["branch_name"] or parts["account_type"] not in ACCOUNT_TYPES:
        raise ValidationFailed({"bank_account": _BANK_FORMAT_MESSAGE})
    if not re.fullmatch(r"\d{1,7}", number):
        raise ValidationFailed({"bank_account": "口座番号は7桁の数字で入力してください。"})
    parts["account_number"] = number.zfill(7)
    return parts


def bank_account_text(parts: Mapping[str, str]) -> str:
    """One line for people: みずほ銀行 渋谷支店 普通 1234567 ヤマダ タロウ."""
    return " ".join(parts[k] for k in BANK_ACCOUNT_KEYS if parts.get(k))


def bank_account_display(token: str | None) -> str | None:
    """Decrypt a stored bank account (bank_account_enc) into its one-line text (None stays None)."""
    plain = crypto.decrypt(token)
    return None if plain is None else bank_account_text(json.loads(plain))


def _decrypt(token: str | None) -> str | None:
    """Decrypt for a comparison inside a service; a wrong key becomes a message, not a crash."""
    try:
        return crypto.decrypt(token)
    except crypto.EncryptionKeyMismatch as exc:
        raise DomainError(str(exc)) from exc


def _normalize_document_number(number: str | None) -> str | None:
    text = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", number or "")).upper()
    return text or None


def _validate_sensitive(errors: dict[str, str], document_type: str | None, document_number: str | None) -> None:
    if document_type and document_type not in ID_DOCUMENT_TYPES:
        errors["id_document_type"] = "本人確認書類の種類を選んでください。"
    if document_number:
        if not document_type:
            errors["id_document_type"] = "本人確認書類の種類を選んでください。"
        elif document_type == "my_number_card":  # 番号法: the individual number must not be recorded
            errors["id_document_number"] = "個人番号（マイナンバー）は記録できません。書類の種類のみ登録してください。"
        elif not _DOCUMENT_NUMBER.match(document_number):
            errors["id_document_number"] = "書類番号は英数字4〜20文字で入力してください。"


def customer_snapshot(customer: Customer, changed: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """An audit snapshot of a customer without ciphertext; `changed` encrypted fields read "(変更あり)"."""
    data = snapshot(customer, exclude=set(_ENCRYPTED)) or {}
    data.update({name: SENSITIVE_CHANGED for name in sorted(changed)})
    return data


def _validate(kind: str, name: str, name_kana: str, email: str | None, postal_code: str | None,
              errors: dict[str, str] | None = None) -> None:
    errors = errors if errors is not None else {}
    if kind not in CUSTOMER_KINDS:
        errors["kind"] = "個人か法人を選んでください。"
    if not name.strip():
        errors["name"] = "氏名・法人名を入力してください。"
    elif len(name) > 200:
        errors["name"] = "氏名・法人名は200文字以内で入力してください。"
    if not name_kana.strip():
        errors["name_kana"] = "フリガナを入力してください。"
    elif not _KANA.match(name_kana):
        errors["name_kana"] = "フリガナはカタカナで入力してください。"
    if email and not _EMAIL.match(email):
        errors["email"] = "メールアドレスの形式が正しくありません。"
    if postal_code and not _POSTAL.match(postal_code):
        errors["postal_code"] = "郵便番号は 123-4567 の形式で入力してください。"
    if errors:
        raise ValidationFailed(errors)


@mutating_service
def create_customer(
    *,
    actor: Actor,
    kind: str,
    name: str,
    name_kana: str,
    email: str | None = None,
    phone: str | None = None,
    postal_code: str | None = None,
    address: str | None = None,
    birth_date: date | None = None,
    id_document_type: str | None = None,
    id_document_number: str | None = None,
    bank_account: Mapping[str, Any] | str | None = None,
    reason: str | None = None,
) -> Customer:
    """Register a customer (sales, admin). Writes the customer, its name index and one audit entry.

    The identity-document number and the bank account (dict, JSON or one line of text) are
    stored encrypted; the audit entry only says they were set.
    """
    require(actor, "customer.create")
    errors: dict[str, str] = {}
    document_number = _normalize_document_number(id_document_number)
    _validate_sensitive(errors, id_document_type or None, document_number)
    try:
        bank = parse_bank_account(bank_account)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    _validate(kind, name, name_kana, email, postal_code, errors)
    with write_session() as session:
        customer = Customer(
            kind=kind, name=name.strip(), name_kana=name_kana.strip(), email=email or None,
            phone=phone or None, postal_code=postal_code or None, address=address or None,
            birth_date=birth_date, id_document_type=id_document_type or None,
            id_document_number_enc=crypto.encrypt(document_number),
            bank_account_enc=crypto.encrypt(json.dumps(bank, ensure_ascii=False, sort_keys=True)) if bank else None,
        )
        session.add(customer)
        session.flush()
        index_customer_name(session, customer)
        changed = {f for c, f in _ENCRYPTED.items() if getattr(customer, c) is not None}
        record(session, actor, "customer.create", customer, after=customer_snapshot(customer, changed), reason=reason)
    return customer


@mutating_service
def update_customer_contact(
    customer_id: int,
    *,
    actor: Actor,
    name: str,
    name_kana: str,
    email: str | None,
    phone: str | None,
    postal_code: str | None,
    address: str | None,
    reason: str,
    id_document_type: str | None = KEEP,
    id_document_number: str | None = KEEP,
    bank_account: Mapping[str, Any] | str | None = KEEP,
) -> Customer:
    """Change a customer's name and contact details (sales, support, admin); audited with before/after.

    The identity document and bank account change only when passed (None or "" clears them);
    they are stored encrypted, the audit entry says "(変更あり)" and keeps the old value sealed
    (encrypted, for an auditor). A verified customer's identity document cannot be changed or
    cleared (ValidationFailed): reopen the identity check first.
    """
    with write_session() as session:
        customer = get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "customer.update")
        errors: dict[str, str] = {}
        document_type = customer.id_document_type if id_document_type is KEEP else (id_document_type or None)
        keep_number = id_document_number is KEEP
        document_number = None if keep_number else _normalize_document_number(id_document_number)
        _validate_sensitive(errors, document_type, document_number)
        if keep_number and customer.id_document_number_enc and not document_type:
            errors["id_document_type"] = "本人確認書類の種類を選んでください。"
        bank = None
        if bank_account is not KEEP:
            try:
                bank = parse_bank_account(bank_account)
            except ValidationFailed as exc:
                errors.update(exc.fields)
        _validate(customer.kind, name, name_kana, email, postal_code, errors)
        before = customer_snapshot(customer)
        sealed: dict[str, str | None] = {}
        old_number = _decrypt(customer.id_document_number_enc)
        if customer.kyc_status == "verified" and (
                document_type != customer.id_document_type or (not keep_number and document_number != old_number)):
            raise ValidationFailed({"id_document_number": VERIFIED_DOCUMENT_FROZEN})
        if not keep_number and document_number != old_number:
            customer.id_document_number_enc = crypto.encrypt(document_number)
            sealed["id_document_number"] = old_number
        if bank_account is not KEEP:
            old = _decrypt(customer.bank_account_enc)
            if (json.loads(old) if old else None) != bank:
                customer.bank_account_enc = (crypto.encrypt(json.dumps(bank, ensure_ascii=False, sort_keys=True))
                                             if bank else None)
                sealed["bank_account"] = bank_account_text(json.loads(old)) if old else None
        changed = set(sealed)
        customer.id_document_type = document_type
        customer.name, customer.name_kana = name.strip(), name_kana.strip()
        customer.email, customer.phone = email or None, phone or None
        customer.postal_code, customer.address = postal_code or None, address or None
        customer.updated_at = utcnow()
        session.add(customer)
        index_customer_name(session, customer)
        entry = record(session, actor, "customer.update", customer, before=before,
                       after=customer_snapshot(customer, changed), reason=reason)
        seal_before_values(session, entry, sealed)
    return customer


@mutating_service
def set_kyc_status(customer_id: int, *, actor: Actor, status: str, reason: str, method: str | None = None,
                   tracking_number: str | None = None) -> Customer:
    """Record the identity-verification (本人確認) result (support, admin).

    Confirming a result (verified / rejected) runs only as an approved request. "verified" needs how
    the identity was checked (`method`: ekyc / in_person / mail with `tracking_number`) and writes the
    本人確認記録 (services.ledger.kyc_records) in the same transaction as the status and the audit entry.
    A confirmed result is told to the customer (services.ledger.kyc_notices, named in the audit entry).
    """
    if status not in KYC_STATUSES:
        raise ValidationFailed({"kyc_status": "本人確認の状態が正しくありません。"})
    if status in KYC_CONFIRMED_STATUSES:
        require_approval("customer.kyc")
    with write_session() as session:
        customer = get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "customer.kyc")
        if customer.kyc_status == status:
            return customer
        before = customer_snapshot(customer)
        customer.kyc_status = status
        customer.updated_at = utcnow()
        session.add(customer)
        after = customer_snapshot(customer)
        if status == "verified":
            kept = kyc_records.write_record(session, customer, actor=actor, method=method,
                                            tracking_number=tracking_number)
            after["kyc_record_id"] = kept.id
        told = kyc_notices.tell_result(session, customer, status, actor=actor)  # the customer hears the result
        if told:
            after["notification_ids"] = told
        record(session, actor, "customer.kyc", customer, before=before, after=after, reason=reason)
    return customer


@mutating_service
def reopen_kyc(customer_id: int, *, actor: Actor, reason: str) -> Customer:
    """Start a verified customer's identity check over (support, admin), e.g. for a new document.

    The status goes back to 未提出 so the document can be changed and a new check requested; the
    本人確認記録 of the earlier check stays as it is. Writes one audit entry "customer.kyc_reopen".
    """
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    with write_session() as session:
        customer = get_permitted(session, Customer, customer_id, "顧客が見つかりません。", actor, "customer.kyc")
        if customer.kyc_status != "verified":
            raise ValidationFailed({"kyc_status": "やり直せるのは本人確認済の顧客だけです。"})
        before = customer_snapshot(customer)
        customer.kyc_status = "not_started"
        customer.updated_at = utcnow()
        session.add(customer)
        record(session, actor, "customer.kyc_reopen", customer, before=before, after=customer_snapshot(customer),
               reason=reason.strip())
    return customer


def get_customer(session: Session, customer_id: int) -> Customer:
    """Load a customer or raise NotFound."""
    customer = session.exec(select(Customer).where(Customer.id == customer_id)).first()
    if customer is None:
        raise NotFound("顧客が見つかりません。")
    return customer


def _describe_kyc(session: Session, params: dict) -> Preview:
    customer = approvals.get_record(session, Customer, params.get("customer_id"), "顧客")
    status = params.get("status")
    if status not in KYC_CONFIRMED_STATUSES:
        raise ValidationFailed({"status": "本人確認の結果は「確認済」か「否認」を選んでください。"})
    if customer.kyc_status == status:
        raise Conflict("本人確認は既にその状態です。")
    changes = [("本人確認", label("kyc_status", customer.kyc_status), label("kyc_status", status))]
    summary = (f"顧客 {customer_code(customer.id)} {customer.name} の本人確認を「{label('kyc_status', status)}」"
               "として確定します。")
    if status == "verified":
        summary += "本人確認記録（確認者・承認者・日時・方法・書類）を作成し、契約終了から3年間保存します。"
        if params.get("method"):  # the request names it (_check_kyc_request); the dialog's preview not yet
            method, tracking = kyc_records.check_method(params.get("method"), params.get("tracking_number"))
            method_label = label("kyc_method", method)
            changes.append(("確認方法", "", f"{method_label}（追跡番号 {tracking}）" if tracking else method_label))
    return Preview(summary=summary, changes=changes, target_key=f"customer:{customer.id}", customer_id=customer.id)


def _check_kyc_request(params: dict) -> None:
    if params.get("status") == "verified":
        kyc_records.check_method(params.get("method"), params.get("tracking_number"))


def _execute_kyc(params: dict, actor: Actor, reason: str) -> None:
    set_kyc_status(int(params["customer_id"]), actor=actor, status=params["status"], reason=reason,
                             method=params.get("method"), tracking_number=params.get("tracking_number"))




POLICIES = (
    Policy("customer.kyc", "本人確認結果の確定", "customer.kyc", approvals.SUPPORT_CHECKERS,
           _describe_kyc, _execute_kyc, required_params=("customer_id", "status"), check_request=_check_kyc_request),
)


def kyc_params(customer_id: int, status: str, method: str | None = None, tracking_number: str | None = None) -> dict:
    """The parameters of confirming a KYC result (how it was checked, for 確認済)."""
    params = {"customer_id": customer_id, "status": status}
    if method is not None:
        params |= {"method": method, "tracking_number": (tracking_number or "").strip()}
    return params


def preview_kyc_confirmation(customer_id: int, *, status: str, actor: Actor) -> dict:
    """What confirming a KYC result would do (it always waits for a second person)."""
    return approvals.preview_operation("customer.kyc", kyc_params(customer_id, status), actor=actor)


def request_kyc_confirmation(customer_id: int, *, actor: Actor, status: str, reason: str, method: str | None = None,
                             tracking_number: str | None = None, confirm_repeat: bool = False) -> approvals.Submitted:
    """The one call for confirming an identity check's result, whoever asks: an approval request."""
    params = kyc_params(customer_id, status, method, tracking_number)
    return approvals.submit("customer.kyc", params, actor=actor, reason=reason, confirm_repeat=confirm_repeat,
                            run_now=lambda: _execute_kyc(params, actor, reason))
