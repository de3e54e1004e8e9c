"""The UI text catalogue: every fixed label in Japanese (default) and English."""

from __future__ import annotations

import reflex as rx

from state.preferences import Preferences

TEXTS: dict[str, tuple[str, str]] = {
    "billing": ("請求締め", "Billing runs"),
    "payments_nav": ("入金・消込", "Payments"),
    "receivables": ("売掛金", "Receivables"),
    "direct_debit": ("口座振替", "Direct debit"),
    "dunning": ("督促", "Dunning"),
    "catalogue": ("料金表", "Catalogue"),
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
    "request_approval": ("承認を申請する", "Request approval"),
    "approvals": ("承認", "Approvals"),
    "audit": ("監査ログ", "Audit log"),
    "staff": ("担当者管理", "Staff"),
    "empty": ("該当するデータはありません。", "Nothing to show."),
    "month_usage": ("今月の通信量", "Data used this month"),
}


def t(key: str) -> rx.Var:
    """The label for `key` in the current UI language."""
    ja, en = TEXTS[key]
    return rx.cond(Preferences.lang == "en", en, ja)


# English for labels written in Japanese in the page code (table headers, field and row labels).
LABELS_EN: dict[str, str] = {
    "ICCID（在庫のSIM）": "ICCID (SIM in stock)", "IMEI（任意・在庫の端末）": "IMEI (optional, device in stock)",
    "SIM状態": "SIM status", "すべて": "All", "やりとり": "Conversation", "フリガナ": "Kana",
    "フリガナ（カタカナ）": "Kana (katakana)", "プラン": "Plan", "メール": "Email", "メールアドレス": "Email",
    "件名": "Subject", "住所": "Address", "入金日時": "Received", "入金済額": "Paid so far",
    "入金状況": "Payment", "内容": "Description", "区分": "Type", "単価": "Unit price", "受付日時": "Opened",
    "合計": "Total", "名義": "Payer", "回線": "Line", "契約": "Contract", "契約番号": "Contract no.",
    "小計": "Subtotal", "支払期限": "Due", "数量": "Qty", "料金プラン": "Plan", "方法": "Method",
    "日付": "Date", "明細": "Items", "本人確認": "ID check", "権限": "Role", "氏名": "Name",
    "氏名・法人名": "Name / company", "消費税（10%）": "Consumption tax (10%)", "消込": "Allocations",
    "消込額": "Allocated", "状態": "Status", "発行日": "Issued", "端末": "Device", "端末（IMEI）": "Device (IMEI)",
    "終了日": "End date", "請求書番号": "Invoice no.", "請求月": "Period", "請求額": "Amount",
    "通信量(MB)": "Data (MB)", "連絡先電話番号": "Contact phone", "郵便番号": "Postal code", "金額": "Amount",
    "開始日": "Start date", "開通日時": "Activated", "電話": "Phone", "電話番号": "Phone number",
    "顧客": "Customer", "顧客番号": "Customer no.", "SIM（ICCID）": "SIM (ICCID)", "個人": "Individual",
    "法人": "Corporate", "利用中": "Active", "停止中": "Suspended", "申請中": "Applying", "保留": "Pending",
    "要確認": "Needs review", "解約済": "Terminated",
}


def tr(ja: str) -> rx.Var | str:
    """A label written in Japanese, in English when the UI is switched (unknown labels stay Japanese)."""
    en = LABELS_EN.get(ja)
    return rx.cond(Preferences.lang == "en", en, ja) if en else ja
