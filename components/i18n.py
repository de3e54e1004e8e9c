"""The UI text catalogue: every fixed label in Japanese (default) and English."""

from __future__ import annotations

import reflex as rx

from state.preferences import Preferences

TEXTS: dict[str, tuple[str, str]] = {
    # the customer app (/my)
    "my_app_name": ("マイページ", "My account"),
    "my_home": ("ホーム", "Home"),
    "my_bills": ("請求", "Bills"),
    "my_notices": ("お知らせ", "Notices"),
    "my_security": ("設定", "Settings"),
    "my_sign_in_title": ("マイページにログイン", "Sign in to your account"),
    "my_forgot": ("パスワードを忘れた方", "Forgot your password?"),
    "my_forgot_title": ("パスワードの再設定", "Reset your password"),
    "my_forgot_help": ("登録しているメールアドレスを入力してください。再設定用のリンクをお送りします。",
                       "Enter the address you signed up with. We will mail you a link to choose a new password."),
    "my_send_link": ("再設定用のリンクを送る", "Send the link"),
    "my_new_password": ("新しいパスワード", "New password"),
    "my_password_again": ("新しいパスワード（確認）", "New password (again)"),
    "my_password_rules": ("10文字以上。よく使われるパスワードやメールアドレスと同じものは使えません。記号や大文字の指定はありません。",
                          "At least 10 characters. Common passwords and your e-mail address are refused. "
                          "No rules about symbols or capitals."),
    "my_set_password": ("パスワードを設定", "Set password"),
    "my_back_to_sign_in": ("ログイン画面へ", "Back to sign-in"),
    "my_invite_title": ("マイページへの招待", "Your invitation"),
    "my_usage": ("今月のデータ通信量", "Data used this month"),
    "my_days_left": ("締め日まで", "Days left in the month"),
    "my_throttled": ("速度制限中", "Speed limited"),
    "my_no_lines": ("表示できる回線がありません。", "No lines to show."),
    "my_no_bills": ("表示できる請求はありません。", "No bills to show."),
    "my_download_pdf": ("PDFをダウンロード", "Download PDF"),
    "my_no_notices": ("お知らせはありません。", "No notices."),
    "my_unread": ("未読", "Unread"),
    "my_devices": ("ログイン中の端末", "Signed-in devices"),
    "my_this_device": ("この端末", "This device"),
    "my_sign_out_others": ("ほかの端末をすべてログアウト", "Sign out everywhere else"),
    "my_owed": ("お支払いいただく金額", "Amount to pay"),
    "my_due": ("お支払期限", "Due"),
    # paying a bill by card and the payment method (components.my.payment)
    "my_pay_by_card": ("カードで支払う", "Pay by card"),
    "my_card_note": ("カード番号は決済代行会社のお支払いページで入力します。当社には保存されません。",
                     "You enter the card number on the payment company's page. We never store it."),
    "my_card_payment": ("カードでのお支払い", "Card payment"),
    "my_payment_method": ("お支払い方法", "Payment method"),
    "my_apply_direct_debit": ("口座振替を申し込む", "Apply for direct debit"),
    "my_register_card": ("カードを登録する", "Register a card"),
    "my_change_card": ("カードを変更する", "Change the card"),
    "my_remove_card": ("カードの登録を解除する", "Remove the card"),
    "my_remove_card_confirm": ("解除する", "Remove"),
    "my_keep_card": ("やめる", "Keep it"),
    "my_card_on_file": ("登録カード", "Registered card"),
    "my_card_expiry": ("有効期限", "Expires"),
    "my_card_on_file_note": ("登録したカードに、今後発行される請求書の金額を自動で請求します。",
                             "Every bill issued from now on is charged to the registered card."),
    "my_card_debit_first": ("口座振替が登録されているため、口座振替が優先されます（登録カードには請求しません）。",
                            "Direct debit is registered and takes precedence: the card is not charged."),
    "my_charged_to_card": ("登録カードに請求します", "Charged to the registered card"),
    "my_pay_by_end": (" まで", " at the latest"),  # after the date to pay by
    "my_remove_card_ask": (" の登録を解除します。今後の請求書は、請求書ごとにお支払いいただきます。よろしいですか？",
                           " will be removed. After that, you pay each bill yourself. Remove it?"),  # after the card
    "my_no_card_note": ("カードを登録すると、今後発行される請求書の金額をそのカードに自動で請求します。"
                        "登録しない場合は、各請求書の「カードで支払う」からお支払いいただけます。",
                        "Register a card and every bill issued from now on is charged to it automatically. "
                        "Without one, you can pay each bill with \"Pay by card\" on the bill."),
    # 口座振替のお申し込み（受付番号 #{id}、{created_at}）: {status}
    "my_debit_application": ("口座振替のお申し込み（受付番号 #", "Direct debit application (ref. #"),
    "my_debit_application_on": ("、", ", "),
    "my_debit_application_end": ("）: ", "): "),
    "my_debit_help": ("毎月の料金を指定の口座から自動でお引き落としします。担当者が確認のうえ登録します。",
                      "Your monthly charges are debited from this account automatically. Staff check the details "
                      "before registering it."),
    "my_holder_help": ("口座名義は通帳に記載のとおり、カタカナで入力してください（法人は「カ）」などの略語も）。",
                       "Enter the account holder in katakana exactly as in the passbook (for a company, with the "
                       "abbreviation of its legal form)."),
    "my_method_admin_only": ("お支払い方法の変更は法人管理者が行えます。",
                             "Only your company admin can change the payment method."),
    "my_method_ask_admin": ("お支払い方法は法人管理者にお問い合わせください。",
                            "Please ask your company admin about the payment method."),
    "my_what_to_do": ("お願いしたいこと", "What to do"),
    "my_pay_by": ("お支払い期限", "Pay by"),
    "my_tickets": ("問い合わせ", "Support"),  # the customer's tickets (/my/tickets)
    "my_shipment": ("配送状況", "Delivery status"),  # /my/shipments/[shipment_id]
    "my_notice_settings": ("通知の設定", "Notification settings"),  # /my/security
    "my_tracking_number": ("お問い合わせ番号（追跡番号）", "Tracking number"),
    # the contract in /my (plan, options, history, changes) and add-on data on the home page
    "my_contracts": ("契約内容", "Contracts"),
    "my_no_contracts": ("表示できる契約はありません。", "No contracts to show."),
    "my_change_plan": ("プランを変更", "Change plan"),
    "my_add_option": ("オプションを追加", "Add option"),
    "my_check_change": ("適用日と料金を確認", "Check date and price"),
    "my_confirm_change": ("この内容で変更する", "Confirm this change"),
    "my_add_data": ("データを追加", "Add data"),
    "my_buy_data": ("購入する", "Buy"),
    # one line in /my/lines/[line_id]: requests (停止・再開・解約・MNP・SIM再発行) and their timelines
    "my_line": ("回線の手続き", "Line requests"),
    "my_line_open": ("手続き・お申し込み", "Requests for this line"),
    "my_line_requests": ("お申し込み", "Make a request"),
    "my_line_history": ("お申し込みの状況", "Your requests"),
    "my_line_no_requests": ("この回線のお申し込みはまだありません。", "No requests for this line yet."),
    "my_line_staff_note": ("お申し込みは担当者が確認してから手続きします。この画面ですぐには変わりません。",
                           "Staff check each request before carrying it out; nothing changes at once."),
    "my_line_urgent_note": ("紛失・盗難による利用停止は至急で対応します。", "A suspension for a lost or stolen phone is "
                            "handled first."),
    "my_line_reason": ("理由", "Reason"),
    "my_line_details": ("詳しい内容（「その他」のときは必須）", "Details (required for Other)"),
    "my_line_send": ("申し込む", "Send request"),
    "my_line_close": ("やめる", "Cancel"),
    "my_line_terms": ("解約の前にご確認ください", "Before you terminate"),
    "my_line_confirm_number": ("確認のため、この回線の電話番号を入力してください", "Type this line's phone number to confirm"),
    "my_line_mnp_help": ("MNP予約番号（10桁）は発行日を含めて15日間有効です。転入先の会社で手続きが終わると、この回線は"
                         "解約になります。料金表にMNP転出の手数料はありません。",
                         "The 10-digit number is valid for 15 days including the day of issue. When the new company "
                         "completes the move, this line ends. The rate table has no fee for moving out."),
    "my_line_mnp_number": ("MNP予約番号", "MNP reservation number"),
    "my_line_valid_until": ("有効期限", "Valid until"),
    "my_line_sim_fee": ("SIM再発行の手数料", "SIM re-issue fee"),
    "my_line_sim_help": ("新しいSIMカードをお送りします。手数料は次回のご請求に含まれます。紛失・盗難のときは、先に利用停止も"
                         "お申し込みください。", "We send you a new SIM card; the fee comes with your next bill. For a "
                         "lost or stolen phone, ask for a suspension first."),
    "my_line_cannot": ("この画面でできないこと", "What this page cannot do"),
    "my_line_cannot_holder": ("契約者（名義）の変更・承継", "Changing or handing over the contract holder"),
    "my_line_cannot_number": ("電話番号の変更", "Changing the phone number"),
    "my_line_cannot_initial": ("契約全体の初期契約解除（開始日から8日以内）", "Cancelling the whole contract within 8 "
                               "days of its start"),
    "my_line_cannot_undo": ("承認された解約の取り消し（解約した番号は戻せません）", "Undoing an approved termination "
                            "(the number cannot come back)"),
    "my_line_cannot_how": ("これらは問い合わせからご依頼ください。担当者が手続きをご案内します。",
                           "Ask for these through Support; staff will guide you."),
    "my_line_ask": ("問い合わせる", "Contact support"),
    "my_line_plan_change": ("料金プラン・オプションの変更は契約内容のページから行えます。",
                            "Plans and options are changed on the contract page."),
    "my_line_urgent": ("至急", "Urgent"),
    "my_line_this_request": ("このお申し込み", "This request"),
    # pieces of sentences built around values on the /my pages (the English keeps its own spacing)
    "my_lines_unit": ("回線", " line(s)"),  # after a count of lines
    "my_days_unit": ("日", " days"),  # after the days left in the month
    "my_price_per_line": ("料金は1回線あたりの月額です（この契約の回線: ", "Prices are monthly, per line (lines on this "
                          "contract: "),
    "my_price_per_line_end": ("回線）。", ")."),
    "my_initial_cancellation_until": (" まで（契約開始日を含めて8日間）お申し出いただけます。解除した場合のご請求はご利用日数分だけです。",
                                      " is the last day to ask (8 days including the start date). If you cancel, "
                                      "you pay only for the days used."),
    "my_invite_from": (" から ", " invites "),  # {company} から {name} 様（{role}）への招待です。
    "my_invite_as": (" 様（", " (as "),
    "my_invite_end": ("）への招待です。", ")."),
    "my_passkey_added": ("登録", "Added"),  # before the date a passkey was registered
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
    "ticket_queue": ("問い合わせ一覧", "Ticket queue"),
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
    # the ticket queue and a ticket's page
    "優先度": "Priority", "担当者": "Assignee", "未割当": "Unassigned", "自分": "Me", "最終更新": "Last updated",
    "顧客名・顧客番号": "Customer name or number", "絞り込み": "Filters", "絞り込む": "Filter",
    "条件をクリア": "Clear filters", "自分に割り当て": "Assign to me", "担当者を変更": "Change assignee",
    "お客様への返信": "Reply to the customer", "返信する": "Send reply",
    "返信はお客様とのやりとりとして記録されます。社内向けのメモは書かないでください。":
        "A reply is kept as part of the conversation with the customer. Do not write internal notes here.",
    "該当する問い合わせはありません。": "No tickets match.",
    "クローズ済みの問い合わせには返信や担当者の変更はできません。":
        "A closed ticket takes no replies and no change of assignee.",
    # tickets in the customer app, internal notes and attachments on the staff ticket page
    "新しい問い合わせ": "New question", "これまでの問い合わせ": "Your questions", "お問い合わせの対象": "About",
    "選んでください": "Choose one", "お問い合わせ内容": "Your message", "添付ファイル（任意）": "Attachments (optional)",
    "送信する": "Send", "返信を送信する": "Send reply", "返信": "Reply", "問い合わせ一覧へ": "All questions",
    "問い合わせはまだありません。": "No questions yet.", "添付ファイル": "Attachments",
    "お問い合わせの対象となる回線・請求書がありません。": "There is no line or bill to ask about.",
    "この問い合わせは終了しています。別のご用件は新しい問い合わせでお送りください。":
        "This question is closed. Please send anything else as a new question.",
    "社内メモ": "Internal note", "社内メモとして保存（お客様には表示されません）":
        "Save as an internal note (never shown to the customer)",
    "返信はお客様に表示されます。社内向けのメモは「社内メモとして保存」を選んでください。":
        "A reply is shown to the customer. For a note for staff only, choose \"Save as an internal note\".",
    "ファイルを添付して送る": "Send files", "ファイルと一緒に送るメッセージ": "Message sent with the files",
    "ファイルを送信": "Send files", "請求書": "Invoice",
    # the customer app (/my): contracts, home, sign-in, notices, settings, add-on data, the company's users
    "プランの変更": "Change of plan", "オプションの追加": "Add an option", "オプションを外す": "Remove an option",
    "変更先のプラン": "New plan", "追加するオプション": "Option to add", "外すオプション": "Option to remove",
    "いつから": "When it starts", "翌月1日から（おすすめ・日割りなし）": "From the 1st of next month (recommended, no proration)",
    "今日から（今月分は日割り）": "From today (this month is prorated)", "月額（1回線）": "Monthly (per line)",
    "データ容量": "Data allowance", "上限を超えたあとの速度": "Speed over the allowance", "外す": "Remove",
    "オプション": "Options", "オプションは付いていません。": "No options.", "プランの履歴": "Plan history",
    "解約について": "Termination", "初期契約解除": "Cooling-off cancellation", "← 契約の一覧": "← All contracts",
    "日別 (MB)": "Per day (MB)", "累計 (MB)": "Running total (MB)", "上限": "Cap",
    "パスキーでログイン": "Sign in with a passkey", "キー": "Setup key", "既読にする": "Mark as read",
    "最終利用": "Last used", "削除": "Delete", "このパスキーを削除": "Delete this passkey", "パスキー": "Passkeys",
    "パスキーを登録すると、この端末の指紋・顔認証や画面ロックだけでログインできます（パスワードと確認コードは不要です）。":
        "With a passkey you sign in with this device's fingerprint, face or screen lock alone (no password or code).",
    "登録されたパスキーはありません。": "No passkeys yet.", "パスキーの名前（任意）": "Passkey name (optional)",
    "例: 仕事用のiPhone": "e.g. Work iPhone", "この端末をパスキーとして登録": "Register this device as a passkey",
    "通知の設定は法人管理者が変更できます。": "Your company admin can change the notification settings.",
    "利用者の管理（招待・回線・請求の閲覧）": "Manage users (invitations, lines, bill access)",
    "（カード・口座振替）": " (card or direct debit)", "利用者の管理": "Manage users",
    "消費税": "Consumption tax", "登録番号": "Registration no.", "今月の上限": "Cap this month",
    "購入すると速度制限の解除を手配します（反映まで少しかかります）。":
        "Buying lifts the speed limit (this takes a little while).",
    "この容量を追加しても今月の通信量が上限を超えたままのため、速度制限は続きます。":
        "Your data used stays over this month's cap even with this, so the speed limit stays.",
    "今月のご利用": "Data used this month", "追加するデータ": "Data to add",
    "この回線に追加できるデータはありません。": "No extra data can be added to this line.",
    "すべての回線": "All lines", "回線なし": "No lines", "請求の閲覧": "Bill access", "可": "Allowed",
    "不可": "Not allowed", "招待の有効期限": "Invitation expires", "請求の閲覧を止める": "Stop bill access",
    "請求の閲覧を許可": "Allow bill access", "ログインを停止": "Block sign-in", "閉じる": "Close", "招待する": "Invite",
    "役割": "Role", "利用者（割り当てた回線だけ）": "User (assigned lines only)",
    "法人管理者（すべての回線と請求）": "Company admin (all lines and bills)", "利用者が見る回線": "Lines the user sees",
    "招待メールを送る": "Send the invitation",
    # the payment method in the customer app (/my/payment): the card on file and the 口座振替 application
    "現在のお支払い方法": "Current payment method", "クレジットカード": "Credit card", "登録日時": "Registered",
    "金融機関コード": "Bank code", "支店コード": "Branch code", "預金種目": "Account type", "口座番号": "Account number",
    "口座名義": "Account holder", "金融機関コード（4桁）": "Bank code (4 digits)",
    "支店コード（3桁）": "Branch code (3 digits)", "口座番号（7桁）": "Account number (7 digits)",
    "口座名義（カタカナ）": "Account holder (katakana)",
}


def tr(ja: str) -> rx.Var | str:
    """A label written in Japanese, in English when the UI is switched (unknown labels stay Japanese)."""
    en = LABELS_EN.get(ja)
    return rx.cond(Preferences.lang == "en", en, ja) if en else ja
