"""Record screens: customer 360°, line, contract, invoice and ticket views, and paged lists."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import card_payments, invoices, payments
from services.billing.invoices import INVOICE
from services.ledger import contracts, customers, kyc_checks, lines, notifications, shipments
from services.ledger.contracts import CONTRACT
from services.ledger.lines import LINE, LINE_EVENT_PERMISSIONS
from services.platform.errors import PermissionDenied
from services.platform.labels import EVENT_LABELS_JA
from services.platform.lifecycle import Lifecycle
from services.platform.paging import Page
from services.platform.permissions import can
from services.read.staff import views
from services.security import masking
from services.workflow import approvals
from state.base import MessagesMixin, actor, guarded, require_offered


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


KYC_EVENTS = {"kyc_verified": "本人確認を「確認済」で確定", "kyc_rejected": "本人確認を「否認」で確定"}
KYC_REQUEST_EVENT = "kyc_request"
KYC_REOPEN_EVENT = "kyc_reopen"
SHIP_EVENT_PREFIX = "ship_line_"
CARD_CHARGE_EVENT = "charge_card"


class DashboardState(MessagesMixin, rx.State):
    """Home screen counts."""

    line_counts: list[dict[str, Any]] = []
    open_tickets: int = 0

    @rx.event
    @guarded
    def load(self):
        """Read the headline numbers."""
        data = views.dashboard_counts(actor=actor())
        self.line_counts, self.open_tickets = data["lines"], data["open_tickets"]


class ConfirmDialogMixin(MessagesMixin, mixin=True):
    """An action behind a confirmation dialog that states what will happen and asks for a reason.

    The page does not decide whether an action runs now or waits for a second person: the one service
    call of the action does (services.workflow.approvals.submit), and its preview says so. Irreversible
    actions ask the user to type a confirmation word; duplicates are warned about (and refused by the
    service). Subclasses name the events the page offers now (`_offered`: nothing else is asked or
    confirmed), an event's label, its preview (`_preview`: None for an action that runs at once) and the
    one service call that carries it out (`_submit`).
    """

    pending_event: str = ""
    pending_label: str = ""
    pending_summary: str = ""
    pending_changes: list[dict[str, str]] = []
    pending_warnings: list[str] = []
    confirm_word: str = ""
    needs_approval: bool = False

    @rx.event
    @guarded
    def ask(self, event: str):
        """Open the confirmation dialog for an action the page offers, with its preview and duplicate warnings."""
        require_offered(event in self._offered(), f"{type(self).__name__}.ask({event!r})")
        label = self._event_label(event)
        preview = self._preview(event)
        self.needs_approval = preview is not None
        self.pending_changes, self.pending_warnings, self.confirm_word = [], [], ""
        if preview is not None:
            self.pending_summary = preview["summary"]
            self.pending_changes = preview["changes"]
            self.pending_warnings = preview["blocking"] + preview["warnings"]
            self.confirm_word = preview["confirm_word"]
        else:
            self.pending_summary = self._direct_summary(event, label)
        self.pending_event, self.pending_label = event, label

    @rx.event
    @guarded
    def cancel(self):
        """Close the confirmation dialog without changing anything."""
        self.pending_event, self.pending_label = "", ""

    @rx.event
    @guarded
    def confirm(self, form: dict):
        """Do the confirmed action (or ask for its approval), then show the record again."""
        event, label = self.pending_event, self.pending_label
        require_offered(bool(event) and event in self._offered(), f"{type(self).__name__}.confirm({event!r})")
        outcome = self._submit(event, form)
        if outcome.request is not None:
            self.notice = f"承認申請 #{outcome.request.id}（{label}）を作成しました。別の担当者が承認すると実行されます。"
        else:
            self.notice = f"{label}を記録しました。"
        self.pending_event, self.pending_label = "", ""
        self._after_change()


class LifecycleActionsMixin(ConfirmDialogMixin, mixin=True):
    """Buttons for the events a record's state allows (its lifecycle table), each confirmed."""

    data: dict[str, Any] = {}
    actions: list[dict[str, str]] = []
    loaded: bool = False

    def _offered(self) -> set[str]:
        return {a["event"] for a in self.actions}

    def _direct_summary(self, event: str, label: str) -> str:
        return f"{self._title()}を「{label}」します。"

    def _event_label(self, event: str) -> str:
        return EVENT_LABELS_JA[self._lifecycle()].get(event, event)

    def _record_id(self) -> int:
        return self.data[self._lifecycle()]["id"]

    def _after_change(self) -> None:
        self._refresh(self._record_id())

    def _open(self, record_id: int) -> None:
        self.loaded, self.notice = False, ""
        self.pending_event, self.pending_label = "", ""
        self._refresh(record_id)
        self.loaded = True

    def _allowed_actions(self, lifecycle: Lifecycle, status: str, permission_of) -> list[dict[str, str]]:
        current = actor()
        return [{"event": ev.value, "label": EVENT_LABELS_JA[lifecycle.name][ev.value]}
                for ev in lifecycle.allowed_events(status) if can(current, permission_of(ev))]


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
    @guarded
    def load(self):
        """Load everything about the customer in the URL."""
        self.loaded = False
        self.revealing, self.revealed = "", {}
        self.pending_event = ""
        current = actor()
        self.data = views.customer_360(_int(self.router._page.params.get("customer_id")), actor=current)
        self.can_create_contract = can(current, "contract.create")
        self.can_confirm_kyc = can(current, "customer.kyc")
        self.can_refund = can(current, "payment.manage")
        self.can_ship = can(current, "inventory.manage")
        self.plans = views.active_plans(actor=current) if self.can_create_contract else []
        self._load_deliveries()
        self.offered = self._offers()
        self.loaded = True

    @rx.event
    @guarded
    def create_contract(self, form: dict):
        """Open a draft contract on the chosen plan (one the page lists) and show it."""
        plan_id = _int(form.get("rate_plan_id"))
        require_offered(self.can_create_contract and any(p["id"] == plan_id for p in self.plans),
                        f"CustomerState.create_contract(plan {plan_id})")
        contract = contracts.create_contract(actor=actor(), customer_id=self.data["customer"]["id"],
                                             rate_plan_id=plan_id)
        return rx.redirect(f"/admin/contracts/{contract.id}")

    @rx.event
    @guarded
    def reveal(self, field: str):
        """Open the dialog that asks why one masked field must be shown in full."""
        if field not in self.data.get("customer", {}).get("revealable", []):
            raise PermissionDenied("この項目を表示する権限がありません。")
        self.revealing = field

    @rx.event
    @guarded
    def cancel_reveal(self):
        """Close the reveal dialog without showing anything."""
        self.revealing = ""

    @rx.event
    @guarded
    def confirm_reveal(self, form: dict):
        """Show the field in full (the service checks the role and audits the reason)."""
        field = self.revealing
        require_offered(bool(field), "CustomerState.confirm_reveal without an open dialog")
        value = masking.reveal_field("customer", self.data["customer"]["id"], field, actor=actor(),
                                     reason=form.get("reason") or "")
        self.revealed = {**self.revealed, field: value}
        self.revealing = ""

    @rx.event
    @guarded
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
            return payments.preview_refund(_int(event.removeprefix("refund_")), actor=actor())
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
            return payments.request_refund(_int(event.removeprefix("refund_")), actor=current, reason=reason,
                                           confirm_repeat=repeat)
        if event == KYC_REQUEST_EVENT:
            return approvals.Submitted(result=kyc_checks.request_kyc_check(customer_id, actor=current, reason=reason))
        if event == KYC_REOPEN_EVENT:
            return approvals.Submitted(result=customers.reopen_kyc(customer_id, actor=current, reason=reason))
        return approvals.Submitted(result=shipments.ship_to_customer(
            actor=current, customer_id=customer_id, line_id=_int(event.removeprefix(SHIP_EVENT_PREFIX)), reason=reason))

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
    @guarded
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
    @guarded
    def ask_ship(self, line_id: int):
        """Open the dialog that says what sending the line's SIM to the customer will do."""
        require_offered(f"{SHIP_EVENT_PREFIX}{_int(line_id)}" in self.offered, f"CustomerState.ask_ship({line_id!r})")
        line = next(ln for ln in self.data["lines"] if ln["id"] == _int(line_id))
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


class LineState(LifecycleActionsMixin, rx.State):
    """One line: state, SIM, device, usage, history, and the state changes the actor may make."""

    @rx.event
    @guarded
    def load(self):
        """Load the line in the URL and the events its state allows."""
        self._open(_int(self.router._page.params.get("line_id")))

    def _lifecycle(self) -> str:
        return "line"

    def _preview(self, event: str) -> dict | None:
        return lines.preview_line_event(self._record_id(), event, actor=actor())

    def _submit(self, event: str, form: dict) -> approvals.Submitted:
        return lines.request_line_event(self._record_id(), event, actor=actor(), reason=form.get("reason") or "",
                                        confirm_word=form.get("confirm_word"),
                                        confirm_repeat=bool(form.get("confirm_repeat")))

    def _title(self) -> str:
        line = self.data["line"]
        return f"回線 {line['msisdn']}（契約 {line['contract_code']}、{self.data['customer']['name']}）"

    def _refresh(self, line_id: int) -> None:
        self.data = views.line_detail(line_id, actor=actor())
        # settling 要確認 by hand is done from the review queue (it needs an approval there)
        self.actions = [a for a in self._allowed_actions(LINE, self.data["line"]["status"], LINE_EVENT_PERMISSIONS.get)
                        if not a["event"].startswith("confirm_")]


class ContractState(LifecycleActionsMixin, rx.State):
    """One contract with its lines; its lifecycle events; adding a line with SIM and device checks."""

    can_add_line: bool = False

    @rx.event
    @guarded
    def load(self):
        """Load the contract in the URL."""
        self._open(_int(self.router._page.params.get("contract_id")))

    def _lifecycle(self) -> str:
        return "contract"

    def _preview(self, event: str) -> dict | None:
        return contracts.preview_contract_event(self._record_id(), event, actor=actor())

    def _submit(self, event: str, form: dict) -> approvals.Submitted:
        return contracts.request_contract_event(self._record_id(), event, actor=actor(), reason=form.get("reason") or "",
                                                confirm_word=form.get("confirm_word"),
                                                confirm_repeat=bool(form.get("confirm_repeat")))

    def _title(self) -> str:
        return f"契約 {self.data['contract']['code']}（{self.data['customer']['name']}）"

    def _refresh(self, contract_id: int) -> None:
        self.data = views.contract_detail(contract_id, actor=actor())
        status = self.data["contract"]["status"]
        self.can_add_line = can(actor(), "line.create") and status != "terminated"
        self.actions = self._allowed_actions(CONTRACT, status, lambda _ev: "contract.transition")

    @rx.event
    @guarded
    def add_line(self, form: dict):
        """Open a new line on this contract (number, ICCID, optional IMEI)."""
        require_offered(self.can_add_line, "ContractState.add_line")
        contract_id = self.data["contract"]["id"]
        line = lines.add_line(actor=actor(), contract_id=contract_id, msisdn=form.get("msisdn") or "",
                              iccid=form.get("iccid") or "", imei=form.get("imei") or None,
                              reason=form.get("reason") or None)
        return rx.redirect(f"/admin/lines/{line.id}")


class InvoiceState(LifecycleActionsMixin, rx.State):
    """One invoice with items and allocations; issuing it, cancelling it (赤伝) with approval, and
    charging its outstanding amount to the customer's card (カードで請求)."""

    can_charge_card: bool = False

    @rx.event
    @guarded
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
    @guarded
    def load(self):
        """Load the invoice in the URL."""
        self._open(_int(self.router._page.params.get("invoice_id")))

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



class TicketState(MessagesMixin, rx.State):
    """One support ticket."""

    data: dict[str, Any] = {}
    loaded: bool = False

    @rx.event
    @guarded
    def load(self):
        """Load the ticket in the URL."""
        self.loaded = False
        self.data = views.ticket_detail(_int(self.router._page.params.get("ticket_id")), actor=actor())
        self.loaded = True


class PagedListMixin(MessagesMixin, mixin=True):
    """A server-paged list: the current page of rows and the controls' numbers."""

    rows: list[dict[str, Any]] = []
    page: int = 1
    pages: int = 1
    total: int = 0

    @rx.event
    @guarded
    def go(self, page: int):
        """Show another page."""
        self._fetch(page)

    def _show(self, result: Page) -> None:
        self.rows, self.page, self.pages, self.total = result.rows, result.page, result.pages, result.total


class CustomerListState(PagedListMixin, rx.State):
    """All customers, paged on the server."""

    kind: str = ""

    @rx.event
    @guarded
    def load(self):
        """Load the page named in the URL (?page=, ?kind=)."""
        params = self.router.url.query_parameters
        self.kind = params.get("kind", "")
        self._fetch(_int(params.get("page", 1)) or 1)

    def _fetch(self, page: int) -> None:
        self._show(views.list_customers(actor=actor(), page=page, kind=self.kind or None))


class LineListState(PagedListMixin, rx.State):
    """All lines (or one customer's, or one state), paged on the server."""

    status: str = ""
    customer_id: int = 0

    @rx.event
    @guarded
    def load(self):
        """Load the page named in the URL (?page=, ?status=, ?customer_id=)."""
        params = self.router.url.query_parameters
        self.status = params.get("status", "")
        self.customer_id = _int(params.get("customer_id", 0))
        self._fetch(_int(params.get("page", 1)) or 1)

    @rx.event
    @guarded
    def filter_status(self, status: str):
        """Show only lines in one state ("" = all)."""
        self.status = status
        self._fetch(1)

    def _fetch(self, page: int) -> None:
        self._show(views.list_lines(actor=actor(), page=page, status=self.status or None,
                                    customer_id=self.customer_id or None))


class NewCustomerState(MessagesMixin, rx.State):
    """Registering a customer from the back office."""

    @rx.event
    @guarded
    def submit(self, form: dict):
        """Register the customer and open their 360° view."""
        customer = customers.create_customer(
            actor=actor(), kind=form.get("kind") or "", name=form.get("name") or "",
            name_kana=form.get("name_kana") or "", email=form.get("email") or None,
            phone=form.get("phone") or None, postal_code=form.get("postal_code") or None,
            address=form.get("address") or None,
        )
        return rx.redirect(f"/admin/customers/{customer.id}")
