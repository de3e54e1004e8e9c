"""The one catalogue of labels (ja / en) for what services show: names of records, states and events."""

from __future__ import annotations

LABELS_JA = {
    "contract": "契約", "line": "回線", "sim": "SIM", "device": "端末", "invoice": "請求書",
    "payment": "入金", "ticket": "問い合わせ", "approval": "承認申請",
    "external_operation": "外部連携処理", "import_batch": "一括登録",
}

STATE_LABELS_JA: dict[str, dict[str, str]] = {
    "contract": {"draft": "下書き", "applied": "申込済", "active": "契約中",
                 "cancellation_requested": "解約申請中", "terminated": "解約済"},
    "line": {"applying": "申請中", "activating": "開通処理中", "active": "利用中", "suspending": "停止処理中",
             "suspended": "停止中", "resuming": "再開処理中", "terminated": "解約済",
             "pending": "保留", "needs_review": "要確認"},
    "sim": {"in_stock": "在庫", "assigned": "割当済", "active": "利用中", "returned": "返却済",
            "faulty": "故障", "lost": "紛失"},
    "device": {"in_stock": "在庫", "assigned": "割当済", "shipped": "出荷済", "returned": "返却済",
               "faulty": "故障"},
    "invoice": {"draft": "下書き", "issued": "発行済", "void": "無効"},
    "payment": {"received": "受領", "matched": "消込済", "unmatched": "未消込", "refunded": "返金済"},
    "ticket": {"open": "未対応", "in_progress": "対応中", "waiting_customer": "お客様回答待ち",
               "resolved": "解決済", "closed": "クローズ"},
    "approval": {"pending": "承認待ち", "approved": "承認済", "executed": "実行済", "rejected": "却下",
                 "expired": "期限切れ", "failed": "実行失敗"},
    "external_operation": {"pending": "保留", "in_flight": "処理中", "succeeded": "成功",
                           "failed": "失敗", "unknown": "要確認"},
    "import_batch": {"uploaded": "アップロード済", "validated": "検証済", "applied": "反映済",
                     "rolled_back": "取り消し済", "discarded": "破棄"},
}

STATE_LABELS_EN: dict[str, dict[str, str]] = {
    name: {state: state.replace("_", " ") for state in labels} for name, labels in STATE_LABELS_JA.items()
}

EVENT_LABELS_JA: dict[str, dict[str, str]] = {
    "contract": {"apply": "申込", "activate": "契約開始", "request_cancellation": "解約申請",
                 "withdraw_cancellation": "解約申請の取り下げ", "terminate": "解約", "discard": "破棄"},
    "line": {"activate": "開通", "suspend": "停止", "resume": "再開", "terminate": "解約",
             "hold": "保留", "flag_for_review": "要確認にする", "confirm_active": "利用中として確定",
             "confirm_suspended": "停止中として確定", "confirm_terminated": "解約済として確定",
             "carrier_confirmed": "キャリア完了", "carrier_rejected": "キャリア拒否",
             "outcome_unknown": "結果不明（要確認）"},
    "sim": {"assign": "割当", "unassign": "割当解除", "activate": "利用開始", "return": "返却",
            "restock": "在庫戻し", "report_faulty": "故障登録", "report_lost": "紛失登録"},
    "device": {"assign": "割当", "unassign": "割当解除", "ship": "出荷", "return": "返却",
               "restock": "在庫戻し", "report_faulty": "故障登録"},
    "invoice": {"issue": "発行", "void": "無効化"},
    "payment": {"match": "消込", "mark_unmatched": "未消込にする", "refund": "返金"},
    "ticket": {"start": "対応開始", "wait_for_customer": "お客様回答待ちにする",
               "customer_replied": "お客様回答あり", "resolve": "解決", "reopen": "再オープン",
               "close": "クローズ"},
    "approval": {"approve": "承認", "execute": "実行", "fail": "実行失敗", "reject": "却下",
                 "expire": "期限切れ"},
    "external_operation": {"dispatch": "送信", "succeed": "成功", "fail": "失敗",
                           "lose_track": "結果不明", "retry": "再試行"},
    "import_batch": {"validate": "検証", "apply": "反映", "roll_back": "取り消し", "discard": "破棄"},
}


def state_label(lifecycle: str, state: str, lang: str = "ja") -> str:
    """The on-screen name of a state ("停止中")."""
    labels = STATE_LABELS_JA if lang == "ja" else STATE_LABELS_EN
    return labels[lifecycle].get(state, state)
