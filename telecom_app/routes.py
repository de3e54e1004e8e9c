"""Every address the browser knows, in one place: the staff tree (/admin), the customer tree (/my),
sign-in, the API routes, and the cookies they share.

Pages link with these builders and state redirects with them; services never build a URL (they return
a record's kind and id, and the screen decides where it opens). A builder takes an int, a str or a
Reflex Var: inside an f-string a Var becomes its value in the browser. This module imports nothing of
the app, so every UI layer may use it.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

# --------------------------------------------------------------------------- sign-in and the API
LOGIN = "/login"
LOGIN_EXPIRED = "/login?expired=1"
LOGIN_SSO_FAILED = "/login?sso_failed=1"
AFTER_SIGN_IN = "/admin/"
API_COMPLETE_SIGN_IN = "/api/auth/complete"  # ?ticket=: the one-time ticket becomes the session cookie
API_SIGN_OUT = "/api/auth/signout"
API_OIDC = "/api/auth/oidc"  # the path of the single sign-on flow cookie
API_OIDC_LOGIN = "/api/auth/oidc/login"
API_OIDC_CALLBACK = "/api/auth/oidc/callback"
API_WEBHOOK = "/api/webhooks/{provider}"
API_INVOICE_PDF = "/api/invoices/{invoice_id}/pdf"
API_DEBIT_FILE = "/api/debits/{batch_id}/file"
API_AGING_CSV = "/api/receivables/aging.csv"
API_TICKET_MESSAGES = "/api/tickets/{ticket_id}/messages"  # POST multipart: a staff reply or 社内メモ with files
API_ATTACHMENT = "/api/attachments/{attachment_id}"  # a ticket's attached file, for staff

API_MY_COMPLETE_SIGN_IN = "/api/my/auth/complete"  # ?ticket=&next=: a customer's ticket becomes their cookie
API_MY_SIGN_OUT = "/api/my/auth/signout"
API_MY_INVOICE_PDF = "/api/my/invoices/{invoice_id}/pdf"
API_MY_TICKETS = "/api/my/tickets"  # POST multipart: a customer's new ticket with its files
API_MY_TICKET_MESSAGES = "/api/my/tickets/{ticket_id}/messages"  # POST multipart: a customer's reply with files
API_MY_ATTACHMENT = "/api/my/attachments/{attachment_id}"  # a ticket's attached file, for its customer
MANIFEST = "/manifest.webmanifest"  # the customer app as a home-screen web app
GO = "/go/{kind}/{key}"  # a notice's link: opens the record's page for whoever follows it

# --------------------------------------------------------------------------- cookies
SESSION_COOKIE = "tsm_session"  # the staff session token (HttpOnly, SameSite=Strict)
MY_SESSION_COOKIE = "tsm_my_session"  # a customer's session token (HttpOnly, SameSite=Lax: links from mail)
SSO_CHALLENGE_COOKIE = "tsm_sso_challenge"  # an SSO sign-in waiting for its second factor
OIDC_FLOW_COOKIE = "tsm_oidc_flow"  # state, nonce and PKCE verifier of one single sign-on round trip

# --------------------------------------------------------------------------- the staff tree
ADMIN_HOME = "/admin"
ADMIN_SEARCH = "/admin/search"
ADMIN_CUSTOMERS = "/admin/customers"
ADMIN_NEW_CUSTOMER = "/admin/customers/new"
ADMIN_CUSTOMER = "/admin/customers/[customer_id]"
ADMIN_LINES = "/admin/lines"
ADMIN_LINE = "/admin/lines/[line_id]"
ADMIN_CONTRACT = "/admin/contracts/[contract_id]"
ADMIN_INVOICE = "/admin/invoices/[invoice_id]"
ADMIN_TICKETS = "/admin/tickets"
ADMIN_TICKET = "/admin/tickets/[ticket_id]"
ADMIN_APPROVALS = "/admin/approvals"
ADMIN_REVIEW = "/admin/review"
ADMIN_AUDIT = "/admin/audit"
ADMIN_STAFF = "/admin/staff"
ADMIN_CATALOGUE = "/admin/catalogue"
ADMIN_BILLING = "/admin/billing"
ADMIN_BILLING_RUN = "/admin/billing/[run_id]"
ADMIN_PAYMENTS = "/admin/payments"
ADMIN_RECEIVABLES = "/admin/receivables"
ADMIN_DIRECT_DEBIT = "/admin/direct-debit"
ADMIN_DUNNING = "/admin/dunning"

# --------------------------------------------------------------------------- the customer tree
MY_HOME = "/my"
MY_LOGIN = "/my/login"
MY_FORGOT = "/my/forgot"
MY_RESET = "/my/reset/[token]"
MY_INVITE = "/my/invite/[token]"
MY_BILLS = "/my/bills"
MY_BILL = "/my/bills/[invoice_id]"
MY_NOTIFICATIONS = "/my/notifications"
MY_SECURITY = "/my/security"
MY_USERS = "/my/users"
MY_TICKETS = "/my/tickets"
MY_TICKET = "/my/tickets/[ticket_id]"
MY_CONTRACTS = "/my/contracts"
MY_CONTRACT = "/my/contracts/[contract_id]"
MY_SHIPMENT = "/my/shipments/[shipment_id]"  # a SIM or device on its way: the tracking timeline
MY_LINE = "/my/lines/[line_id]"  # one line: its requests (停止・再開・解約・MNP・SIM再発行) and their timelines
MY_PAYMENT = "/my/payment"  # お支払い方法: 口座振替 or paying each bill (card, transfer); applying for 口座振替
FOCUS_REQUEST = "request"  # ?request=<key> on a line page: the request a notice is about, shown first
REQUEST_KEY = re.compile(r"(approval|mnp|ticket)-[0-9]{1,12}")


def my_payment_after_card(outcome: str) -> str:
    """Where the gateway's card registration page sends the customer back to: お支払い方法, saying whether they
    registered a card ("done") or went back without one ("back")."""
    return f"{MY_PAYMENT}?{urlencode({'card': outcome})}"


def complete_sign_in(ticket: str) -> str:
    """The full page load that exchanges a one-time sign-in ticket for the session cookie."""
    return f"{API_COMPLETE_SIGN_IN}?{urlencode({'ticket': ticket})}"


def my_login(next_path: str = "") -> str:
    """The customer sign-in page; after signing in the person lands on `next_path` (a /my page)."""
    return f"{MY_LOGIN}?{urlencode({'next': next_path})}" if next_path else MY_LOGIN


def my_complete_sign_in(ticket: str, next_path: str = "") -> str:
    """The full page load that exchanges a customer's one-time ticket for their session cookie."""
    query = {"ticket": ticket} | ({"next": next_path} if next_path else {})
    return f"{API_MY_COMPLETE_SIGN_IN}?{urlencode(query)}"


def my_bill(invoice_id: Any) -> str:
    """One bill in the customer app."""
    return f"{MY_BILLS}/{invoice_id}"


def my_bill_after_card(invoice_id: Any, outcome: str) -> str:
    """Where the gateway's card page sends the customer back to: the bill, saying whether they paid ("done") or
    went back without paying ("back")."""
    return f"{MY_BILLS}/{invoice_id}?{urlencode({'card': outcome})}"


def my_invoice_pdf(invoice_id: Any) -> str:
    """The customer's download of their issued bill."""
    return f"/api/my/invoices/{invoice_id}/pdf"


def my_invite(token: Any) -> str:
    """Accepting an invitation to the customer app."""
    return f"/my/invite/{token}"


def my_reset(token: Any) -> str:
    """Choosing a new password from a reset link."""
    return f"/my/reset/{token}"


def my_contract(contract_id: Any) -> str:
    """One contract (契約) in the customer app: plan, options, history and changes."""
    return f"{MY_CONTRACTS}/{contract_id}"


def my_ticket(ticket_id: Any) -> str:
    """One ticket (問い合わせ) in the customer app."""
    return f"{MY_TICKETS}/{ticket_id}"


def my_ticket_messages(ticket_id: Any) -> str:
    """Where the customer app posts a reply (with files) to a ticket."""
    return f"/api/my/tickets/{ticket_id}/messages"


def my_attachment(attachment_id: Any) -> str:
    """The customer's download of a file attached to one of their tickets."""
    return f"/api/my/attachments/{attachment_id}"


def my_shipment(shipment_id: Any) -> str:
    """One shipment's tracking page (配送状況) in the customer app."""
    return f"/my/shipments/{shipment_id}"


def my_line(line_id: Any, request_key: str = "") -> str:
    """One line in the customer app: what may be asked for it, and its requests as timelines (with `request_key`,
    e.g. "approval-12", that request shown first and marked: where a notice about a request opens)."""
    path = f"/my/lines/{line_id}"
    return f"{path}?{urlencode({FOCUS_REQUEST: request_key})}" if request_key else path


MY_RECORDS = {"invoice": my_bill, "invitation": my_invite, "password_reset": my_reset, "ticket": my_ticket,
              "contract": my_contract, "shipment": my_shipment, "line": my_line,
              "payment_method": lambda _card_id: MY_PAYMENT}


def my_record(kind: str, key: Any, request_key: str = "") -> str:
    """Where a customer's notice link (/go/<kind>/<key>) opens in /my; the home page for kinds without a page.
    A line's link may name one of its requests (?request=approval-12): the line page opens on it."""
    build = MY_RECORDS.get(kind)
    if not (build and key):
        return MY_HOME
    focus = request_key if kind == "line" and REQUEST_KEY.fullmatch(request_key or "") else ""
    return my_line(key, focus) if focus else build(key)


def is_my_path(path: str) -> bool:
    """True for a path inside the customer tree (the only places a sign-in may send a customer back to)."""
    inside = path == MY_HOME or path.startswith(MY_HOME + "/")
    return inside and "\\" not in path and not any(part in ("", ".", "..") for part in path.split("/")[1:])


def admin_customer(customer_id: Any) -> str:
    """The customer's 360° screen."""
    return f"{ADMIN_CUSTOMERS}/{customer_id}"


def admin_contract(contract_id: Any) -> str:
    """The contract screen."""
    return f"/admin/contracts/{contract_id}"


def admin_line(line_id: Any) -> str:
    """The line screen (its SIM and device are shown there too)."""
    return f"{ADMIN_LINES}/{line_id}"


def admin_invoice(invoice_id: Any) -> str:
    """The invoice screen."""
    return f"/admin/invoices/{invoice_id}"


def admin_ticket(ticket_id: Any) -> str:
    """The support ticket screen."""
    return f"/admin/tickets/{ticket_id}"


def admin_billing_run(run_id: Any) -> str:
    """One billing run's progress and review."""
    return f"{ADMIN_BILLING}/{run_id}"


def invoice_pdf(invoice_id: Any) -> str:
    """The PDF download of an issued invoice or credit note."""
    return f"/api/invoices/{invoice_id}/pdf"


def ticket_messages(ticket_id: Any) -> str:
    """Where the staff ticket screen posts a message with files."""
    return f"/api/tickets/{ticket_id}/messages"


def attachment(attachment_id: Any) -> str:
    """Staff's download of a file attached to a ticket."""
    return f"/api/attachments/{attachment_id}"


def debit_file(batch_id: Any) -> str:
    """The download of a 口座振替 request file."""
    return f"/api/debits/{batch_id}/file"


def admin_lines_of(customer_id: Any) -> str:
    """All lines of one customer."""
    return f"{ADMIN_LINES}?customer_id={customer_id}"


def admin_lines_in(status: Any) -> str:
    """All lines in one state."""
    return f"{ADMIN_LINES}?status={status}"


def admin_search(query: str) -> str:
    """The search results page for `query`."""
    return f"{ADMIN_SEARCH}?q={quote(query)}"


def admin_audit_up_to(entry_id: Any) -> str:
    """The audit log from entry `entry_id` down (where a broken chain was found)."""
    return f"{ADMIN_AUDIT}?up_to_id={entry_id}"


ADMIN_RECORDS = {
    "customer": admin_customer, "contract": admin_contract, "line": admin_line,
    "invoice": admin_invoice, "ticket": admin_ticket,
}


def admin_record(kind: str, record_id: int | None) -> str:
    """The staff screen of a record named by kind and id ("" when that kind has no screen of its own)."""
    build = ADMIN_RECORDS.get(kind)
    return build(record_id) if build and record_id else ""
