"""PII masking by role (個人情報のマスキング).

One field-level policy says which staff roles see a personal field in full; everyone else sees
a mask (090-****-5678). A permitted person may reveal (表示) one masked value with a reason; the
reveal is audited, never the value. The same rules mask audit snapshots (before/after JSON)
and log records, so that no screen, export or log line shows more than its reader may see.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlmodel import SQLModel

from services.ledger.customers import SENSITIVE_CHANGED, bank_account_display, parse_bank_account
from services.models import Customer, CustomerUser, Line
from services.platform import crypto
from services.platform.audit import mutating_service, record
from services.platform.db import write_session
from services.platform.errors import DomainError, NotFound, PermissionDenied, ValidationFailed
from services.platform.identifiers import format_msisdn
from services.platform.permissions import Actor, Role, can, require

_S, _P, _A, _M = Role.SALES, Role.SUPPORT, Role.ACCOUNTING, Role.ADMIN

# The one field-level policy: who sees each personal field in full. Everyone else sees a mask.
FIELD_POLICY: dict[str, frozenset[Role]] = {
    "msisdn": frozenset({_S, _P, _M}),                 # a line's phone number (電話番号)
    "phone": frozenset({_S, _P, _M}),                  # the customer's contact phone (連絡先)
    "email": frozenset({_S, _P, _A, _M}),
    "address": frozenset({_S, _M}),                    # others: the prefecture only (東京都 ****)
    "postal_code": frozenset({_S, _M}),                # shown and revealed with the address
    "birth_date": frozenset({_S, _M}),
    "id_document_number": frozenset({_M}),             # 本人確認書類の番号 (encrypted at rest)
    "bank_account": frozenset({_A, _M}),               # 口座振替の口座 (encrypted at rest)
    "card": frozenset({_A, _M}),
}

# Who may reveal a field (with a reason, audited). Always includes the roles that see it in full.
REVEAL_POLICY: dict[str, frozenset[Role]] = {
    "msisdn": FIELD_POLICY["msisdn"] | {_A},           # accounting: a customer calls about a bill
    "phone": FIELD_POLICY["phone"] | {_A},             # accounting: calling about an unpaid bill
    "email": FIELD_POLICY["email"],
    "address": FIELD_POLICY["address"] | {_P, _A},     # support: identity check; accounting: dunning letters
    "birth_date": FIELD_POLICY["birth_date"] | {_P},   # support: identity check on the phone
    "id_document_number": frozenset({_M}),
    "bank_account": frozenset({_A, _M}),
    "card": frozenset({_A, _M}),
}

MASK = "****"
CHANGED = SENSITIVE_CHANGED  # "(変更あり)": what audit snapshots hold instead of an encrypted value

# Keys of audit snapshots that hold personal data, and the policy field that governs each.
SNAPSHOT_FIELDS: dict[str, str] = {
    "msisdn": "msisdn", "phone": "phone", "contact_phone": "phone", "email": "email",
    "address": "address", "postal_code": "postal_code", "birth_date": "birth_date",
    "id_document_number": "id_document_number", "bank_account": "bank_account",
    "card_number": "card",
}
# Keys that never appear in a snapshot shown to anyone (besides every *_enc column).
SECRET_KEYS = frozenset({"password_hash", "totp_secret", "pending_totp_secret", "token_hash", "secret"})

PREFECTURES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)
_BANK_SUFFIXES = ("信用金庫", "信用組合", "労働金庫", "農業協同組合", "銀行")
_BRANCH_SUFFIXES = ("支店", "出張所", "営業部", "本店")


# --------------------------------------------------------------------------- policy


def can_see(field: str, actor: Actor | None) -> bool:
    """True if `actor` sees `field` in full (unknown fields and role-less actors: False)."""
    return actor is not None and actor.role is not None and actor.role in FIELD_POLICY.get(field, frozenset())


def can_reveal(field: str, actor: Actor | None) -> bool:
    """True if `actor` may reveal a masked `field` with a reason (permission pii.reveal + REVEAL_POLICY)."""
    return (can(actor, "pii.reveal") and actor is not None
            and actor.role in REVEAL_POLICY.get(field, frozenset()))


# --------------------------------------------------------------------------- masks


def _mask_phone(value: str) -> str:
    """090-1234-5678 -> 090-****-5678: keep the first group and the last 4 digits."""
    text = unicodedata.normalize("NFKC", value).strip()
    groups = re.findall(r"\d+", text)
    n = sum(len(g) for g in groups)
    if n == 0:
        return MASK
    head = min(len(groups[0]) if len(groups) > 1 else 3, max(0, n - 8))
    tail = 4 if n >= 8 else max(0, n - 4)
    out, k = [], 0
    for ch in text:
        if ch.isdigit():
            out.append(ch if k < head or k >= n - tail else "*")
            k += 1
        else:
            out.append(ch)
    return "".join(out)


def _mask_msisdn(value: str) -> str:
    return _mask_phone(format_msisdn(value) if value.startswith("+") else value)


def _mask_email(value: str) -> str:
    """taro@example.jp -> ta****@example.jp."""
    local, at, domain = value.strip().partition("@")
    if not at:
        return MASK
    return f"{local[:2] if len(local) > 2 else local[:1]}{MASK}@{domain}"


def _mask_address(value: str) -> str:
    """東京都千代田区… -> 東京都 **** (the prefecture only)."""
    text = unicodedata.normalize("NFKC", value).strip()
    prefecture = next((p for p in PREFECTURES if text.startswith(p)), None)
    return f"{prefecture} {MASK}" if prefecture else MASK


def _mask_document(value: str) -> str:
    """All but the last 4 characters as *."""
    text = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", value))
    return "*" * len(text) if len(text) <= 4 else "*" * (len(text) - 4) + text[-4:]


def _mask_bank(value: str) -> str:
    """みずほ銀行 渋谷支店 普通 1234567 ヤマダ タロウ -> ***銀行 ****支店 普通 ****567."""
    try:
        parts = parse_bank_account(value)
    except ValidationFailed:
        return MASK
    if parts is None:
        return MASK
    bank = "***" + next((s for s in _BANK_SUFFIXES if parts["bank_name"].endswith(s)), "")
    branch = MASK + next((s for s in _BRANCH_SUFFIXES if parts["branch_name"].endswith(s)), "")
    return f"{bank} {branch} {parts['account_type']} {MASK}{parts['account_number'][-3:]}"


def _mask_card(value: str) -> str:
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    return f"**** **** **** {digits[-4:]}" if len(digits) >= 8 else MASK


_MASKS: dict[str, Callable[[str], str]] = {
    "msisdn": _mask_msisdn, "phone": _mask_phone, "email": _mask_email, "address": _mask_address,
    "postal_code": lambda _v: "***-****", "birth_date": lambda _v: "****-**-**",
    "id_document_number": _mask_document, "bank_account": _mask_bank, "card": _mask_card,
}


def mask(field: str, value: Any, actor: Actor | None) -> str:
    """`value` in full if `actor` may see `field`, else its mask; "" for None or empty.

    Raises ValueError for a field the policy does not know (a programming error).
    """
    if field not in FIELD_POLICY:
        raise ValueError(f"no masking policy for field {field!r}")
    if value is None or value == "":
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text if can_see(field, actor) else _MASKS[field](text)


def mask_snapshot(entity_type: str, data: Mapping[str, Any] | None, actor: Actor | None) -> dict | None:
    """An audit before/after snapshot as `actor` may see it.

    Personal keys (SNAPSHOT_FIELDS: phone, email, address, birth_date, msisdn, …) are masked per
    role, every `*_enc` column and secret (SECRET_KEYS) is dropped, and the CHANGED marker that
    stands for an encrypted field is kept. `entity_type` names the audited table (customer, line…).
    """
    if data is None:
        return None
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key.endswith("_enc") or key in SECRET_KEYS:
            continue
        field = SNAPSHOT_FIELDS.get(key)
        if field is None or value is None or value == CHANGED:
            out[key] = value
        else:
            out[key] = mask(field, value, actor)
    return out


# --------------------------------------------------------------------------- reveal


def _customer_address(c: Customer) -> str | None:
    text = " ".join(p for p in (f"〒{c.postal_code}" if c.postal_code else "", c.address or "") if p)
    return text or None


# (entity type, field) -> (model, view permission, how to read the full value)
_REVEAL_SOURCES: dict[tuple[str, str], tuple[type[SQLModel], str, Callable[[Any], str | None]]] = {
    ("customer", "phone"): (Customer, "customer.view", lambda c: c.phone),
    ("customer", "email"): (Customer, "customer.view", lambda c: c.email),
    ("customer", "address"): (Customer, "customer.view", _customer_address),
    ("customer", "birth_date"): (Customer, "customer.view",
                                 lambda c: c.birth_date.isoformat() if c.birth_date else None),
    ("customer", "id_document_number"): (Customer, "customer.view",
                                         lambda c: crypto.decrypt(c.id_document_number_enc)),
    ("customer", "bank_account"): (Customer, "customer.view", lambda c: bank_account_display(c.bank_account_enc)),
    ("customer_user", "email"): (CustomerUser, "customer.view", lambda u: u.email),
    ("line", "msisdn"): (Line, "line.view", lambda ln: format_msisdn(ln.msisdn)),
}


def revealable(entity_type: str, fields: Iterable[str], actor: Actor | None) -> list[str]:
    """Of `fields` (those with a value), the ones masked for `actor` that `actor` may reveal."""
    return [f for f in fields
            if (entity_type, f) in _REVEAL_SOURCES and not can_see(f, actor) and can_reveal(f, actor)]


@mutating_service
def reveal_field(entity_type: str, entity_id: int, field: str, *, actor: Actor, reason: str) -> str:
    """Return the full value of one masked field, if `actor` may reveal it (REVEAL_POLICY).

    Needs permission pii.reveal, view access to the record and a reason. Writes one audit entry
    "pii.reveal" naming the field and carrying the reason; the value itself is never recorded.
    """
    require(actor, "pii.reveal")
    source = _REVEAL_SOURCES.get((entity_type, field))
    if source is None:
        raise ValidationFailed({"field": "この項目は表示できません。"})
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    if not can_reveal(field, actor):
        raise PermissionDenied("この項目を表示する権限がありません。")
    model, permission, read = source
    with write_session() as session:
        entity = session.get(model, entity_id)
        if entity is None:
            raise NotFound("対象のデータが見つかりません。")
        require(actor, permission, entity)
        try:
            value = read(entity) or ""
        except crypto.EncryptionKeyMismatch as exc:
            raise DomainError(str(exc)) from exc
        record(session, actor, "pii.reveal", entity, after={"field": field}, reason=reason.strip())
    return value


# --------------------------------------------------------------------------- logs

_SECRET_RE = re.compile(
    r"(?i)([\w-]*(?:password|passwd|secret|token|api[_-]?key|authorization|cookie|session|ticket)[\w-]*)"
    r"(\s*[=:]\s*)(?:bearer\s+)?([^\s,;&'\"]+)")
_BEARER_RE = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE_RE = re.compile(
    r"(?<![\d*])(?:\+81[-\s]?\d{1,4}[-\s]?\d{1,4}[-\s]?\d{4}"   # +81 90 1234 5678
    r"|0\d{1,4}[-\s(]\d{1,4}[-\s)]\d{4}"                       # 090-1234-5678, 03-1234-5678
    r"|0\d{9,10})(?![\d*])")                                   # 09012345678
_LONG_DIGITS_RE = re.compile(r"(?<!\d)\d{12,}(?!\d)")          # ICCID, IMSI, IMEI, card numbers


def mask_text(text: str) -> str:
    """Mask credentials, e-mail addresses, phone numbers and long digit runs in free text."""
    text = _SECRET_RE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _EMAIL_RE.sub(lambda m: _mask_email(m.group(0)), text)
    text = _PHONE_RE.sub(lambda m: _mask_msisdn(m.group(0)), text)
    return _LONG_DIGITS_RE.sub(lambda m: "*" * (len(m.group(0)) - 4) + m.group(0)[-4:], text)


class PiiLogFilter(logging.Filter):
    """Masks phone numbers, e-mails, long digit runs and credentials in a log record (never drops it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message (and exception text) masked; always keep the record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's own error path
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def install_log_filter() -> None:
    """Mask every log record of the process from now on (idempotent).

    A filter on the root logger would only see records logged on the root logger itself, so the
    filter runs in the log-record factory: every record, of every logger and handler, is masked
    when it is created. Call once in each entry point (web app, Celery worker, CLI).
    """
    if getattr(logging.getLogRecordFactory(), "pii_masking", False):
        return
    base, flt = logging.getLogRecordFactory(), PiiLogFilter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        rec = base(*args, **kwargs)
        flt.filter(rec)
        return rec

    factory.pii_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
