"""Customers: the list, registering one, and the 360° view with its actions."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import card_on_file, direct_debit, payments
from services.ledger import contracts, customer_users, customers, kyc_checks, notifications, shipments
from services.platform.errors import PermissionDenied
from services.platform.permissions import can
from services.read.staff import views
from services.security import masking
from services.workflow import approvals
from state.admin.actions import ConfirmDialogMixin
from state.admin.paging import PagedListMixin
from state.company_users import CompanyUsersMixin
from state.feedback import MessagesMixin, int_param, require_offered
from state.session import STAFF, actor, guarded
from telecom_app import routes

KYC_EVENTS = {"kyc_verified": "本人確認を「確認済」で確定", "kyc_rejected": "本人確認を「否認」で確定"}


KYC_REQUEST_EVENT = "kyc_request"


KYC_REOPEN_EVENT = "kyc_reopen"


SHIP_EVENT_PREFIX = "ship_line_"


class CustomerState(ConfirmDialogMixin, rx.State):
    """The 360° view of one customer (personal fields masked per role), revealing a masked field
    with a reason, opening a new contract, and asking for KYC confirmation or a refund (approvals)."""

    data: dict[str, Any] = {}
    plans: list[dict[str, Any]] = []
    can_create_contract: bool = False
    can_confirm_kyc: bool = False
    can_refund: bool = False
    can_ship: bool = False
    shipments: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    loaded: bool = False
    revealing: str = ""              # the field whose reveal dialog is open
    revealed: dict[str, str] = {}    # field -> full value, until the page is left
    offered: list[str] = []          # the confirmed actions the page shows: kyc_*, ship_line_<id>, refund_<id>

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load everything about the customer in the URL."""
        self.loaded = False
        self.revealing, self.revealed = "", {}
        self.pending_event = ""
        current = actor()
        self.data = views.customer_360(int_param(self.router._page.params.get("customer_id")), actor=current)
        self.can_create_contract = can(current, "contract.create")
        self.can_confirm_kyc = can(current, "customer.kyc")
        self.can_refund = can(current, "payment.manage")
        self.can_ship = can(current, "inventory.manage")
        self.plans = views.active_plans(actor=current) if self.can_create_contract else []
        self._load_deliveries()
        self.offered = self._offers()
        self.loaded = True

    @rx.event
    @guarded(STAFF)
    def create_contract(self, form: dict):
        """Open a draft contract on the chosen plan (one the page lists) and show it."""
        plan_id = int_param(form.get("rate_plan_id"))
        require_offered(self.can_create_contract and any(p["id"] == plan_id for p in self.plans),
                        f"CustomerState.create_contract(plan {plan_id})")
        contract = contracts.create_contract(actor=actor(), customer_id=self.data["customer"]["id"],
                                             rate_plan_id=plan_id)
        return rx.redirect(routes.admin_contract(contract.id))

    @rx.event
    @guarded(STAFF)
    def reveal(self, field: str):
        """Open the dialog that asks why one masked field must be shown in full."""
        if field not in self.data.get("customer", {}).get("revealable", []):
            raise PermissionDenied("この項目を表示する権限がありません。")
        self.revealing = field

    @rx.event
    @guarded(STAFF)
    def cancel_reveal(self):
        """Close the reveal dialog without showing anything."""
        self.revealing = ""

    @rx.event
    @guarded(STAFF)
    def confirm_reveal(self, form: dict):
        """Show the field in full (the service checks the role and audits the reason)."""
        field = self.revealing
        require_offered(bool(field), "CustomerState.confirm_reveal without an open dialog")
        value = masking.reveal_field("customer", self.data["customer"]["id"], field, actor=actor(),
                                     reason=form.get("reason") or "")
        self.revealed = {**self.revealed, field: value}
        self.revealing = ""

    @rx.event
    @guarded(STAFF)
    def forget_revealed(self):
        """Drop revealed values when the page is left."""
        self.revealing, self.revealed = "", {}

    def _event_label(self, event: str) -> str:
        if event == KYC_REOPEN_EVENT:
            return "本人確認のやり直し"
        return KYC_EVENTS.get(event, "入金の返金")

    def _preview(self, event: str) -> dict | None:
        if event in KYC_EVENTS:
            return customers.preview_kyc_confirmation(self.data["customer"]["id"], status=event.removeprefix("kyc_"),
                                                      actor=actor())
        if event.startswith("refund_"):
            return payments.preview_refund(int_param(event.removeprefix("refund_")), actor=actor())
        return None

    def _submit(self, event: str, form: dict) -> approvals.Submitted:
        customer_id, reason, current = self.data["customer"]["id"], form.get("reason") or "", actor()
        repeat = bool(form.get("confirm_repeat"))
        if event in KYC_EVENTS:
            status = event.removeprefix("kyc_")
            return customers.request_kyc_confirmation(  # how it was checked goes into the 本人確認記録
                customer_id, actor=current, status=status, reason=reason, confirm_repeat=repeat,
                method=(form.get("method") or "") if status == "verified" else None,
                tracking_number=form.get("tracking_number"))
        if event.startswith("refund_"):
            return payments.request_refund(int_param(event.removeprefix("refund_")), actor=current, reason=reason,
                                           confirm_repeat=repeat)
        if event == KYC_REQUEST_EVENT:
            return approvals.Submitted(result=kyc_checks.request_kyc_check(customer_id, actor=current, reason=reason))
        if event == KYC_REOPEN_EVENT:
            return approvals.Submitted(result=customers.reopen_kyc(customer_id, actor=current, reason=reason))
        return approvals.Submitted(result=shipments.ship_to_customer(
            actor=current, customer_id=customer_id, line_id=int_param(event.removeprefix(SHIP_EVENT_PREFIX)), reason=reason))

    def _title(self) -> str:
        return f"顧客 {self.data['customer']['code']}（{self.data['customer']['name']}）"

    def _offered(self) -> set[str]:
        return set(self.offered)

    def _direct_summary(self, event: str, label: str) -> str:
        if event == KYC_REOPEN_EVENT:
            return (f"{self._title()}の本人確認の状態を「未提出」に戻します。これまでの本人確認記録はそのまま保存されます。"
                    "書類を変更したうえで、あらためて本人確認を依頼してください。")
        return f"{self._title()}を「{label}」します。"

    def _offers(self) -> list[str]:
        """What the page offers for this customer now: KYC confirmations and request, shipping, refunds."""
        status = self.data.get("customer", {}).get("kyc_status")
        offers: list[str] = []
        if self.can_confirm_kyc:
            offers += [event for event in KYC_EVENTS if status != event.removeprefix("kyc_")]
            offers += [KYC_REQUEST_EVENT] if status in ("not_started", "rejected") else []
            offers += [KYC_REOPEN_EVENT] if status == "verified" else []
        if self.can_ship:
            offers += [f"{SHIP_EVENT_PREFIX}{ln['id']}" for ln in self.data.get("lines", []) if ln["iccid"]]
        if self.can_refund:
            offers += [f"refund_{p['id']}" for p in self.data.get("payments", []) if p["status"] != "refunded"]
        return offers

    @rx.event
    @guarded(STAFF)
    def ask_kyc_check(self):
        """Open the dialog that says what asking the KYC provider for an identity check will do."""
        require_offered(KYC_REQUEST_EVENT in self.offered, "CustomerState.ask_kyc_check")
        self.needs_approval, self.pending_changes, self.pending_warnings, self.confirm_word = False, [], [], ""
        self.pending_summary = (
            f"{self._title()}の本人確認を本人確認サービスに依頼します。本人確認の状態は「確認待ち」になり、"
            "お客様に受付のメールが届きます。結果が届くと要確認の一覧に表示されます。結果の確定は、"
            "内容を確認したうえで別途承認申請して行います。")
        self.pending_event, self.pending_label = KYC_REQUEST_EVENT, "本人確認の依頼"

    @rx.event
    @guarded(STAFF)
    def ask_ship(self, line_id: int):
        """Open the dialog that says what sending the line's SIM to the customer will do."""
        require_offered(f"{SHIP_EVENT_PREFIX}{int_param(line_id)}" in self.offered, f"CustomerState.ask_ship({line_id!r})")
        line = next(ln for ln in self.data["lines"] if ln["id"] == int_param(line_id))
        self.needs_approval, self.pending_changes, self.pending_warnings, self.confirm_word = False, [], [], ""
        self.pending_summary = (
            f"回線 {line['msisdn']} のSIM（ICCID {line['iccid']}）を、{self._title()}の登録住所へ発送するよう"
            "配送業者に依頼します。受付後、追跡番号がこの画面に表示され、お客様にも通知されます。")
        self.pending_event, self.pending_label = f"{SHIP_EVENT_PREFIX}{line['id']}", "SIMの発送"

    def _after_change(self) -> None:
        self.data = views.customer_360(self.data["customer"]["id"], actor=actor())
        self._load_deliveries()
        self.offered = self._offers()

    def _load_deliveries(self) -> None:
        """The customer's shipments and notifications (both shown on the 360° view)."""
        customer_id, current = self.data["customer"]["id"], actor()
        self.shipments = shipments.customer_shipments(customer_id, actor=current)
        self.notifications = notifications.customer_notifications(customer_id, actor=current)


class CustomerListState(PagedListMixin, rx.State):
    """All customers, paged on the server."""

    kind: str = ""

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Load the page named in the URL (?page=, ?kind=)."""
        params = self.router.url.query_parameters
        self.kind = params.get("kind", "")
        self._fetch(int_param(params.get("page", 1)) or 1)

    def _fetch(self, page: int) -> None:
        self._show_page(views.list_customers(actor=actor(), page=page, kind=self.kind or None))


class NewCustomerState(MessagesMixin, rx.State):
    """Registering a customer from the back office."""

    @rx.event
    @guarded(STAFF)
    def submit(self, form: dict):
        """Register the customer and open their 360° view."""
        customer = customers.create_customer(
            actor=actor(), kind=form.get("kind") or "", name=form.get("name") or "",
            name_kana=form.get("name_kana") or "", email=form.get("email") or None,
            phone=form.get("phone") or None, postal_code=form.get("postal_code") or None,
            address=form.get("address") or None,
        )
        return rx.redirect(routes.admin_customer(customer.id))


class CustomerMandateState(MessagesMixin, rx.State):
    """The customer's 口座振替 mandates: registering the account (codes, number, holder in kana) and ending one;
    beside them the cards on file the customer registered in /my (read only)."""

    rows: list[dict[str, Any]] = []
    cards: list[dict[str, Any]] = []
    can_manage: bool = False
    registering: bool = False
    form_key: int = 0

    def _customer_id(self) -> int:
        return int_param(self.router._page.params.get("customer_id"))

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the mandates and cards on file of the customer in the URL."""
        current = actor()
        self.registering = False
        self.can_manage = can(current, "payment.manage")
        viewer = can(current, "payment.view")
        self.rows = direct_debit.customer_mandates(self._customer_id(), actor=current) if viewer else []
        self.cards = card_on_file.customer_cards(self._customer_id(), actor=current) if viewer else []

    @rx.event
    @guarded(STAFF)
    def toggle(self):
        """Show or hide the registration form."""
        require_offered(self.can_manage, "CustomerMandateState.toggle")
        self.registering = not self.registering
        self.form_key += 1

    @rx.event
    @guarded(STAFF)
    def register(self, form: dict):
        """Register the account for 口座振替 (it replaces an active one)."""
        require_offered(self.can_manage and self.registering, "CustomerMandateState.register")
        direct_debit.register_mandate(self._customer_id(), actor=actor(), bank_code=form.get("bank_code") or "",
                                      branch_code=form.get("branch_code") or "", account_type=form.get("account_type") or "",
                                      account_number=form.get("account_number") or "",
                                      holder_name=form.get("holder_name") or "", reason=form.get("reason") or None)
        self.notice, self.registering = "口座振替の口座を登録しました。", False
        self.rows = direct_debit.customer_mandates(self._customer_id(), actor=actor())

    @rx.event
    @guarded(STAFF)
    def revoke(self, mandate_id: int):
        """End an active mandate."""
        offered = any(r["id"] == mandate_id and r["status"] == "有効" for r in self.rows)
        require_offered(self.can_manage and offered, "CustomerMandateState.revoke")
        direct_debit.revoke_mandate(mandate_id, actor=actor(), reason="担当者が解除")
        self.notice = "口座振替の登録を解除しました。"
        self.rows = direct_debit.customer_mandates(self._customer_id(), actor=actor())


class CustomerAccessState(CompanyUsersMixin, rx.State):
    """The customer's people in the self-service app (/my), on the customer's page: invite, rights, remove."""

    def _customer_id(self) -> int:
        return int_param(self.router._page.params.get("customer_id"))

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the customer's people and lines (staff who may view the customer; managing needs customer.update)."""
        current = actor()
        self.inviting = False
        self.can_manage = can(current, "customer.update")
        self._read(self._customer_id(), current)
        self.line_choices = customer_users.company_lines(self._customer_id(), actor=current)

    @rx.event
    @guarded(STAFF)
    def toggle(self):
        """Show or hide the invite form."""
        self._toggle()

    @rx.event
    @guarded(STAFF)
    def invite(self, form: dict):
        """Mail an invitation to the self-service app."""
        self._invite(self._customer_id(), actor(), form)

    @rx.event
    @guarded(STAFF)
    def remove(self, user_id: int):
        """Stop a person signing in (their devices are signed out)."""
        self._remove(self._customer_id(), actor(), user_id, "担当者が停止")

    @rx.event
    @guarded(STAFF)
    def toggle_bills(self, user_id: int):
        """Allow or stop a 利用者 seeing the company's bills."""
        self._toggle_bills(self._customer_id(), actor(), user_id)
