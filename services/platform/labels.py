"""The one catalogue of labels (ja / en) for what services show: names of records, states, events and
every other code a screen, a message or an audit entry names (roles, statuses, kinds, providers ...).

CATALOGUE maps a group to its keys, each with its Japanese and English label. The services look a label
up by group and key (label, labels, state_label) and own no table of labels of their own.
"""

from __future__ import annotations

LANGUAGES = ("ja", "en")

Label = tuple[str, str]  # (ja, en)

# Names of the records the business knows (a lifecycle's name, the first part of an audit action,
# a search result's group, a shipped item).
_RECORD: dict[str, Label] = {
    "customer": ("顧客", "Customer"),
    "contract": ("契約", "Contract"),
    "line": ("回線", "Line"),
    "sim": ("SIM", "SIM"),
    "device": ("端末", "Device"),
    "invoice": ("請求書", "Invoice"),
    "payment": ("入金", "Payment"),
    "ticket": ("問い合わせ", "Ticket"),
    "approval": ("承認申請", "Approval request"),
    "external_operation": ("外部連携処理", "External operation"),
    "import_batch": ("一括登録", "Bulk import"),
    "billing_run": ("請求締め", "Billing run"),
    "debit_batch": ("口座振替データ", "Direct debit file"),
    "dunning": ("督促", "Dunning"),
    "catalog": ("料金表", "Catalogue"),
    "charge": ("一時金・値引き", "One-off charge or discount"),
    "debit_mandate": ("口座振替の登録", "Direct debit mandate"),
    "auth": ("認証", "Authentication"),
    "staff": ("担当者", "Staff member"),
    "pii": ("個人情報", "Personal data"),
    "shipment": ("出荷", "Shipment"),
    "notification": ("通知", "Notification"),
    "incident": ("障害・メンテナンス", "Outage or maintenance"),
    "audit": ("監査ログ", "Audit log"),
    "kyc_record": ("本人確認記録", "ID verification record"),
    "customer_user": ("利用者", "Customer user"),
    "customer_invitation": ("利用者の招待", "Customer user invitation"),
    "mnp_reservation": ("MNP予約番号", "MNP reservation number"),  # services.ledger.customer_requests
}

# The audit log's entity types (table names) -> the record they are.
_TABLE_RECORDS = {
    "customer": "customer", "contract": "contract", "line": "line", "sim_card": "sim", "device": "device",
    "invoice": "invoice", "payment": "payment", "ticket": "ticket", "staff_user": "staff", "audit_entry": "audit",
    "kyc_record": "kyc_record", "approval_request": "approval", "import_batch": "import_batch",
    "service_incident": "incident", "billing_run": "billing_run", "billing_anomaly": "billing_run",
    "direct_debit_batch": "debit_batch", "direct_debit_mandate": "debit_mandate", "dunning_case": "dunning",
    "rate_plan": "catalog", "rate_plan_version": "catalog", "rate_option": "catalog", "rate_option_version": "catalog",
    "charge_rate": "catalog", "pending_charge": "charge", "contract_plan_period": "contract",
    "contract_option": "contract", "instalment_plan": "contract",
    "customer_user": "customer_user", "customer_invitation": "customer_invitation", "notification": "notification",
    "mnp_reservation": "mnp_reservation",
    "notification_preference": "notification",  # services.ledger.notification_preferences
}

CATALOGUE: dict[str, dict[str, Label]] = {
    "record": _RECORD,
    "entity_type": {table: _RECORD[name] for table, name in _TABLE_RECORDS.items()} | {
        "staff_session": ("ログインセッション", "Sign-in session"),
        "staff_recovery_code": ("リカバリーコード", "Recovery code"),
        "sign_in_attempt": ("ログイン試行", "Sign-in attempt"),
        # customers' sign-in (services.security.customer_auth)
        "customer_session": ("お客様のログインセッション", "Customer sign-in session"),
        "customer_recovery_code": ("お客様のリカバリーコード", "Customer recovery code"),
        "customer_password_reset": ("パスワード再設定", "Password reset"),
        "customer_passkey": ("お客様のパスキー", "Customer passkey"),  # services.security.passkeys
    },
    # the second part of an audit action ("line.suspend" -> 回線: 停止) when it is not a lifecycle event
    "action": {
        "create": ("登録", "Create"),
        "update": ("変更", "Update"),
        "register": ("登録", "Register"),
        "kyc": ("本人確認結果の記録", "Record ID verification result"),
        "sign_in": ("ログイン", "Sign in"),
        "sign_out": ("ログアウト", "Sign out"),
        "disable": ("無効化", "Disable"),
        "allocate": ("消込", "Allocation"),
        "record": ("入金登録", "Record payment"),
        "message": ("メッセージ追加", "Add message"),
        "assign": ("担当者割当", "Assign staff member"),
        "mfa_enroll": ("二要素認証の設定", "Set up two-factor authentication"),
        "request": ("申請", "Request"),
        # a customer's requests from the customer app (services.ledger.customer_requests)
        "sim_reissue_request": ("SIM再発行の申し込み", "SIM re-issue request"),
        "issue": ("発行", "Issue"),
        "fail": ("失敗", "Failed"),
        "mfa_reset": ("二要素認証リセット", "Reset two-factor authentication"),
        "reveal": ("表示", "Reveal"),
        "role_change": ("権限変更", "Change role"),
        "recovery_code_use": ("リカバリーコード使用", "Use recovery code"),
        "kyc_request": ("本人確認の依頼", "Request ID verification"),
        "kyc_result": ("本人確認結果の受信", "ID verification result received"),
        "return_request": ("返品の依頼", "Request return"),
        "sent": ("送信", "Sent"),
        "accepted": ("出荷受付", "Shipment accepted"),
        "picked_up": ("集荷", "Picked up"),
        "in_transit": ("配送中", "In transit"),
        "delivered": ("配達完了", "Delivered"),
        "return_requested": ("返品受付", "Return accepted"),
        "return_in_transit": ("返送中", "Return in transit"),
        "returned": ("返品受領", "Return received"),
        "failed": ("不成立", "Failed"),
        "charge_card": ("カードで請求", "Charge card"),
        "card_checkout": ("カード払いの開始（お客様）", "Card payment started by the customer"),  # billing.card_checkout
        "refund_confirmed": ("返金完了の確認", "Refund confirmed"),
        "external_ref": ("取引IDの記録", "Record transaction ID"),
        "open": ("発生・予定の受信", "Outage or maintenance reported"),
        "close": ("復旧・完了の受信", "Recovery or completion reported"),
        "throttle_request": ("速度制限の依頼", "Request throttling"),
        "throttle_on": ("速度制限（キャリア確認）", "Throttled (confirmed by carrier)"),
        "throttle_off": ("速度制限の解除（キャリア確認）", "Throttling lifted (confirmed by carrier)"),
        "network_throttled": ("ネットワーク単位のログイン制限", "Sign-ins limited for a network"),
        "reveal_sealed": ("変更前の値の表示（監査）", "Reveal previous value (audit)"),
        "kyc_reopen": ("本人確認のやり直し", "Redo ID verification"),
        "purge": ("保存期間経過による削除", "Deleted after retention period"),
        # customers' sign-in (services.security.customer_auth)
        "sign_out_others": ("ほかの端末からのログアウト", "Sign out other devices"),
        "accept_invitation": ("招待の受諾", "Accept invitation"),
        "password_reset_request": ("パスワード再設定の申し込み", "Request password reset"),
        "password_reset": ("パスワード再設定", "Reset password"),
        "passkey_register": ("パスキーの登録", "Register passkey"),  # services.security.passkeys
        "passkey_remove": ("パスキーの削除", "Remove passkey"),
        "invite": ("招待", "Invite"),
        "assign_lines": ("回線の割当", "Assign lines"),
        "set_rights": ("権限の設定", "Set rights"),
        "read": ("既読", "Mark as read"),
        "note": ("社内メモの追加", "Add internal note"),  # services.ledger.tickets: staff only, never shown to customers
        "preference": ("通知の設定", "Notification settings"),  # services.ledger.notification_preferences
        "buy_addon_data": ("追加データの購入", "Buy add-on data"),  # services.billing.addons
    },
    "role": {
        "sales": ("営業", "Sales"),
        "support": ("サポート", "Support"),
        "accounting": ("経理", "Accounting"),
        "admin": ("管理者", "Administrator"),
        "auditor": ("監査担当", "Auditor"),
        "customer_admin": ("法人管理者", "Corporate administrator"),
        "user": ("利用者", "User"),
    },
    "customer_user_status": {  # a person of a customer on the company's user screen
        "active": ("利用中", "Active"),
        "disabled": ("削除済", "Removed"),
        "invited": ("招待中", "Invited"),
    },
    "actor_kind": {
        "staff": ("担当者", "Staff"),
        "customer": ("お客様", "Customer"),
        "system": ("システム", "System"),
    },
    "customer_kind": {
        "individual": ("個人", "Individual"),
        "corporate": ("法人", "Corporate"),
    },
    "kyc_status": {
        "not_started": ("未提出", "Not submitted"),
        "submitted": ("確認待ち", "Awaiting verification"),
        "verified": ("確認済", "Verified"),
        "rejected": ("否認", "Rejected"),
    },
    "kyc_result": {
        "approved": ("承認", "Approved"),
        "rejected": ("否認", "Rejected"),
    },
    "kyc_method": {
        "ekyc": ("オンライン本人確認（eKYC）", "Online ID verification (eKYC)"),
        "in_person": ("対面（書類の提示）", "In person (documents shown)"),
        "mail": ("郵送（本人限定受取郵便）", "By post (restricted delivery mail)"),
    },
    "id_document": {
        "drivers_license": ("運転免許証", "Driver's license"),
        "passport": ("パスポート", "Passport"),
        "residence_card": ("在留カード", "Residence card"),
        "health_insurance": ("健康保険証", "Health insurance card"),
        "my_number_card": ("マイナンバーカード", "My Number card"),
        "corporate_registry": ("登記事項証明書", "Certificate of company registration"),  # with its 会社法人等番号
    },
    "sealed_field": {
        "id_document_number": ("本人確認書類の番号", "ID document number"),
        "bank_account": ("口座", "Bank account"),
    },
    "payment_method": {
        "bank_transfer": ("銀行振込", "Bank transfer"),
        "direct_debit": ("口座振替", "Direct debit"),
        "card": ("クレジットカード", "Credit card"),
        "credit_note": ("適格返還請求書による相殺", "Settled by credit note"),
    },
    # how far an issued invoice is paid (billing.allocation.InvoicePaymentState)
    "payment_state": {
        "unpaid": ("未収", "Unpaid"),
        "partially_paid": ("一部入金", "Partially paid"),
        "paid": ("入金済", "Paid"),
        "overpaid": ("過入金", "Overpaid"),
    },
    # a row of the payment provider's settlement report ("other": a type the report does not name)
    "settlement_type": {
        "charge": ("カード請求", "Card charge"),
        "refund": ("返金", "Refund"),
        "checkout": ("カード払い（決済ページ）", "Card payment on the payment page"),
        "other": ("取引", "Transaction"),
    },
    "provider": {
        "carrier": ("キャリア", "Carrier"),
        "payment": ("決済", "Payment gateway"),
        "bank": ("銀行", "Bank"),
        "kyc": ("本人確認", "ID verification"),
        "logistics": ("配送", "Delivery"),
        "messaging": ("メッセージ", "Messaging"),
        "monitoring": ("監視", "Monitoring"),
    },
    # what an external operation asks of its provider (キャリア + 停止 = キャリア停止)
    "external_operation": {
        "activate": ("開通", "Activation"),
        "suspend": ("停止", "Suspension"),
        "resume": ("再開", "Resumption"),
        "terminate": ("解約", "Termination"),
        "change_plan": ("プラン変更", "Plan change"),
        "throttle_on": ("速度制限", "Throttling"),
        "throttle_off": ("速度制限の解除", "Throttling lifted"),
        "status": ("状態照会", "Status inquiry"),
        "report": ("日次レポート", "Daily report"),
        "charge": ("請求", "Charge"),
        "refund": ("返金", "Refund"),
        "settlement": ("精算レポート", "Settlement report"),
        "statement": ("入金明細", "Payment statement"),
        "submit": ("本人確認依頼", "ID verification request"),
        "ship": ("出荷", "Shipment"),
        "return": ("返品", "Return"),
        "mail": ("メール送信", "Email"),
        "push": ("LINE送信", "LINE message"),
        "transfer": ("振込", "Bank transfer"),
        "check": ("結果", "Result"),
        "checkout": ("決済ページの作成", "Payment page"),  # services.billing.card_checkout
        "expire_checkout": ("決済ページの終了", "Payment page closed"),
        "card_setup": ("カード登録ページの作成", "Card registration page"),  # services.billing.card_on_file
        "mnp_reserve": ("MNP予約番号の発行", "MNP reservation number"),
    },
    "attempt_outcome": {
        "succeeded": ("成功", "Succeeded"),
        "failed": ("失敗", "Failed"),
        "unknown": ("結果不明", "Outcome unknown"),
    },
    "review_status": {
        "open": ("未対応", "Open"),
        "resolved": ("解消済", "Resolved"),
    },
    # the last part of a review item's kind ("carrier.suspend.unknown" -> キャリア停止: 結果不明)
    "review_outcome": {
        "unknown": ("結果不明", "Outcome unknown"),
        "failed": ("失敗", "Failed"),
        "mismatch": ("不一致", "Mismatch"),
        "line_mismatch": ("回線状態の不一致", "Line status mismatch"),
        "missing": ("記録なし", "No record"),
        "duplicate": ("重複", "Duplicate"),
        # KYC results (本人確認結果)
        "approved": ("承認（確定待ち）", "Approved (awaiting confirmation)"),
        "rejected": ("否認（確定待ち）", "Rejected (awaiting confirmation)"),
        # daily report differences (日次突合)
        "state_mismatch": ("状態の不一致", "Status mismatch"),
        "amount_mismatch": ("金額の不一致", "Amount mismatch"),
        "missing_in_ledger": ("台帳に記録なし", "Not in the ledger"),
        "missing_at_carrier": ("キャリアに記録なし", "Not at the carrier"),
        "missing_in_report": ("レポートに記録なし", "Not in the report"),
        "missing_in_statement": ("明細に記録なし", "Not in the statement"),
        "missing_ref": ("取引ID不明", "Transaction ID unknown"),
        "unallocated": ("未消込", "Unallocated"),
        "invalid": ("読み取り不可", "Unreadable"),
        "stock_mismatch": ("在庫状態の不一致", "Stock status mismatch"),
        "throttle_mismatch": ("速度制限の不一致", "Throttling mismatch"),
    },
    # the daily comparisons' report sources (workflow.daily_reconciliation.ReportSource)
    "report_source": {
        "carrier_lines": ("キャリア回線レポート", "Carrier line report"),
        "payment_settlement": ("決済精算レポート", "Payment settlement report"),
        "bank_statement": ("銀行入出金明細", "Bank statement"),
    },
    "run_status": {
        "queued": ("待機中", "Queued"),
        "running": ("実行中", "Running"),
        "completed": ("完了", "Completed"),
        "failed": ("失敗", "Failed"),
    },
    "shipment_status": {
        "requested": ("出荷依頼中", "Shipment requested"),
        "accepted": ("出荷受付済", "Accepted for shipping"),
        "picked_up": ("集荷済", "Picked up"),
        "in_transit": ("配送中", "In transit"),
        "delivered": ("配達完了", "Delivered"),
        "return_requested": ("返品依頼中", "Return requested"),
        "return_in_transit": ("返送中", "Return in transit"),
        "returned": ("返品受領", "Return received"),
        "failed": ("出荷不可", "Could not be shipped"),
    },
    "customer_ticket_status": {  # a ticket's state as the customer app names it (services.read.customer.tickets)
        "open": ("受付済み", "Received"),
        "in_progress": ("対応中", "In progress"),
        "waiting_customer": ("ご返信待ち", "Awaiting your reply"),
        "resolved": ("解決済み", "Resolved"),
        "closed": ("終了", "Closed"),
    },
    "ticket_author": {  # who wrote a ticket message, as the customer app shows it
        "staff": ("サポート担当", "Support"),
        "customer": ("お客様", "Customer"),
    },
    "attachment_type": {  # what may be attached to a ticket message (services.ledger.ticket_files)
        "pdf": ("PDF", "PDF"),
        "png": ("PNG画像", "PNG image"),
        "jpeg": ("JPEG画像", "JPEG image"),
        "heic": ("HEIC画像（iPhoneの写真）", "HEIC image (iPhone photo)"),
        "text": ("テキスト", "Plain text"),
    },
    "ticket_priority": {
        "low": ("低", "Low"),
        "normal": ("通常", "Normal"),
        "high": ("高", "High"),
    },
    "notification_channel": {
        "mail": ("メール", "Email"),
        "line": ("LINE", "LINE"),
        "in_app": ("アプリ内", "In-app"),
    },
    # the optional notices a customer may switch off per channel (services.models.self_service.NOTICE_TOPICS)
    "notice_topic": {
        "usage": ("データ通信量（80%・100%）", "Data use (80% and 100%)"),
        "maintenance": ("障害・メンテナンス", "Outages and maintenance"),
        "request": ("お申し込みの結果", "Request outcomes"),
        "shipment": ("SIM・端末の配送状況", "SIM and device delivery"),
    },
    # a notice's next action, the label of its button in the customer app (services.read.customer.notices)
    "notice_action": {
        "view_bill": ("請求を見る", "View the bill"),
        "add_data": ("データを追加", "Add data"),
        "check_usage": ("利用量を見る", "Check data use"),
        "check_lines": ("回線の状況を見る", "Check your lines"),
        "track": ("配送状況を見る", "Track the delivery"),
        "open": ("開く", "Open"),
    },
    "notification_delivery": {
        "sent": ("送信済", "Sent"),
        "waiting": ("送信待ち", "Waiting to be sent"),
        "failed": ("送信失敗", "Sending failed"),
        "unknown": ("要確認", "Needs review"),
    },
    # what a customer asks for about a line in the customer app (services.ledger.customer_requests)
    "request_kind": {
        "suspend": ("利用停止", "Suspension"),
        "resume": ("利用再開", "Resumption"),
        "terminate": ("解約", "Termination"),
        "mnp": ("MNP予約番号の発行", "MNP reservation number"),
        "sim_reissue": ("SIM再発行", "SIM re-issue"),
    },
    "request_reason": {
        "lost": ("紛失", "Lost"),
        "stolen": ("盗難", "Stolen"),
        "found": ("見つかった", "Found again"),
        "not_needed": ("使わなくなった", "No longer needed"),
        "damaged": ("故障・破損", "Damaged"),
        "other": ("その他", "Other"),
    },
    # a request's timeline in the customer app (services.read.customer.requests): its steps and where it stands
    "request_step": {
        "requested": ("お申し込み", "Requested"),
        "approval": ("承認", "Approval"),
        "approved": ("承認", "Approved"),
        "rejected": ("却下", "Rejected"),
        "expired": ("期限切れ", "Expired"),
        "execution": ("手続き", "Carrying out"),
        "pending": ("承認待ち", "Awaiting approval"),
        "in_progress": ("手続き中", "In progress"),
        "handling": ("対応", "Handling"),
        "issue": ("発行", "Issue"),
        "issued": ("発行", "Issued"),
        "done": ("完了", "Done"),
        "failed": ("失敗", "Failed"),
    },
    "mnp_status": {  # services.models.self_service.MNP_STATUSES
        "requested": ("発行手続き中", "Being issued"),
        "issued": ("発行済", "Issued"),
        "used": ("転出済", "Ported out"),
        "expired": ("期限切れ", "Expired"),
        "cancelled": ("取消", "Cancelled"),
        "failed": ("発行できませんでした", "Not issued"),
    },
    "incident_kind": {
        "outage": ("障害", "Outage"),
        "maintenance": ("メンテナンス", "Maintenance"),
    },
    "incident_status": {
        "investigating": ("調査中", "Investigating"),
        "identified": ("原因特定", "Cause identified"),
        "resolved": ("復旧", "Restored"),
        "scheduled": ("予定", "Scheduled"),
        "in_progress": ("作業中", "In progress"),
        "completed": ("完了", "Completed"),
    },
    # Lifecycles (platform.lifecycle): "state.<lifecycle>" and "event.<lifecycle>".
    "state.contract": {
        "draft": ("下書き", "Draft"),
        "applied": ("申込済", "Applied"),
        "active": ("契約中", "Active"),
        "cancellation_requested": ("解約申請中", "Cancellation requested"),
        "terminated": ("解約済", "Terminated"),
    },
    "event.contract": {
        "apply": ("申込", "Apply"),
        "activate": ("契約開始", "Start contract"),
        "request_cancellation": ("解約申請", "Request cancellation"),
        "withdraw_cancellation": ("解約申請の取り下げ", "Withdraw cancellation"),
        "terminate": ("解約", "Terminate"),
        "discard": ("破棄", "Discard"),
    },
    "state.line": {
        "applying": ("申請中", "Applying"),
        "activating": ("開通処理中", "Activating"),
        "active": ("利用中", "Active"),
        "suspending": ("停止処理中", "Suspending"),
        "suspended": ("停止中", "Suspended"),
        "resuming": ("再開処理中", "Resuming"),
        "terminated": ("解約済", "Terminated"),
        "pending": ("保留", "Pending"),
        "needs_review": ("要確認", "Needs review"),
    },
    "event.line": {
        "activate": ("開通", "Activate"),
        "suspend": ("停止", "Suspend"),
        "resume": ("再開", "Resume"),
        "terminate": ("解約", "Terminate"),
        "hold": ("保留", "Put on hold"),
        "flag_for_review": ("要確認にする", "Flag for review"),
        "confirm_active": ("利用中として確定", "Confirm as active"),
        "confirm_suspended": ("停止中として確定", "Confirm as suspended"),
        "confirm_terminated": ("解約済として確定", "Confirm as terminated"),
        "carrier_confirmed": ("キャリア完了", "Confirmed by carrier"),
        "carrier_rejected": ("キャリア拒否", "Rejected by carrier"),
        "outcome_unknown": ("結果不明（要確認）", "Outcome unknown (needs review)"),
    },
    "state.sim": {
        "in_stock": ("在庫", "In stock"),
        "assigned": ("割当済", "Assigned"),
        "active": ("利用中", "Active"),
        "returned": ("返却済", "Returned"),
        "faulty": ("故障", "Faulty"),
        "lost": ("紛失", "Lost"),
    },
    "event.sim": {
        "assign": ("割当", "Assign"),
        "unassign": ("割当解除", "Unassign"),
        "activate": ("利用開始", "Activate"),
        "return": ("返却", "Return"),
        "restock": ("在庫戻し", "Restock"),
        "report_faulty": ("故障登録", "Report faulty"),
        "report_lost": ("紛失登録", "Report lost"),
    },
    "state.device": {
        "in_stock": ("在庫", "In stock"),
        "assigned": ("割当済", "Assigned"),
        "shipped": ("出荷済", "Shipped"),
        "returned": ("返却済", "Returned"),
        "faulty": ("故障", "Faulty"),
    },
    "event.device": {
        "assign": ("割当", "Assign"),
        "unassign": ("割当解除", "Unassign"),
        "ship": ("出荷", "Ship"),
        "return": ("返却", "Return"),
        "restock": ("在庫戻し", "Restock"),
        "report_faulty": ("故障登録", "Report faulty"),
    },
    "state.invoice": {
        "draft": ("下書き", "Draft"),
        "issued": ("発行済", "Issued"),
        "void": ("無効", "Void"),
    },
    "event.invoice": {
        "issue": ("発行", "Issue"),
        "void": ("無効化", "Void"),
    },
    "state.payment": {
        "received": ("受領", "Received"),
        "matched": ("消込済", "Allocated"),
        "unmatched": ("未消込", "Unallocated"),
        "refunded": ("返金済", "Refunded"),
    },
    "event.payment": {
        "match": ("消込", "Allocate"),
        "mark_unmatched": ("未消込にする", "Mark as unallocated"),
        "refund": ("返金", "Refund"),
    },
    "state.ticket": {
        "open": ("未対応", "Open"),
        "in_progress": ("対応中", "In progress"),
        "waiting_customer": ("お客様回答待ち", "Waiting for customer"),
        "resolved": ("解決済", "Resolved"),
        "closed": ("クローズ", "Closed"),
    },
    "event.ticket": {
        "start": ("対応開始", "Start handling"),
        "wait_for_customer": ("お客様回答待ちにする", "Wait for customer"),
        "customer_replied": ("お客様回答あり", "Customer replied"),
        "resolve": ("解決", "Resolve"),
        "reopen": ("再オープン", "Reopen"),
        "close": ("クローズ", "Close"),
    },
    "state.approval": {
        "pending": ("承認待ち", "Awaiting approval"),
        "approved": ("承認済", "Approved"),
        "executed": ("実行済", "Executed"),
        "rejected": ("却下", "Rejected"),
        "expired": ("期限切れ", "Expired"),
        "failed": ("実行失敗", "Execution failed"),
    },
    "event.approval": {
        "approve": ("承認", "Approve"),
        "execute": ("実行", "Execute"),
        "fail": ("実行失敗", "Execution failed"),
        "reject": ("却下", "Reject"),
        "expire": ("期限切れ", "Expire"),
    },
    "state.external_operation": {
        "pending": ("保留", "Pending"),
        "in_flight": ("処理中", "In progress"),
        "succeeded": ("成功", "Succeeded"),
        "failed": ("失敗", "Failed"),
        "unknown": ("要確認", "Needs review"),
    },
    "event.external_operation": {
        "dispatch": ("送信", "Send"),
        "succeed": ("成功", "Succeed"),
        "fail": ("失敗", "Fail"),
        "lose_track": ("結果不明", "Outcome unknown"),
        "retry": ("再試行", "Retry"),
    },
    "state.import_batch": {
        "uploaded": ("アップロード済", "Uploaded"),
        "validated": ("検証済", "Validated"),
        "applied": ("反映済", "Applied"),
        "rolled_back": ("取り消し済", "Rolled back"),
        "discarded": ("破棄", "Discarded"),
    },
    "event.import_batch": {
        "validate": ("検証", "Validate"),
        "apply": ("反映", "Apply"),
        "roll_back": ("取り消し", "Roll back"),
        "discard": ("破棄", "Discard"),
    },
    "state.billing_run": {
        "queued": ("開始待ち", "Queued"),
        "running": ("下書き作成中", "Drafting"),
        "drafted": ("下書き確認待ち", "Drafts to review"),
        "reviewed": ("確認済（発行待ち）", "Reviewed, ready to issue"),
        "issuing": ("発行中", "Issuing"),
        "issued": ("発行済", "Issued"),
        "failed": ("中断", "Stopped"),
    },
    "event.billing_run": {
        "start": ("下書き作成の開始", "Start drafting"),
        "finish_drafts": ("下書きの完了", "Drafts done"),
        "fail": ("中断", "Stop"),
        "resume": ("再開", "Resume"),
        "review": ("確認済にする", "Mark reviewed"),
        "reopen": ("確認のやり直し", "Reopen review"),
        "start_issue": ("発行", "Issue"),
        "finish_issue": ("発行の完了", "Issue done"),
    },
    "state.debit_batch": {
        "created": ("作成済", "Created"),
        "submitted": ("銀行へ送信済", "Sent to the bank"),
        "result_imported": ("結果取込済", "Result imported"),
        "cancelled": ("取消", "Cancelled"),
    },
    "debit_sending": {  # a file whose sending is under way (services.billing.direct_debit.batches)
        "under_way": ("銀行へ送信中", "Sending to the bank"),
        "unknown": ("銀行へ送信中（要確認）", "Sending to the bank (needs review)"),
    },
    "event.debit_batch": {
        "submit": ("銀行へ送信", "Send to the bank"),
        "import_result": ("結果の取込", "Import the result"),
        "cancel": ("取消", "Cancel"),
    },
    "state.dunning": {
        "open": ("督促中", "Reminding"),
        "suspended": ("利用停止中", "Suspended for non-payment"),
        "paid": ("入金済", "Paid"),
        "closed": ("終了", "Closed"),
    },
    "event.dunning": {
        "suspend": ("利用停止", "Suspend"),
        "pay": ("入金", "Pay"),
        "close": ("終了", "Close"),
    },
    "invoice_kind": {
        "invoice": ("請求書", "Invoice"),
        "credit_note": ("適格返還請求書", "Credit note"),
    },
    "item_kind": {
        "plan": ("基本料", "Plan"),
        "option": ("オプション", "Option"),
        "charge": ("一時金", "One-off charge"),
        "levy": ("ユニバーサルサービス料等", "Levy"),
        "instalment": ("分割払い", "Instalment"),
        "discount": ("値引き", "Discount"),
        "adjustment": ("調整", "Adjustment"),
    },
    # 振替結果コード 0, 1, 2, 3, 4, 8, 9 (services.billing.direct_debit.RESULT_KEYS)
    # a customer paying a bill by card on the gateway's page (services.billing.card_checkout; CHECKOUT_STATUSES)
    "checkout_status": {
        "open": ("お支払い待ち", "Waiting for payment"),
        "paid": ("お支払い済み", "Paid"),
        "expired": ("期限切れ", "Expired"),
        "cancelled": ("取消", "Cancelled"),
    },
    # registering a card on the gateway's page (services.billing.card_on_file)
    "card_setup_status": {
        "open": ("登録待ち", "Waiting for the card"),
        "completed": ("登録済み", "Registered"),
        "expired": ("期限切れ", "Expired"),
        "cancelled": ("取消", "Cancelled"),
    },
    "card_status": {
        "active": ("有効", "Active"),
        "replaced": ("変更済み", "Replaced"),
        "removed": ("解除", "Removed"),
    },
    # how a company pays its bills, as the customer's お支払い方法 page says it (services.read.customer.payments)
    "billing_method": {
        "direct_debit": ("口座振替", "Direct debit"),
        "card_on_file": ("登録カードで自動払い", "Automatic payment by the registered card"),
        "per_bill": ("請求書ごとのお支払い", "Paying each bill"),
    },
    "card_brand": {
        "visa": ("VISA", "VISA"),
        "mastercard": ("Mastercard", "Mastercard"),
        "amex": ("American Express", "American Express"),
        "jcb": ("JCB", "JCB"),
        "other": ("カード", "Card"),
    },
    # why a bill's payment is late, as the customer's bill page says it (services.read.customer.payments)
    "payment_problem": {
        "unpaid": ("お支払期限を過ぎています", "The payment is overdue"),
        "debit_failed": ("口座振替ができませんでした（振替不能）", "The direct debit failed"),
        "card_failed": ("カードでのお支払いができませんでした（カード決済失敗）", "The card payment failed"),
    },
    "debit_result": {
        "transferred": ("振替済", "Collected"),
        "insufficient_funds": ("資金不足", "Insufficient funds"),
        "no_account": ("取引なし", "No such account"),
        "stopped_by_payer": ("預金者の都合による振替停止", "Stopped by the account holder"),
        "no_authority": ("預金口座振替依頼書なし", "No direct debit authority"),
        "stopped_by_collector": ("委託者の都合による振替停止", "Stopped by the collector"),
        "other": ("その他", "Other"),
    },
    "anomaly_kind": {
        "change": ("前月から大きく変化", "Large change from last month"),
        "zero": ("0円の請求", "Zero bill"),
        "nothing_to_bill": ("明細なし", "Nothing to bill"),
        "negative": ("値引き超過", "Discounts exceed charges"),
    },
}


def _index(lang: str) -> int:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r} (one of {', '.join(LANGUAGES)})")
    return LANGUAGES.index(lang)


def label(group: str, key: str, lang: str = "ja", *, default: str | None = None) -> str:
    """The label of `key` in `group` ("suspended" in "state.line" -> 停止中); an unknown key gives
    `default`, or the key itself. An unknown group is a KeyError."""
    entry = CATALOGUE[group].get(key)
    if entry is None:
        return key if default is None else default
    return entry[_index(lang)]


def labels(group: str, lang: str = "ja") -> dict[str, str]:
    """The whole of `group` in one language, key -> label (a new dict, e.g. for a list of choices)."""
    i = _index(lang)
    return {key: entry[i] for key, entry in CATALOGUE[group].items()}


def state_label(lifecycle: str, state: str, lang: str = "ja") -> str:
    """The on-screen name of a lifecycle's state ("停止中")."""
    return label(f"state.{lifecycle}", state, lang)


def event_label(lifecycle: str, event: str, lang: str = "ja") -> str:
    """The on-screen name of a lifecycle's event ("停止")."""
    return label(f"event.{lifecycle}", event, lang)


# Views in Japanese derived from the catalogue, for the callers that index them by lifecycle.
LIFECYCLE_NAMES = tuple(group.removeprefix("state.") for group in CATALOGUE if group.startswith("state."))
LABELS_JA: dict[str, str] = {name: label("record", name) for name in LIFECYCLE_NAMES}
STATE_LABELS_JA: dict[str, dict[str, str]] = {name: labels(f"state.{name}") for name in LIFECYCLE_NAMES}
EVENT_LABELS_JA: dict[str, dict[str, str]] = {name: labels(f"event.{name}") for name in LIFECYCLE_NAMES}
