"""The UI text catalogue: every fixed label in Japanese (default) and English."""

from __future__ import annotations

import reflex as rx

from state.base import UiState

TEXTS: dict[str, tuple[str, str]] = {
    "app_name": ("通信サービス管理", "Telecom Service Management"),
    "home": ("ホーム", "Home"),
    "customers": ("顧客", "Customers"),
    "lines": ("回線", "Lines"),
    "new_customer": ("顧客登録", "New customer"),
    "search": ("検索", "Search"),
    "search_placeholder": ("電話番号・ICCID・IMEI・顧客名・契約番号・請求書番号", "Phone, ICCID, IMEI, name, contract or invoice no."),
    "sign_out": ("ログアウト", "Sign out"),
    "sign_in": ("ログイン", "Sign in"),
    "email": ("メールアドレス", "Email"),
    "password": ("パスワード", "Password"),
    "totp_code": ("確認コード（6桁）またはリカバリーコード", "Authenticator code or recovery code"),
    "enroll_title": ("二要素認証の設定", "Set up two-factor authentication"),
    "enroll_help": ("認証アプリで QR コードを読み取り、表示された6桁のコードを入力してください。",
                    "Scan the QR code with your authenticator app and enter the 6-digit code."),
    "recovery_title": ("リカバリーコード", "Recovery codes"),
    "recovery_help": ("認証アプリが使えないときに1回ずつ使えます。安全な場所に保管してください。この画面でしか表示されません。",
                      "Each works once if you lose your authenticator. Store them safely; they are shown only now."),
    "continue": ("続ける", "Continue"),
    "verify": ("確認", "Verify"),
    "no_results": ("該当するものが見つかりませんでした。", "Nothing found."),
    "more_results": ("さらに該当があります。条件を絞り込んでください。", "More results exist; refine the query."),
    "contracts": ("契約", "Contracts"),
    "sims_devices": ("SIM・端末", "SIMs and devices"),
    "invoices": ("請求書", "Invoices"),
    "payments": ("入金", "Payments"),
    "tickets": ("問い合わせ", "Tickets"),
    "users": ("利用者", "Users"),
    "history": ("変更履歴（誰が・いつ・何を・なぜ）", "History (who, when, what, why)"),
    "status": ("状態", "Status"),
    "reason": ("理由", "Reason"),
    "cancel": ("キャンセル", "Cancel"),
    "execute": ("実行する", "Confirm"),
    "previous": ("前へ", "Previous"),
    "next": ("次へ", "Next"),
    "show_all": ("すべて表示", "Show all"),
    "add_line": ("回線を追加", "Add a line"),
    "register": ("登録する", "Register"),
    "new_contract": ("新規契約", "New contract"),
    "usage": ("通信量（直近14日）", "Data usage (last 14 days)"),
    "open_tickets": ("対応中の問い合わせ", "Open tickets"),
    "loading": ("読み込み中…", "Loading…"),
    "empty": ("該当するデータはありません。", "Nothing to show."),
    "month_usage": ("今月の通信量", "Data used this month"),
}


def t(key: str) -> rx.Var:
    """The label for `key` in the current UI language."""
    ja, en = TEXTS[key]
    return rx.cond(UiState.lang == "en", en, ja)
