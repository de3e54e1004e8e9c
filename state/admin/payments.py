"""入金・消込: money not yet matched with its suggested invoices, matching by hand with a reason, and entering
a payment received by hand; the accounts-receivable aging."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import payments
from services.platform.permissions import can
from services.read.staff import receivables
from state.feedback import MessagesMixin, int_param, require_offered
from state.session import STAFF, actor, guarded


class PaymentsState(MessagesMixin, rx.State):
    """The unmatched queue (未消込) and the manual entry form."""

    rows: list[dict[str, Any]] = []
    can_manage: bool = False
    matching: dict[str, Any] = {}  # the open match dialog: payment id, invoice id and no, amount
    form_key: int = 0

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the payments waiting to be matched, with suggestions."""
        self.matching = {}
        self.can_manage = can(actor(), "payment.manage")
        self.rows = receivables.unmatched_payments(actor=actor())

    @rx.event
    @guarded(STAFF)
    def ask_match(self, payment_id: int, invoice_id: int):
        """Open the match dialog for a suggested invoice."""
        row = next((r for r in self.rows if r["id"] == payment_id), None)
        suggestion = next((s for s in (row or {}).get("suggestions", []) if s["invoice_id"] == invoice_id), None)
        require_offered(self.can_manage and suggestion is not None, "PaymentsState.ask_match")
        self.matching = {"payment_id": payment_id, "invoice_id": invoice_id, "invoice_no": suggestion["invoice_no"],
                         "payer": row["payer_name"], "amount": suggestion["amount"],
                         "reasons": suggestion["reasons"]}

    @rx.event
    @guarded(STAFF)
    def cancel(self):
        """Close the match dialog."""
        self.matching = {}

    @rx.event
    @guarded(STAFF)
    def match(self, form: dict):
        """Allocate the payment to the invoice (消込) with the amount and the reason given."""
        require_offered(bool(self.matching), "PaymentsState.match")
        reason = (form.get("reason") or "").strip()
        if not reason:
            self.field_errors = {"reason": "消込の理由を入力してください。"}
            return
        amount = int_param(form.get("amount"))
        payments.allocate_payment(self.matching["payment_id"], actor=actor(), invoice_id=self.matching["invoice_id"],
                                  amount=amount, reason=reason)
        self.notice = f"入金を請求書 {self.matching['invoice_no']} に {amount:,}円 消込しました。"
        self.matching = {}
        self.rows = receivables.unmatched_payments(actor=actor())

    @rx.event
    @guarded(STAFF)
    def record(self, form: dict):
        """Enter money received by hand (the customer may be unknown; it then waits here to be matched)."""
        require_offered(self.can_manage, "PaymentsState.record")
        customer = int_param(form.get("customer_id"))
        payment = payments.record_payment(actor=actor(), amount=int_param(form.get("amount")) or -1,
                                          method=form.get("method") or "bank_transfer",
                                          payer_name=form.get("payer_name") or "", reference=form.get("reference"),
                                          customer_id=customer or None)
        self.notice = f"入金 #{payment.id}（{payment.amount:,}円）を登録しました。"
        self.form_key += 1
        self.rows = receivables.unmatched_payments(actor=actor())


class AgingState(MessagesMixin, rx.State):
    """売掛金年齢表: what is owed by how long past due."""

    data: dict[str, Any] = {"as_of": "", "rows": [], "buckets": [], "total": ""}

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the aging as of today."""
        self.data = receivables.aging(actor=actor())
