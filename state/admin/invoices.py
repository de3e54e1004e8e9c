"""One invoice: issuing, cancelling (赤伝), charging the card, and correcting it (credit note and reissue)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import card_payments, corrections, invoices
from services.billing.invoices import INVOICE
from services.platform.permissions import can
from services.read.staff import views
from services.workflow import approvals
from state.admin.actions import LifecycleActionsMixin
from state.feedback import MessagesMixin, int_param, require_offered
from state.session import STAFF, actor, guarded

CARD_CHARGE_EVENT = "charge_card"


class InvoiceState(LifecycleActionsMixin, rx.State):
    """One invoice with items and allocations; issuing it, cancelling it (赤伝) with approval, and
    charging its outstanding amount to the customer's card (カードで請求)."""

    can_charge_card: bool = False
    can_correct: bool = False

    @rx.event
    @guarded(STAFF)
    def ask_card_charge(self):
        """Open the dialog that says what charging the card will do."""
        require_offered(self.can_charge_card, "InvoiceState.ask_card_charge")
        invoice = self.data["invoice"]
        self.needs_approval, self.pending_changes, self.pending_warnings, self.confirm_word = False, [], [], ""
        self.pending_summary = (
            f"{self._title()}の未収額（請求額 {invoice['total']}、入金済 {invoice['allocated']}）を"
            "お客様のクレジットカードに請求します。決済代行会社への送信は自動で行われ、決済が完了すると"
            "入金として記録されこの請求書に消込されます。カードが利用できなかった場合は何も記録されず、"
            "要確認の一覧に表示されます。")
        self.pending_event, self.pending_label = CARD_CHARGE_EVENT, "カードで請求"

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load the invoice in the URL."""
        self._open(int_param(self.router._page.params.get("invoice_id")))

    def _lifecycle(self) -> str:
        return "invoice"

    def _preview(self, event: str) -> dict | None:
        if event == CARD_CHARGE_EVENT:
            return None
        return invoices.preview_invoice_event(self._record_id(), event, actor=actor())

    def _submit(self, event: str, form: dict) -> approvals.Submitted:
        reason = form.get("reason") or ""
        if event == CARD_CHARGE_EVENT:
            return approvals.Submitted(result=card_payments.charge_invoice(self._record_id(), actor=actor(),
                                                                           reason=reason))
        return invoices.request_invoice_event(self._record_id(), event, actor=actor(), reason=reason,
                                              confirm_word=form.get("confirm_word"),
                                              confirm_repeat=bool(form.get("confirm_repeat")))

    def _title(self) -> str:
        return f"請求書 {self.data['invoice']['invoice_no']}（{self.data['customer']['name']}）"

    def _offered(self) -> set[str]:
        return super()._offered() | ({CARD_CHARGE_EVENT} if self.can_charge_card else set())

    def _refresh(self, invoice_id: int) -> None:
        self.data = views.invoice_detail(invoice_id, actor=actor())
        self.actions = self._allowed_actions(INVOICE, self.data["invoice"]["status"], lambda _ev: "invoice.manage")
        self.can_correct = can(actor(), "invoice.manage")
        self.can_charge_card = can(actor(), "payment.manage") and self.data["invoice"]["payment_state"] in (
            "unpaid", "partially_paid")


class InvoiceCorrectionState(MessagesMixin, rx.State):
    """Correcting an issued invoice: the items as they should have been, previewed, then asked for approval
    (a credit note returning the whole invoice and a reissue with these items are made once approved)."""

    items: list[dict[str, Any]] = []
    open: bool = False
    summary: str = ""
    changes: list[dict[str, str]] = []
    form_key: int = 0

    def _invoice_id(self) -> int:
        return int_param(self.router._page.params.get("invoice_id"))

    @rx.event
    @guarded(STAFF)
    def start(self):
        """Open the correction with the invoice's items to edit."""
        data = views.invoice_detail(self._invoice_id(), actor=actor())
        require_offered(data["invoice"]["correctable"] and can(actor(), "invoice.manage"), "InvoiceCorrectionState.start")
        self.items = [dict(row) for row in corrections.editable_items(self._invoice_id(), actor=actor())]
        self.open, self.summary, self.changes = True, "", []
        self.form_key += 1

    @rx.event
    @guarded(STAFF)
    def add_row(self):
        """Add an empty item row (e.g. a refund of a wrong charge as a negative amount)."""
        require_offered(self.open, "InvoiceCorrectionState.add_row")
        self.items = [*self.items, {"description": "", "quantity": 1, "unit_price": 0, "tax_rate_percent": 10,
                                    "line_id": None}]

    @rx.event
    @guarded(STAFF)
    def cancel(self):
        """Close without asking for anything."""
        self.open, self.summary, self.changes = False, "", []

    def _read(self, form: dict) -> list[dict[str, Any]]:
        rows = []
        for n, old in enumerate(self.items):
            description = (form.get(f"description_{n}") or "").strip()
            if not description:
                continue  # an emptied row is left out
            quantity, price, rate = (form.get(f"quantity_{n}") or "").strip(), \
                (form.get(f"unit_price_{n}") or "").replace(",", "").strip(), form.get(f"rate_{n}") or "10"
            rows.append({"description": description,
                         "quantity": int(quantity) if quantity.isdigit() else quantity,
                         "unit_price": int(price) if price.lstrip("-").isdigit() else price,
                         "tax_rate_percent": int(rate) if rate.isdigit() else rate, "line_id": old.get("line_id")})
        return rows

    @rx.event
    @guarded(STAFF)
    def check(self, form: dict):
        """Show what the correction would do (before -> after) from the edited items."""
        require_offered(self.open, "InvoiceCorrectionState.check")
        self.items = self._read(form) or self.items
        preview = corrections.preview_correction(self._invoice_id(), self.items, actor=actor())
        self.summary, self.changes = preview["summary"], preview["changes"]

    @rx.event
    @guarded(STAFF)
    def confirm(self, form: dict):
        """Ask for the correction's approval (a second person in accounting approves it)."""
        require_offered(self.open and bool(self.summary), "InvoiceCorrectionState.confirm")
        outcome = corrections.request_correction(self._invoice_id(), self.items, actor=actor(),
                                                 reason=form.get("reason") or "",
                                                 confirm_repeat=bool(form.get("confirm_repeat")))
        self.notice = (f"承認申請 #{outcome.request.id}（請求の訂正）を作成しました。"
                       "経理の別の担当者が承認すると、適格返還請求書と訂正後の請求書が発行されます。")
        self.open, self.summary, self.changes = False, "", []
