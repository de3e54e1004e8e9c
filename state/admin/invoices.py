"""One invoice: issuing, cancelling (赤伝) and charging the card."""

from __future__ import annotations

import reflex as rx

from services.billing import card_payments, invoices
from services.billing.invoices import INVOICE
from services.platform.permissions import can
from services.read.staff import views
from services.workflow import approvals
from state.admin.actions import LifecycleActionsMixin
from state.feedback import int_param, require_offered
from state.session import STAFF, actor, guarded

CARD_CHARGE_EVENT = "charge_card"


class InvoiceState(LifecycleActionsMixin, rx.State):
    """One invoice with items and allocations; issuing it, cancelling it (赤伝) with approval, and
    charging its outstanding amount to the customer's card (カードで請求)."""

    can_charge_card: bool = False

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
        self.can_charge_card = can(actor(), "payment.manage") and self.data["invoice"]["payment_state"] in (
            "unpaid", "partially_paid")
