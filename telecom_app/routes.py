"""Every address the browser knows, in one place: the staff tree (/admin), the customer tree (/my),
sign-in, the API routes, and the cookies they share.

Pages link with these builders and state redirects with them; services never build a URL (they return
a record's kind and id, and the screen decides where it opens). A builder takes an int, a str or a
Reflex Var: inside an f-string a Var becomes its value in the browser. This module imports nothing of
the app, so every UI layer may use it.
"""

from __future__ import annotations

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

# --------------------------------------------------------------------------- cookies
SESSION_COOKIE = "tsm_session"  # the staff session token (HttpOnly, SameSite=Strict)
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


def complete_sign_in(ticket: str) -> str:
    """The full page load that exchanges a one-time sign-in ticket for the session cookie."""
    return f"{API_COMPLETE_SIGN_IN}?{urlencode({'ticket': ticket})}"


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
