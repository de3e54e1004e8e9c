"""The app: routes for sign-in, the staff back office and the customer app (/my), mounted with the API routes."""

import reflex as rx

import services.registry  # noqa: F401  (providers, handlers, policies and report sources)
from services.platform import installation_secrets
from services.security.masking import install_log_filter
from state.admin.approvals import ApprovalQueueState
from state.admin.audit import AuditState
from state.admin.billing import BillingRunsState, BillingRunState
from state.admin.catalogue import CatalogueState
from state.admin.contracts import ContractPlanState, ContractState
from state.admin.customers import CustomerAccessState, CustomerListState, CustomerMandateState, CustomerState
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
from state.admin.tickets import TicketQueueState, TicketState
from state.auth.login import LoginState
from state.my.bills import MyBillsState, MyBillState
from state.my.contract import MyContractsState, MyContractState
from state.my.home import MyHomeState
from state.my.line import MyLineState
from state.my.login import MyLoginState, MyPasswordResetState
from state.my.notices import MyNoticesState
from state.my.payment import MyPaymentMethodState
from state.my.security import MySecurityState
from state.my.shell import MyShellState
from state.my.shipments import MyShipmentState
from state.my.tickets import MyTicketsState, MyTicketState
from state.my.users import MyUsersState
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
from telecom_app.pages.my import bills as my_bills
from telecom_app.pages.my import contract as my_contract
from telecom_app.pages.my import home as my_home
from telecom_app.pages.my import line as my_line
from telecom_app.pages.my import login as my_login
from telecom_app.pages.my import notices as my_notices
from telecom_app.pages.my import payment as my_payment
from telecom_app.pages.my import security as my_security
from telecom_app.pages.my import shipments as my_shipments
from telecom_app.pages.my import tickets as my_tickets
from telecom_app.pages.my import users as my_users

installation_secrets.exit_if_unsafe()  # no start with a missing or well-known secret
install_log_filter()  # no unmasked PII, token or password in any log record of the web process
install_access_log()
app = rx.App(api_transformer=[build_api(), HttpPolicy],  # our routes first; headers, limits and the log around all
             head_components=[rx.el.link(rel="manifest", href=routes.MANIFEST),
                              rx.el.meta(name="theme-color", content="#0b5cad")])
app.add_middleware(SessionScopeMiddleware())  # a tab's state is only ever sent under the session that loaded it

app.add_page(login.login_page, route=routes.LOGIN, title="ログイン | 通信サービス管理", on_load=LoginState.reset_form)
app.add_page(login.login_page, route="/", title="通信サービス管理", on_load=LoginState.reset_form)

_STAFF_PAGES = [
    (dashboard.dashboard_page, routes.ADMIN_HOME, "ホーム", DashboardState.load),
    (search.search_page, routes.ADMIN_SEARCH, "検索", SearchState.load_results),
    (customers.customers_page, routes.ADMIN_CUSTOMERS, "顧客", CustomerListState.load),
    (customers.new_customer_page, routes.ADMIN_NEW_CUSTOMER, "顧客登録", None),
    (customers.customer_page, routes.ADMIN_CUSTOMER, "顧客",
     [CustomerState.load, CustomerMandateState.load, CustomerAccessState.load]),
    (lines.lines_page, routes.ADMIN_LINES, "回線", LineListState.load),
    (lines.line_page, routes.ADMIN_LINE, "回線", LineState.load),
    (contracts.contract_page, routes.ADMIN_CONTRACT, "契約", [ContractState.load, ContractPlanState.load]),
    (invoices.invoice_page, routes.ADMIN_INVOICE, "請求書", InvoiceState.load),
    (tickets.ticket_queue_page, routes.ADMIN_TICKETS, "問い合わせ一覧", TicketQueueState.load),
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

# The customer app (/my): its own sign-in, its own session cookie, its own shell.
app.add_page(my_login.my_login_page, route=routes.MY_LOGIN, title="ログイン | マイページ",
             on_load=MyLoginState.reset_form)
app.add_page(my_login.my_invite_page, route=routes.MY_INVITE, title="招待 | マイページ",
             on_load=MyLoginState.load_invitation)
app.add_page(my_login.my_forgot_page, route=routes.MY_FORGOT, title="パスワードの再設定 | マイページ",
             on_load=MyPasswordResetState.load_forgot)
app.add_page(my_login.my_reset_page, route=routes.MY_RESET, title="パスワードの再設定 | マイページ",
             on_load=MyPasswordResetState.load_reset)
_CUSTOMER_PAGES = [
    (my_home.my_home_page, routes.MY_HOME, "ホーム", MyHomeState.load),
    (my_bills.my_bills_page, routes.MY_BILLS, "請求", MyBillsState.load),
    (my_bills.my_bill_page, routes.MY_BILL, "請求", MyBillState.load),
    (my_contract.my_contracts_page, routes.MY_CONTRACTS, "契約内容", MyContractsState.load),
    (my_contract.my_contract_page, routes.MY_CONTRACT, "契約内容", MyContractState.load),
    (my_notices.my_notices_page, routes.MY_NOTIFICATIONS, "お知らせ", MyNoticesState.load),
    (my_security.my_security_page, routes.MY_SECURITY, "設定", MySecurityState.load),
    (my_payment.my_payment_page, routes.MY_PAYMENT, "お支払い方法", MyPaymentMethodState.load),
    (my_users.my_users_page, routes.MY_USERS, "利用者の管理", MyUsersState.load),
    (my_shipments.my_shipment_page, routes.MY_SHIPMENT, "配送状況", MyShipmentState.load),
    (my_line.my_line_page, routes.MY_LINE, "回線の手続き", MyLineState.load),
    (my_tickets.my_tickets_page, routes.MY_TICKETS, "問い合わせ", MyTicketsState.load),
    (my_tickets.my_ticket_page, routes.MY_TICKET, "問い合わせ", MyTicketState.load),
]
for component, route, title, loader in _CUSTOMER_PAGES:
    app.add_page(component, route=route, title=f"{title} | マイページ", on_load=[MyShellState.load, loader])
