"""Display formats shared by every screen: yen, Asia/Tokyo times, Japanese labels of actions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from babel.numbers import format_currency

from services.platform.clock import TOKYO
from services.platform.labels import EVENT_LABELS_JA, LABELS_JA

_ACTION_LABELS_JA = {
    "create": "登録", "update": "変更", "register": "登録", "kyc": "本人確認結果の記録",
    "sign_in": "ログイン", "sign_out": "ログアウト", "disable": "無効化", "allocate": "消込",
    "record": "入金登録", "message": "メッセージ追加", "assign": "担当者割当",
    "mfa_enroll": "二要素認証の設定", "request": "申請", "mfa_reset": "二要素認証リセット",
    "reveal": "表示", "role_change": "権限変更", "recovery_code_use": "リカバリーコード使用",
    "kyc_request": "本人確認の依頼", "kyc_result": "本人確認結果の受信", "return_request": "返品の依頼",
    "sent": "送信", "accepted": "出荷受付", "picked_up": "集荷", "in_transit": "配送中", "delivered": "配達完了",
    "return_requested": "返品受付", "return_in_transit": "返送中", "returned": "返品受領", "failed": "不成立",
    "charge_card": "カードで請求", "refund_confirmed": "返金完了の確認", "external_ref": "取引IDの記録",
    "open": "発生・予定の受信", "close": "復旧・完了の受信",
    "throttle_request": "速度制限の依頼", "throttle_on": "速度制限（キャリア確認）",
    "throttle_off": "速度制限の解除（キャリア確認）",
    "network_throttled": "ネットワーク単位のログイン制限",
    "reveal_sealed": "変更前の値の表示（監査）", "kyc_reopen": "本人確認のやり直し", "purge": "保存期間経過による削除",
}
_ENTITY_LABELS_JA = {"auth": "認証", "staff": "担当者", "customer": "顧客", "pii": "個人情報", "shipment": "出荷",
                     "notification": "通知", "incident": "障害・メンテナンス",
                     "audit": "監査ログ", "kyc_record": "本人確認記録"}
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
    entity_label = LABELS_JA.get(lifecycle or "", _ENTITY_LABELS_JA.get(entity, entity))
    verb_label = EVENT_LABELS_JA.get(lifecycle or "", {}).get(verb) or _ACTION_LABELS_JA.get(verb, verb)
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
