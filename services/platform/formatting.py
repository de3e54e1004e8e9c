"""Display formats shared by every screen: yen, Asia/Tokyo times, Japanese labels of actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from babel.numbers import format_currency

from services.platform.clock import TOKYO
from services.platform.labels import LIFECYCLE_NAMES, label, labels

_ENTITY_ALIASES = {"sim": "sim", "sim_card": "sim", "auth": None, "staff": None}


def yen(amount: int | None, lang: str = "ja") -> str:
    """¥1,234 (Japanese yen have no minor unit)."""
    if amount is None:
        return ""
    return format_currency(amount, "JPY", locale="ja_JP" if lang == "ja" else "en_US")


def tokyo_time(value: datetime | None, with_seconds: bool = False) -> str:
    """A stored UTC time shown in Asia/Tokyo: 2026/11/26 20:31."""
    if value is None:
        return ""
    fmt = "%Y/%m/%d %H:%M:%S" if with_seconds else "%Y/%m/%d %H:%M"
    if value.tzinfo is None:  # the ledger stores UTC; a naive value from a raw query is UTC too
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TOKYO).strftime(fmt)


def action_label(action: str) -> str:
    """Japanese name of an audit action such as 'line.suspend' -> '回線: 停止'."""
    entity, _, verb = action.partition(".")
    lifecycle = _ENTITY_ALIASES.get(entity, entity)
    entity_label = label("record", lifecycle or entity)
    events = labels(f"event.{lifecycle}") if lifecycle in LIFECYCLE_NAMES else {}
    verb_label = events.get(verb) or label("action", verb)
    return f"{entity_label}: {verb_label}"


def changed_fields(before_json: str | None, after_json: str | None) -> list[tuple[str, str, str]]:
    """(field, before, after) for every field that differs between two audit snapshots."""
    before = json.loads(before_json) if before_json else {}
    after = json.loads(after_json) if after_json else {}
    skip = {"updated_at", "created_at"}
    out = []
    for key in sorted(set(before) | set(after)):
        if key in skip or before.get(key) == after.get(key):
            continue
        out.append((key, "" if before.get(key) is None else str(before.get(key)),
                    "" if after.get(key) is None else str(after.get(key))))
    return out
