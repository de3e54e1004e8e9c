"""The app: routes for sign-in and the staff back office, mounted with the API routes."""

import reflex as rx

import services.registry  # noqa: F401  (providers, handlers, policies and report sources)
from services.platform import installation_secrets
from services.security.masking import install_log_filter
from state.admin.approvals import ApprovalQueueState
from state.admin.audit import AuditState
from state.admin.billing import BillingRunsState, BillingRunState
from state.admin.catalogue import CatalogueState
from state.admin.contracts import ContractPlanState, ContractState
from state.admin.customers import CustomerListState, CustomerMandateState, CustomerState
from state.admin.dashboard import DashboardState
from state.admin.direct_debit import DirectDebitState
from state.admin.dunning import DunningState
from state.admin.invoices import InvoiceState
from state.admin.lines import LineListState, LineState
from state.admin.payments import AgingState, PaymentsState
from state.admin.review import ReviewQueueState
from state.admin.search import SearchState
from state.admin.shell import UiState
from state.admin.staff import StaffState
from state.admin.tickets import TicketState
from state.auth.login import LoginState
from state.session_scope import SessionScopeMiddleware
from telecom_app import routes
from telecom_app.api import build_api
from telecom_app.http_policy import HttpPolicy, install_access_log
from telecom_app.pages.admin import (
    approvals,
    audit,
    billing,
    catalogue,
    contracts,
    customers,
    dashboard,
    direct_debit,
    dunning,
    invoices,
    lines,
    payments,
    review,
    search,
    staff,
    tickets,
)
from telecom_app.pages.auth import login

installation_secrets.exit_if_unsafe()  # no start with a missing or well-known secret
install_log_filter()  # no unmasked PII, token or password in any log record of the web process
install_access_log()
app = rx.App(api_transformer=[build_api(), HttpPolicy])  # our routes first; headers, limits and the log around all
app.add_middleware(SessionScopeMiddleware())  # a tab's state is only ever sent under the session that loaded it

app.add_page(login.login_page, route=routes.LOGIN, title="ログイン | 通信サービス管理", on_load=LoginState.reset_form)
app.add_page(login.login_page, route="/", title="通信サービス管理", on_load=LoginState.reset_form)

_STAFF_PAGES = [
    (dashboard.dashboard_page, routes.ADMIN_HOME, "ホーム", DashboardState.load),
    (search.search_page, routes.ADMIN_SEARCH, "検索", SearchState.load_results),
    (customers.customers_page, routes.ADMIN_CUSTOMERS, "顧客", CustomerListState.load),
    (customers.new_customer_page, routes.ADMIN_NEW_CUSTOMER, "顧客登録", None),
    (customers.customer_page, routes.ADMIN_CUSTOMER, "顧客", [CustomerState.load, CustomerMandateState.load]),
    (lines.lines_page, routes.ADMIN_LINES, "回線", LineListState.load),
    (lines.line_page, routes.ADMIN_LINE, "回線", LineState.load),
    (contracts.contract_page, routes.ADMIN_CONTRACT, "契約", [ContractState.load, ContractPlanState.load]),
    (invoices.invoice_page, routes.ADMIN_INVOICE, "請求書", InvoiceState.load),
    (tickets.ticket_page, routes.ADMIN_TICKET, "問い合わせ", TicketState.load),
    (approvals.approvals_page, routes.ADMIN_APPROVALS, "承認", ApprovalQueueState.load),
    (review.review_page, routes.ADMIN_REVIEW, "要確認", ReviewQueueState.load),
    (audit.audit_page, routes.ADMIN_AUDIT, "監査ログ", AuditState.load),
    (staff.staff_page, routes.ADMIN_STAFF, "担当者管理", StaffState.load),
    (catalogue.catalogue_page, routes.ADMIN_CATALOGUE, "料金表", CatalogueState.load),
    (billing.billing_runs_page, routes.ADMIN_BILLING, "請求締め", BillingRunsState.load),
    (billing.billing_run_page, routes.ADMIN_BILLING_RUN, "請求締め", BillingRunState.load),
    (payments.payments_page, routes.ADMIN_PAYMENTS, "入金・消込", PaymentsState.load),
    (payments.aging_page, routes.ADMIN_RECEIVABLES, "売掛金", AgingState.load),
    (direct_debit.direct_debit_page, routes.ADMIN_DIRECT_DEBIT, "口座振替", DirectDebitState.load),
    (dunning.dunning_page, routes.ADMIN_DUNNING, "督促", DunningState.load),
]
for component, route, title, loader in _STAFF_PAGES:
    app.add_page(component, route=route, title=f"{title} | 通信サービス管理",
                 on_load=[UiState.load_user] + (loader if isinstance(loader, list) else [loader] if loader else []))
