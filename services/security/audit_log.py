"""The audit log for auditors (監査ログ): chain verification, the filtered viewer and CSV export.

`verify_chain` re-computes the hash chain written by `services.platform.audit.record` and reports
"intact" or the first broken entry: an edited entry (its content no longer matches its
hash), a deleted entry (the next entry's link no longer matches), a deleted tail (the chain
head names a last entry that is gone) or an entry the chain head does not cover.
It reads one consistent snapshot in id-ordered batches, so it runs in constant memory.

Command line: `python -m services.security.audit_log verify` prints the report; exit status 0 when
intact, 1 when not.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from services.models import AuditChainHead, AuditEntry, AuditSealedValue
from services.platform import crypto
from services.platform.audit import CHAIN_HEAD_ID, DIGEST_FIELDS, entry_digest, mutating_service, record
from services.platform.clock import TOKYO
from services.platform.db import read_session, write_session
from services.platform.errors import NotFound, ValidationFailed
from services.platform.formatting import action_label, changed_fields, tokyo_time
from services.platform.labels import label
from services.platform.paging import Page
from services.platform.permissions import Actor, can, require
from services.security.masking import mask_snapshot

BATCH_SIZE = 2000
EXPORT_LIMIT = 20_000
MAX_PAGE_SIZE = 200

_PROBLEMS_JA = {
    "content": "内容が記録時のハッシュと一致しません",
    "link": "前のエントリとの連結が一致しません",
    "head": "チェーンの先頭に記録された最後のハッシュと一致しません",
    "unrecorded": "チェーンの先頭に記録された最後のエントリより後に追加されています",
}
CSV_HEADERS = ("番号", "日時（日本時間）", "操作者の種別", "担当者", "操作", "操作コード", "対象種別", "対象ID",
               "顧客ID", "契約ID", "回線ID", "理由", "変更内容", "変更前", "変更後", "リクエストID",
               "ハッシュ")


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class ChainReport:
    """The verifier's finding: intact, or the first broken entry and what is wrong with it.

    `problem` is "" when intact, else "content" (edited), "link" (an entry before it was
    deleted or edited), "truncated" (the tail was deleted), "head" or "unrecorded" (the
    chain head does not match the last entries).
    """

    intact: bool
    checked: int
    first_broken_id: int | None
    message_ja: str
    problem: str = ""


def _broken(entry_id: int, problem: str, checked: int) -> ChainReport:
    return ChainReport(False, checked, entry_id,
                       f"監査ログ #{entry_id} で改ざんを検出しました（{_PROBLEMS_JA[problem]}）", problem)


def _chain_rows(session, batch_size: int) -> Iterator[Mapping[str, Any]]:
    """Every entry's hashed columns in id order, fetched `batch_size` rows at a time (keyset)."""
    columns = [getattr(AuditEntry, name) for name in (*DIGEST_FIELDS, "prev_hash", "entry_hash")]
    after = 0
    while True:
        batch = session.execute(select(*columns).where(AuditEntry.id > after)
                                .order_by(AuditEntry.id).limit(batch_size)).mappings().all()
        yield from batch
        if len(batch) < batch_size:
            return
        after = batch[-1]["id"]


def verify_chain(*, actor: Actor | None = None, batch_size: int = BATCH_SIZE) -> ChainReport:
    """Re-compute the audit hash chain and report "intact" or the first broken entry.

    Who: admins ("audit.verify"); `actor=None` is the operator's command line on the server.
    Reads one consistent snapshot (REPEATABLE READ on PostgreSQL, one read transaction on
    SQLite) in batches of `batch_size`, so appends during the run are not mistaken for
    tampering and memory stays flat. Writes nothing.
    """
    if actor is not None:
        require(actor, "audit.verify")
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    with read_session() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        head = session.execute(select(AuditChainHead.last_entry_id, AuditChainHead.last_hash)
                               .where(AuditChainHead.id == CHAIN_HEAD_ID)).first()
        head_id, head_hash = (head[0], head[1]) if head is not None else (None, "")
        checked, prev_id, prev_hash = 0, None, ""
        for row in _chain_rows(session, batch_size):
            checked += 1
            entry_id = row["id"]
            if row["prev_hash"] != prev_hash:
                return _broken(entry_id, "link", checked)
            if entry_digest(row, row["prev_hash"]) != row["entry_hash"]:
                return _broken(entry_id, "content", checked)
            if head_id is None or entry_id > head_id:
                return _broken(entry_id, "unrecorded", checked)
            if entry_id == head_id and row["entry_hash"] != head_hash:
                return _broken(entry_id, "head", checked)
            prev_id, prev_hash = entry_id, row["entry_hash"]
    if head_id is not None and prev_id != head_id:
        tail = f"#{prev_id} より後" if prev_id is not None else "すべて"
        return ChainReport(False, checked, head_id,
                           f"監査ログの末尾で改ざんを検出しました（#{head_id} まで記録されているはずのエントリのうち、"
                           f"{tail}が見つかりません）", "truncated")
    return ChainReport(True, checked, None, f"改ざんは検出されませんでした（{checked:,}件を検証）")


# --------------------------------------------------------------------------- viewer and export


def _day_start_utc(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=TOKYO).astimezone(UTC)


def _conditions(*, actor_label: str | None, entity_type: str | None, entity_id: int | None,
                action: str | None, since: date | None, until: date | None,
                up_to_id: int | None) -> list[ColumnElement[bool]]:
    if since and until and since > until:
        raise ValidationFailed({"until": "終了日は開始日以降の日付を指定してください。"})
    conditions: list[ColumnElement[bool]] = []
    if actor_label and actor_label.strip():
        conditions.append(AuditEntry.actor_label.icontains(actor_label.strip(), autoescape=True))
    if entity_type:
        conditions.append(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        conditions.append(AuditEntry.entity_id == entity_id)
    if action:
        conditions.append(AuditEntry.action == action)
    if since:  # periods are Tokyo calendar days
        conditions.append(AuditEntry.at >= _day_start_utc(since))
    if until:
        conditions.append(AuditEntry.at < _day_start_utc(until + timedelta(days=1)))
    if up_to_id is not None:
        conditions.append(AuditEntry.id <= up_to_id)
    return conditions


def _snapshot(entity_type: str, data_json: str | None, actor: Actor) -> dict[str, Any] | None:
    """A stored before/after snapshot as `actor` may see it (services.security.masking)."""
    if not data_json:
        return None
    return mask_snapshot(entity_type, json.loads(data_json), actor)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _entry_row(e: AuditEntry, actor: Actor, sealed: list[str] = ()) -> dict[str, Any]:
    """One entry for a screen or a file, with before/after masked for `actor`'s role; `sealed` names the
    fields whose encrypted before-value is kept (revealable by an auditor)."""
    before = _snapshot(e.entity_type, e.before_json, actor)
    after = _snapshot(e.entity_type, e.after_json, actor)
    changes = []  # which fields changed is decided on the stored values; the values shown are masked
    for name, _, _ in changed_fields(e.before_json, e.after_json):
        if name not in (before or {}) and name not in (after or {}):
            continue  # a secret or encrypted column that masking drops
        if name == "id" and not e.before_json:
            continue
        old, new = _text((before or {}).get(name)), _text((after or {}).get(name))
        changes.append(f"{name}: {old or '—'} → {new or '—'}" if e.before_json else f"{name}: {new or '—'}")
    return {
        "id": e.id, "at": tokyo_time(e.at, with_seconds=True),
        "actor_kind": e.actor_kind, "actor_kind_label": label("actor_kind", e.actor_kind),
        "actor": e.actor_label, "action": e.action, "action_label": action_label(e.action),
        "entity_type": e.entity_type, "entity_label": label("entity_type", e.entity_type),
        "entity_id": e.entity_id or 0,
        "customer_id": e.customer_id or 0, "contract_id": e.contract_id or 0, "line_id": e.line_id or 0,
        "reason": e.reason or "", "request_id": e.request_id or "", "changes": " / ".join(changes),
        "before": json.dumps(before, ensure_ascii=False) if before is not None else "",
        "after": json.dumps(after, ensure_ascii=False) if after is not None else "",
        "entry_hash": e.entry_hash,
        "sealed": [{"field": name, "label": label("sealed_field", name)} for name in sealed],
        "can_reveal_sealed": bool(sealed) and can(actor, "audit.reveal_sealed"),
    }


def _sealed_fields(session, entry_ids: list[int]) -> dict[int, list[str]]:
    rows = session.execute(select(AuditSealedValue.audit_entry_id, AuditSealedValue.field)
                           .where(AuditSealedValue.audit_entry_id.in_(entry_ids))).all() if entry_ids else []
    out: dict[int, list[str]] = {}
    for entry_id, field in rows:
        out.setdefault(entry_id, []).append(field)
    return out


@mutating_service
def reveal_sealed_value(audit_entry_id: int, field: str, *, actor: Actor, reason: str) -> str:
    """The before-value of a sensitive field an audit entry changed, decrypted (auditors only, with a reason).

    Writes one audit entry "audit.reveal_sealed" naming the entry, the field and the reason — never
    the value — in the same transaction.
    """
    require(actor, "audit.reveal_sealed")
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "表示する理由を入力してください。"})
    with write_session() as session:
        entry = session.get(AuditEntry, audit_entry_id)
        sealed = session.execute(select(AuditSealedValue).where(
            AuditSealedValue.audit_entry_id == audit_entry_id, AuditSealedValue.field == field)).scalars().first()
        if entry is None or sealed is None:
            raise NotFound("暗号化して保管された変更前の値が見つかりません。")
        value = crypto.decrypt(sealed.value_enc)
        record(session, actor, "audit.reveal_sealed", entry,
               after={"audit_entry_id": entry.id, "action": entry.action, "field": field},
               reason=reason.strip())
    return value


def list_audit_entries(*, actor: Actor, actor_label: str | None = None, entity_type: str | None = None,
                       entity_id: int | None = None, action: str | None = None, since: date | None = None,
                       until: date | None = None, up_to_id: int | None = None, page: int = 1,
                       page_size: int = 50) -> Page:
    """One page of the audit log, newest first, with display rows (JST time, labels, changes).

    Who: any staff ("audit.view"); personal data in before/after is masked for the actor's
    role. Filters: 担当者 (part of the actor's label), 対象種別/ID, 操作 (action code),
    期間 (Tokyo dates, inclusive), and `up_to_id` (this entry and older ones). Reads only.
    """
    require(actor, "audit.view")
    conditions = _conditions(actor_label=actor_label, entity_type=entity_type, entity_id=entity_id,
                             action=action, since=since, until=until, up_to_id=up_to_id)
    page, page_size = max(1, page), min(max(1, page_size), MAX_PAGE_SIZE)
    with read_session() as session:
        total = session.execute(select(func.count()).select_from(AuditEntry).where(*conditions)).scalar_one()
        entries = session.execute(select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
                                  .offset((page - 1) * page_size).limit(page_size)).scalars().all()
        sealed = _sealed_fields(session, [e.id for e in entries])
        return Page([_entry_row(e, actor, sealed.get(e.id, [])) for e in entries], page, page_size, int(total))


def export_audit_csv(*, actor: Actor, actor_label: str | None = None, entity_type: str | None = None,
                     entity_id: int | None = None, action: str | None = None, since: date | None = None,
                     until: date | None = None, up_to_id: int | None = None) -> str:
    """The filtered audit log as CSV text for Excel (UTF-8 with BOM, Japanese headers), oldest first.

    Who: accounting and admins ("audit.export"); before/after are masked for the actor's
    role. Refuses more than EXPORT_LIMIT entries (narrow the filters). Reads only.
    """
    require(actor, "audit.export")
    conditions = _conditions(actor_label=actor_label, entity_type=entity_type, entity_id=entity_id,
                             action=action, since=since, until=until, up_to_id=up_to_id)
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    with read_session() as session:
        total = session.execute(select(func.count()).select_from(AuditEntry).where(*conditions)).scalar_one()
        if total > EXPORT_LIMIT:
            raise ValidationFailed({}, f"出力できるのは{EXPORT_LIMIT:,}件までです（該当 {total:,}件）。"
                                       "期間などの条件を絞り込んでください。")
        after = 0
        while True:
            entries = session.execute(select(AuditEntry).where(*conditions, AuditEntry.id > after)
                                      .order_by(AuditEntry.id).limit(BATCH_SIZE)).scalars().all()
            for e in entries:
                r = _entry_row(e, actor)
                writer.writerow((r["id"], r["at"], r["actor_kind_label"], r["actor"], r["action_label"], r["action"],
                                 r["entity_label"], e.entity_id or "", e.customer_id or "", e.contract_id or "",
                                 e.line_id or "", r["reason"], r["changes"], r["before"], r["after"],
                                 r["request_id"], r["entry_hash"]))
            if len(entries) < BATCH_SIZE:
                break
            after = entries[-1].id
            session.expunge_all()
    return out.getvalue()


def audit_filter_choices(*, actor: Actor) -> dict[str, list[dict[str, str]]]:
    """The entity types and actions present in the log, with Japanese labels, for the filter form.

    Who: any staff ("audit.view"). Reads only.
    """
    require(actor, "audit.view")
    with read_session() as session:
        types = session.execute(select(AuditEntry.entity_type).distinct()).scalars().all()
        actions = session.execute(select(AuditEntry.action).distinct()).scalars().all()
    return {
        "entity_types": sorted(({"value": t, "label": label("entity_type", t)} for t in types),
                               key=lambda c: c["value"]),
        "actions": sorted(({"value": a, "label": f"{action_label(a)}（{a}）"} for a in actions),
                          key=lambda c: c["value"]),
    }


def _optional_int(form: Mapping[str, Any], name: str, errors: dict[str, str]) -> int | None:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    if not text.isdecimal():
        errors[name] = "数字で入力してください。"
        return None
    return int(text)


def _optional_date(form: Mapping[str, Any], name: str, errors: dict[str, str]) -> date | None:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        errors[name] = "日付は 2026-04-01 の形式で入力してください。"
        return None


def read_filter_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """The viewer's filter form (strings) as keyword arguments for list/export, or ValidationFailed.

    Fields: actor_label, entity_type, entity_id, action, since, until, up_to_id.
    """
    errors: dict[str, str] = {}
    filters = {
        "actor_label": str(form.get("actor_label") or "").strip() or None,
        "entity_type": str(form.get("entity_type") or "").strip() or None,
        "entity_id": _optional_int(form, "entity_id", errors),
        "action": str(form.get("action") or "").strip() or None,
        "since": _optional_date(form, "since", errors),
        "until": _optional_date(form, "until", errors),
        "up_to_id": _optional_int(form, "up_to_id", errors),
    }
    if errors:
        raise ValidationFailed(errors)
    _conditions(**filters)  # the period's order
    return filters


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Command line: python -m services.security.audit_log verify [--database-url URL] [--batch-size N]."""
    parser = argparse.ArgumentParser(prog="python -m services.security.audit_log",
                                     description="監査ログのハッシュチェーンを検証します。")
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="改ざんの有無を検証する（改ざんなし: 終了コード0、あり: 1）")
    verify.add_argument("--database-url", help="SQLAlchemy URL (default: TELECOM_DATABASE_URL or data/telecom.db)")
    verify.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"entries per query (default {BATCH_SIZE})")
    args = parser.parse_args(argv)

    from services.platform.db import make_engine, use_engine

    engine = make_engine(args.database_url) if args.database_url else None
    if engine is not None:
        use_engine(engine)
    try:
        report = verify_chain(batch_size=max(1, args.batch_size))
    finally:
        if engine is not None:
            use_engine(None)
            engine.dispose()
    print(report.message_ja)
    return 0 if report.intact else 1


if __name__ == "__main__":
    sys.exit(main())
