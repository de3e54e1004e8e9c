"""The app: routes for sign-in and the staff back office, mounted with the API routes."""

import reflex as rx

import services.registry  # noqa: F401  (providers, handlers, policies and report sources)
from services.platform import installation_secrets
from services.security.masking import install_log_filter
from state.approvals import ApprovalQueueState
from state.audit import AuditState
from state.auth import LoginState
from state.base import UiState
from state.records import (
    ContractState,
    CustomerListState,
    CustomerState,
    DashboardState,
    InvoiceState,
    LineListState,
    LineState,
    TicketState,
)
from state.recovery import ReviewQueueState
from state.search import SearchState
from state.session_scope import SessionScopeMiddleware
from state.staff import StaffState
from telecom_app.api import build_api
from telecom_app.http_policy import HttpPolicy, install_access_log
from telecom_app.pages import admin, approvals, audit, auth, recovery, staff

installation_secrets.exit_if_unsafe()  # no start with a missing or well-known secret
install_log_filter()  # no unmasked PII, token or password in any log record of the web process
install_access_log()
app = rx.App(api_transformer=[build_api(), HttpPolicy])  # our routes first; headers, limits and the log around all
app.add_middleware(SessionScopeMiddleware())  # a tab's state is only ever sent under the session that loaded it

app.add_page(auth.login_page, route="/login", title="ログイン | 通信サービス管理", on_load=LoginState.reset_form)
app.add_page(auth.login_page, route="/", title="通信サービス管理", on_load=LoginState.reset_form)

_STAFF_PAGES = [
    (admin.dashboard_page, "/admin", "ホーム", DashboardState.load),
    (admin.search_page, "/admin/search", "検索", SearchState.load_results),
    (admin.customers_page, "/admin/customers", "顧客", CustomerListState.load),
    (admin.new_customer_page, "/admin/customers/new", "顧客登録", None),
    (admin.customer_page, "/admin/customers/[customer_id]", "顧客", CustomerState.load),
    (admin.lines_page, "/admin/lines", "回線", LineListState.load),
    (admin.line_page, "/admin/lines/[line_id]", "回線", LineState.load),
    (admin.contract_page, "/admin/contracts/[contract_id]", "契約", ContractState.load),
    (admin.invoice_page, "/admin/invoices/[invoice_id]", "請求書", InvoiceState.load),
    (admin.ticket_page, "/admin/tickets/[ticket_id]", "問い合わせ", TicketState.load),
    (approvals.approvals_page, "/admin/approvals", "承認", ApprovalQueueState.load),
    (recovery.review_page, "/admin/review", "要確認", ReviewQueueState.load),
    (audit.audit_page, "/admin/audit", "監査ログ", AuditState.load),
    (staff.staff_page, "/admin/staff", "担当者管理", StaffState.load),
]
for component, route, title, loader in _STAFF_PAGES:
    app.add_page(component, route=route, title=f"{title} | 通信サービス管理",
                 on_load=[UiState.load_user] + ([loader] if loader else []))
