"""Staff back-office pages: home, search, customers (list, 360°, new), lines, contracts, invoices, tickets."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.i18n import t, tr
from components.shell import admin_shell
from components.widgets import confirm_dialog, field, kv, link, messages, pager, section, status_badge, table
from state.records import (
    ContractState,
    CustomerListState,
    CustomerState,
    DashboardState,
    InvoiceState,
    LineListState,
    LineState,
    NewCustomerState,
    TicketState,
)
from state.search import SearchState
from telecom_app.pages.recovery import operation_history


def _loading(state, body: rx.Component) -> rx.Component:
    return rx.cond(state.loaded, body, rx.cond(state.error != "", rx.fragment(), rx.text(t("loading"))))


# ---- home -------------------------------------------------------------------------------------

def dashboard_page() -> rx.Component:
    """Home: line counts by state and open tickets."""
    return admin_shell(
        messages(DashboardState),
        rx.grid(
            rx.foreach(DashboardState.line_counts, lambda c: rx.card(
                rx.link(rx.vstack(status_badge(c["status"], c["label"]), rx.heading(c["count"], size="6")),
                        href="/admin/lines?status=" + c["status"].to(str), underline="none"))),
            rx.card(rx.vstack(rx.text(t("open_tickets"), size="2"), rx.heading(DashboardState.open_tickets, size="6"))),
            columns=rx.breakpoints(initial="2", sm="3", md="4"), spacing="3", width="100%",
        ),
        title=t("home"),
    )


# ---- search -----------------------------------------------------------------------------------

def _hit(hit) -> rx.Component:
    return rx.box(
        rx.hstack(rx.cond(hit["url"] != "", link(hit["title"], hit["url"]), rx.text(hit["title"])),
                  rx.cond(hit["status"] != "", status_badge(hit["status"], hit["status_label"])),
                  wrap="wrap", spacing="2", align="center"),
        rx.text(hit["subtitle"], size="1", color="gray"),
        padding_y="0.4em", border_bottom="1px solid var(--gray-4)", width="100%",
    )


def search_page() -> rx.Component:
    """Grouped results of the global search."""
    return admin_shell(
        messages(SearchState),
        rx.cond(SearchState.hint != "", rx.callout(SearchState.hint, icon="info")),
        rx.cond(SearchState.searched & (SearchState.groups.length() == 0) & (SearchState.hint == ""),
                rx.text(t("no_results"), id="no-results")),
        rx.foreach(SearchState.groups, lambda g: section(
            rx.hstack(rx.text(g["label"]), rx.badge(g["hits"].to(list[dict[str, Any]]).length())),
            rx.vstack(rx.foreach(g["hits"].to(list[dict[str, Any]]), _hit), spacing="0", width="100%"),
            rx.cond(g["more"], rx.text(t("more_results"), size="2", color="gray")),
            data_group=g["kind"],
        )),
        title=rx.cond(SearchState.query != "", "「" + SearchState.query + "」", t("search")),
    )


# ---- customers --------------------------------------------------------------------------------

def _customer_row(c) -> rx.Component:
    return rx.table.row(
        rx.table.cell(link(c["code"], c["url"])),
        rx.table.cell(link(c["name"], c["url"])),
        rx.table.cell(c["name_kana"]),
        rx.table.cell(c["kind_label"]),
        rx.table.cell(c["kyc_label"]),
    )


def customers_page() -> rx.Component:
    """All customers, paged on the server."""
    return admin_shell(
        messages(CustomerListState),
        table(["顧客番号", "氏名・法人名", "フリガナ", "区分", "本人確認"], CustomerListState.rows, _customer_row),
        pager(CustomerListState, CustomerListState.go),
        title=t("customers"),
    )


def new_customer_page() -> rx.Component:
    """Register a customer; every field shows its own error."""
    errors = NewCustomerState.field_errors
    return admin_shell(
        messages(NewCustomerState),
        rx.form(
            rx.vstack(
                rx.text(tr("区分"), size="2", weight="medium"),
                rx.radio_group.root(
                    rx.hstack(rx.radio_group.item(value="individual"), rx.text(tr("個人")),
                              rx.radio_group.item(value="corporate"), rx.text(tr("法人")), align="center"),
                    name="kind", default_value="individual",
                ),
                field("name", "氏名・法人名", errors, required=True),
                field("name_kana", "フリガナ（カタカナ）", errors, required=True),
                field("email", "メールアドレス", errors, type="email"),
                field("phone", "連絡先電話番号", errors),
                field("postal_code", "郵便番号", errors, placeholder="123-4567"),
                field("address", "住所", errors),
                rx.button(t("register"), type="submit", id="register-customer"),
                spacing="3", width="100%", max_width="560px",
            ),
            on_submit=NewCustomerState.submit, reset_on_submit=False,
        ),
        title=t("new_customer"),
    )


def _line_row(ln, *extra_cells) -> rx.Component:
    return rx.table.row(
        rx.table.cell(link(ln["msisdn"], ln["url"])),
        rx.table.cell(status_badge(ln["status"], ln["status_label"])),
        rx.table.cell(link(ln["contract_code"], ln["contract_url"])),
        rx.table.cell(rx.text(ln["iccid"], size="1"), rx.text(ln["sim_status_label"], size="1", color="gray")),
        rx.table.cell(rx.text(ln["device_model"], size="1"), rx.text(ln["imei"], size="1", color="gray")),
        *extra_cells,
    )


def _kyc_method_fields() -> rx.Component:
    """How the identity was checked: it goes into the 本人確認記録 the confirmation writes."""
    return rx.vstack(
        rx.text("確認方法", size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(placeholder="確認方法を選んでください", id="kyc-method"),
            rx.select.content(
                rx.select.item("オンライン本人確認（eKYC）", value="ekyc"),
                rx.select.item("対面（書類の提示）", value="in_person"),
                rx.select.item("郵送（本人限定受取郵便）", value="mail"),
            ),
            name="method", required=True,
        ),
        rx.cond(CustomerState.field_errors.contains("method"),
                rx.text(CustomerState.field_errors["method"], color="red", size="2")),
        rx.text("本人限定受取郵便の追跡番号（郵送のとき）", size="2", weight="medium"),
        rx.input(name="tracking_number", id="kyc-tracking-number", width="100%", autocomplete="off"),
        rx.cond(CustomerState.field_errors.contains("tracking_number"),
                rx.text(CustomerState.field_errors["tracking_number"], color="red", size="2")),
        spacing="1", width="100%",
    )


def _kyc_record_row(r) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r["confirmed_at"]),
        rx.table.cell(rx.text(r["method_label"]), rx.text(r["tracking_number"], size="1", color="gray")),
        rx.table.cell(rx.text(r["document_label"]), rx.text(r["document_number"], size="1", color="gray")),
        rx.table.cell(rx.text(r["checked_by"], size="1"), rx.text(r["approved_by"], " ", r["approval_request"],
                                                                  size="1", color="gray")),
        rx.table.cell(r["keep_until"]),
    )


def _customer_line_row(ln) -> rx.Component:
    """A line on the 360° view, with 「SIMを発送」 when it has a SIM and the person may ship."""
    return _line_row(ln, rx.table.cell(rx.cond(
        CustomerState.offered.contains("ship_line_" + ln["id"].to(str)),
        rx.button("SIMを発送", size="1", variant="outline", on_click=CustomerState.ask_ship(ln["id"]),
                  data_ship_line=ln["id"]))))


def _shipment_row(s) -> rx.Component:
    return rx.table.row(
        rx.table.cell(s["order_ref"]), rx.table.cell(s["item_label"]),
        rx.table.cell(status_badge(s["status"], s["status_label"])),
        rx.table.cell(s["tracking_number"]), rx.table.cell(s["created_at"]), rx.table.cell(s["delivered_at"]),
    )


def _notification_row(n) -> rx.Component:
    return rx.table.row(
        rx.table.cell(n["created_at"]), rx.table.cell(n["channel_label"]), rx.table.cell(n["title"]),
        rx.table.cell(status_badge(n["delivery"], n["delivery_label"])), rx.table.cell(n["sent_at"]),
    )


_LINE_HEADERS = ["電話番号", "状態", "契約", "SIM（ICCID）", "端末（IMEI）"]


def _invoice_row(i) -> rx.Component:
    return rx.table.row(
        rx.table.cell(link(i["invoice_no"], i["url"])),
        rx.table.cell(i["period"]),
        rx.table.cell(i["total"]),
        rx.table.cell(status_badge(i["status"], i["status_label"])),
        rx.table.cell(rx.cond(i["payment_state"] != "", status_badge(i["payment_state"], i["payment_state_label"]))),
        rx.table.cell(i["due_date"]),
    )


def _ticket_row(tk) -> rx.Component:
    return rx.table.row(
        rx.table.cell(link(tk["subject"], tk["url"])),
        rx.table.cell(status_badge(tk["status"], tk["status_label"])),
        rx.table.cell(tk["created_at"]),
    )


_PERSONAL_LABELS = {
    "phone": "電話", "email": "メール", "address": "住所", "birth_date": "生年月日",
    "id_document_number": "本人確認書類の番号", "bank_account": "口座",
}


def _personal(field: str, shown: rx.Var) -> rx.Component:
    """A personal field as the role may see it (masked or full), with 表示 when a reveal is allowed."""
    revealed = CustomerState.revealed
    may_reveal = CustomerState.data["customer"].to(dict[str, Any])["revealable"].to(list[str]).contains(field)
    return rx.hstack(
        rx.text(rx.cond(revealed.contains(field), revealed[field].to(str), rx.cond(shown.strip() != "", shown, "—")),
                data_field=field),
        rx.cond(may_reveal & ~revealed.contains(field),
                rx.button(tr("表示"), size="1", variant="soft", type="button",
                          on_click=CustomerState.reveal(field), data_reveal=field)),
        spacing="2", align="center", wrap="wrap",
    )


def _reveal_dialog() -> rx.Component:
    """Asks why a masked field must be shown; the reveal and its reason go to the audit log."""
    label = rx.match(CustomerState.revealing, *[(k, v) for k, v in _PERSONAL_LABELS.items()], "")
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(tr("個人情報の表示")),
            rx.dialog.description("「", label, "」を表示します。表示した記録は理由とともに操作履歴に残ります。"),
            rx.form(
                rx.vstack(
                    rx.text(t("reason"), size="2", weight="medium"),
                    rx.text_area(name="reason", required=True, width="100%", id="reveal-reason",
                                 placeholder="例: お電話での本人確認のため"),
                    rx.cond(CustomerState.field_errors.contains("reason"),
                            rx.text(CustomerState.field_errors["reason"], color="red", size="2")),
                    rx.cond(CustomerState.error != "", rx.text(CustomerState.error, color="red", size="2")),
                    rx.hstack(
                        rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray",
                                  on_click=CustomerState.cancel_reveal),
                        rx.button(tr("表示"), type="submit", id="reveal-submit"),
                        justify="end", width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=CustomerState.confirm_reveal, reset_on_submit=True,
            ),
        ),
        open=CustomerState.revealing != "",
    )


def customer_page() -> rx.Component:
    """The 360° view: personal fields masked per role (表示 with a reason), contracts, lines with SIMs
    and devices, invoices, payments, tickets."""
    d = CustomerState.data
    c = d["customer"].to(dict[str, Any])
    return admin_shell(
        messages(CustomerState),
        rx.box(display="none", on_unmount=CustomerState.forget_revealed),  # revealed values end with the page
        _loading(CustomerState, rx.vstack(
            section(rx.hstack(rx.text(c["code"].to(str)), rx.badge(c["kind_label"].to(str))),
                rx.data_list.root(
                    kv("フリガナ", c["name_kana"].to(str)),
                    kv("メール", _personal("email", c["email"].to(str))),
                    kv("電話", _personal("phone", c["phone"].to(str))),
                    kv("住所", _personal("address", c["postal_code"].to(str) + " " + c["address"].to(str))),
                    rx.cond(c["kind"].to(str) == "individual",
                            kv("生年月日", _personal("birth_date", c["birth_date"].to(str)))),
                    kv("本人確認", rx.hstack(
                        rx.text(c["kyc_label"].to(str)),
                        rx.cond(CustomerState.offered.contains("kyc_verified"),
                                rx.button("確認済で確定を申請", size="1", variant="outline",
                                          on_click=CustomerState.ask("kyc_verified"), data_event="kyc_verified")),
                        rx.cond(CustomerState.offered.contains("kyc_rejected"),
                                rx.button("否認で確定を申請", size="1", variant="outline", color_scheme="red",
                                          on_click=CustomerState.ask("kyc_rejected"))),
                        rx.cond(CustomerState.offered.contains("kyc_request"),
                                rx.button("本人確認を依頼", size="1", on_click=CustomerState.ask_kyc_check,
                                          id="kyc-request")),
                        rx.cond(CustomerState.offered.contains("kyc_reopen"),
                                rx.button("本人確認をやり直す", size="1", variant="soft",
                                          on_click=CustomerState.ask("kyc_reopen"), data_event="kyc_reopen")),
                        spacing="2", wrap="wrap", align="center")),
                    kv("本人確認書類", rx.hstack(rx.text(c["id_document_label"].to(str)),
                                              _personal("id_document_number", c["id_document_number"].to(str)),
                                              spacing="2", wrap="wrap")),
                    kv("口座", _personal("bank_account", c["bank_account"].to(str))),
                ),
            ),
            _reveal_dialog(),
            confirm_dialog(CustomerState, CustomerState.confirm,
                           rx.cond(CustomerState.pending_event == "kyc_verified", _kyc_method_fields())),
            rx.cond(d["kyc_records"].to(list[dict[str, Any]]).length() > 0, section(
                "本人確認記録",
                table(["確認日時", "方法", "書類", "確認者 / 承認者", "保存期限"], d["kyc_records"].to(list[dict[str, Any]]),
                      _kyc_record_row), id="customer-kyc-records")),
            section(t("contracts"),
                table(["契約番号", "状態", "プラン", "開始日"], d["contracts"].to(list[dict[str, Any]]), lambda k: rx.table.row(
                    rx.table.cell(link(k["code"], k["url"])),
                    rx.table.cell(status_badge(k["status"], k["status_label"])),
                    rx.table.cell(k["plan"]), rx.table.cell(k["start_date"]))),
                rx.cond(CustomerState.can_create_contract, rx.form(
                    rx.hstack(
                        rx.select.root(
                            rx.select.trigger(placeholder="料金プラン"),
                            rx.select.content(rx.foreach(CustomerState.plans, lambda p: rx.select.item(
                                p["label"], value=p["id"].to(str)))),
                            name="rate_plan_id", required=True,
                        ),
                        rx.button(t("new_contract"), type="submit"), wrap="wrap",
                    ),
                    on_submit=CustomerState.create_contract,
                )),
            ),
            section(rx.hstack(rx.text(t("lines")), rx.badge(d["line_total"].to(int))),
                table(_LINE_HEADERS + [""], d["lines"].to(list[dict[str, Any]]), _customer_line_row),
                link(t("show_all"), d["lines_url"].to(str)),
                id="customer-lines",
            ),
            section("出荷", table(["出荷番号", "品目", "配送状況", "追跡番号", "依頼日時", "配達日時"],
                                CustomerState.shipments, _shipment_row), id="customer-shipments"),
            section("通知", table(["作成日時", "送信方法", "件名", "送信状況", "送信日時"],
                                CustomerState.notifications, _notification_row), id="customer-notifications"),
            rx.cond(d["can_view_invoices"].to(bool), section(t("invoices"),
                table(["請求書番号", "請求月", "請求額", "状態", "入金状況", "支払期限"], d["invoices"].to(list[dict[str, Any]]),
                      _invoice_row))),
            rx.cond(d["can_view_payments"].to(bool), section(t("payments"),
                table(["入金日時", "金額", "方法", "名義", "状態", ""], d["payments"].to(list[dict[str, Any]]), lambda p: rx.table.row(
                    rx.table.cell(p["received_at"]), rx.table.cell(p["amount"]), rx.table.cell(p["method_label"]),
                    rx.table.cell(p["payer_name"]), rx.table.cell(status_badge(p["status"], p["status_label"])),
                    rx.table.cell(rx.cond(CustomerState.offered.contains("refund_" + p["id"].to(str)),
                                          rx.button("返金を申請", size="1", variant="outline",
                                                    on_click=CustomerState.ask("refund_" + p["id"].to(str))))))))),
            section(t("tickets"), table(["件名", "状態", "受付日時"], d["tickets"].to(list[dict[str, Any]]), _ticket_row)),
            section(t("users"), table(["氏名", "メール", "権限"], d["users"].to(list[dict[str, Any]]), lambda u: rx.table.row(
                rx.table.cell(u["name"]), rx.table.cell(u["email"]), rx.table.cell(u["role_label"])))),
            spacing="4", width="100%",
        )),
        title=rx.cond(CustomerState.loaded, c["name"].to(str), ""),
    )


# ---- lines ------------------------------------------------------------------------------------

_STATUS_FILTERS = [("", "すべて"), ("active", "利用中"), ("suspended", "停止中"), ("applying", "申請中"),
                   ("pending", "保留"), ("needs_review", "要確認"), ("terminated", "解約済")]


def lines_page() -> rx.Component:
    """All lines (filter by state), paged on the server."""
    return admin_shell(
        messages(LineListState),
        rx.flex(*[rx.button(tr(label), size="1", variant=rx.cond(LineListState.status == value, "solid", "soft"),
                            on_click=LineListState.filter_status(value)) for value, label in _STATUS_FILTERS],
                spacing="2", wrap="wrap"),
        table(_LINE_HEADERS, LineListState.rows, _line_row),
        pager(LineListState, LineListState.go),
        title=t("lines"),
    )


def _history_entry(h) -> rx.Component:
    return rx.box(
        rx.text(h["at"], " ・ ", h["actor"], size="1", color="gray"),
        rx.hstack(rx.text(h["action"], weight="medium"),
                  rx.cond(h["status_change"] != "", rx.badge(h["status_change"], variant="soft")),
                  wrap="wrap", spacing="2"),
        rx.cond(h["reason"] != "", rx.text("理由: ", h["reason"], size="2")),
        rx.cond(h["changes"] != "", rx.text(h["changes"], size="1", color="gray")),
        border_left="3px solid var(--accent-8)", padding_left="0.75em", width="100%",
    )


def history(entries: rx.Var) -> rx.Component:
    """The who / when / what / why timeline of a record, newest first."""
    return rx.cond(entries.length() > 0,
                   rx.vstack(rx.foreach(entries, _history_entry), spacing="3", width="100%"),
                   rx.text(t("empty"), size="2", color="gray"))


def line_page() -> rx.Component:
    """One line: current state, contract and customer, SIM and device, usage, and its history."""
    d = LineState.data
    ln = d["line"].to(dict[str, Any])
    return admin_shell(
        messages(LineState),
        _loading(LineState, rx.vstack(
            section(rx.hstack(rx.text(ln["msisdn"].to(str)), status_badge(ln["status"].to(str), ln["status_label"].to(str)),
                              rx.cond(ln["throttled"].to(bool), rx.badge("速度制限中", color_scheme="orange",
                                                                         variant="soft", id="line-throttled")),
                              id="line-status"),
                rx.data_list.root(
                    kv("顧客", link(d["customer"].to(dict[str, Any])["name"].to(str), d["customer"].to(dict[str, Any])["url"].to(str))),
                    kv("契約", link(d["contract"].to(dict[str, Any])["code"].to(str), d["contract"].to(dict[str, Any])["url"].to(str))),
                    kv("料金プラン", d["plan"].to(dict[str, Any])["name"].to(str)),
                    kv("ICCID", ln["iccid"].to(str)), kv("IMSI", ln["imsi"].to(str)),
                    kv("SIM状態", ln["sim_status_label"].to(str)),
                    kv("端末", ln["device_model"].to(str) + " " + ln["imei"].to(str)),
                    kv("開通日時", ln["activated_at"].to(str)),
                ),
                rx.flex(rx.foreach(LineState.actions, lambda a: rx.button(
                    a["label"], on_click=LineState.ask(a["event"]), variant="outline",
                    data_event=a["event"])), spacing="2", wrap="wrap"),
            ),
            confirm_dialog(LineState, LineState.confirm),
            section(t("usage"),
                rx.text(t("month_usage"), ": ", d["month"].to(dict[str, Any])["summary"].to(str), size="2", id="month-usage"),
                rx.progress(value=d["month"].to(dict[str, Any])["percent"].to(int), width="100%"),
                table(["日付", "通信量(MB)"], d["usage"].to(list[dict[str, Any]]), lambda u: rx.table.row(
                    rx.table.cell(u["day"]), rx.table.cell(u["used_mb"])))),
            section("外部連携の履歴", operation_history(d["external_operations"].to(list[dict[str, Any]])),
                    id="line-external-operations"),
            section(t("history"), history(d["history"].to(list[dict[str, Any]])), id="line-history"),
            spacing="4", width="100%",
        )),
        title=rx.cond(LineState.loaded, "回線 " + ln["msisdn"].to(str), ""),
    )


# ---- contracts, invoices, tickets -------------------------------------------------------------

def contract_page() -> rx.Component:
    """One contract: plan, options, lines (and adding one), invoices, history."""
    d = ContractState.data
    k = d["contract"].to(dict[str, Any])
    errors = ContractState.field_errors
    return admin_shell(
        messages(ContractState),
        _loading(ContractState, rx.vstack(
            section(rx.hstack(rx.text(k["code"].to(str)), status_badge(k["status"].to(str), k["status_label"].to(str))),
                rx.data_list.root(
                    kv("顧客", link(d["customer"].to(dict[str, Any])["name"].to(str), d["customer"].to(dict[str, Any])["url"].to(str))),
                    kv("料金プラン", d["plan"].to(dict[str, Any])["name"].to(str) + "（" + d["plan"].to(dict[str, Any])["monthly_fee"].to(str) + "）"),
                    kv("開始日", k["start_date"].to(str)), kv("終了日", k["end_date"].to(str)),
                ),
                rx.flex(rx.foreach(d["options"].to(list[dict[str, Any]]), lambda o: rx.badge(o["name"])), spacing="2", wrap="wrap"),
                rx.flex(rx.foreach(ContractState.actions, lambda a: rx.button(
                    a["label"], on_click=ContractState.ask(a["event"]), variant="outline")), spacing="2", wrap="wrap"),
            ),
            confirm_dialog(ContractState, ContractState.confirm),
            section(t("lines"), table(_LINE_HEADERS, d["lines"].to(list[dict[str, Any]]), _line_row)),
            rx.cond(ContractState.can_add_line, section(t("add_line"), rx.form(
                rx.vstack(
                    field("msisdn", "電話番号", errors, placeholder="090-1234-5678", required=True),
                    field("iccid", "ICCID（在庫のSIM）", errors, required=True),
                    field("imei", "IMEI（任意・在庫の端末）", errors),
                    rx.button(t("add_line"), type="submit", id="add-line"),
                    spacing="3", width="100%", max_width="560px",
                ),
                on_submit=ContractState.add_line, reset_on_submit=False,
            ))),
            rx.cond(d["invoices"].to(list[dict[str, Any]]).length() > 0, section(t("invoices"), table(
                ["請求書番号", "請求月", "請求額", "状態", "入金状況", "支払期限"], d["invoices"].to(list[dict[str, Any]]), _invoice_row))),
            section(t("history"), history(d["history"].to(list[dict[str, Any]]))),
            spacing="4", width="100%",
        )),
        title=rx.cond(ContractState.loaded, "契約 " + k["code"].to(str), ""),
    )


def invoice_page() -> rx.Component:
    """One invoice: items, totals, derived payment state, allocations, card charge and its provider calls."""
    d = InvoiceState.data
    i = d["invoice"].to(dict[str, Any])
    return admin_shell(
        messages(InvoiceState),
        _loading(InvoiceState, rx.vstack(
            section(rx.hstack(rx.text(i["invoice_no"].to(str)), status_badge(i["status"].to(str), i["status_label"].to(str)),
                              rx.cond(i["payment_state"].to(str) != "",
                                      status_badge(i["payment_state"].to(str), i["payment_state_label"].to(str)))),
                rx.data_list.root(
                    kv("顧客", link(d["customer"].to(dict[str, Any])["name"].to(str), d["customer"].to(dict[str, Any])["url"].to(str))),
                    kv("契約", link(i["contract_code"].to(str), i["contract_url"].to(str))),
                    kv("請求月", i["period"].to(str)), kv("発行日", i["issue_date"].to(str)),
                    kv("支払期限", i["due_date"].to(str)), kv("小計", i["subtotal"].to(str)),
                    kv("消費税（10%）", i["tax"].to(str)), kv("合計", i["total"].to(str)),
                    kv("入金済額", i["allocated"].to(str)),
                ),
                rx.flex(rx.foreach(InvoiceState.actions, lambda a: rx.button(
                    a["label"], on_click=InvoiceState.ask(a["event"]), variant="outline", data_event=a["event"])),
                    rx.cond(InvoiceState.can_charge_card, rx.button(
                        "カードで請求", on_click=InvoiceState.ask_card_charge, variant="outline",
                        data_event="charge_card", id="invoice-charge-card")),
                    spacing="2", wrap="wrap"),
            ),
            confirm_dialog(InvoiceState, InvoiceState.confirm),
            section("明細", table(["内容", "数量", "単価", "金額"], d["items"].to(list[dict[str, Any]]), lambda it: rx.table.row(
                rx.table.cell(rx.cond(it["line_url"] != "", link(it["description"], it["line_url"]), it["description"])),
                rx.table.cell(it["quantity"]), rx.table.cell(it["unit_price"]), rx.table.cell(it["amount"])))),
            section("消込", table(["入金日時", "名義", "方法", "消込額"], d["allocations"].to(list[dict[str, Any]]), lambda a: rx.table.row(
                rx.table.cell(a["received_at"]), rx.table.cell(a["payer_name"]), rx.table.cell(a["method_label"]),
                rx.table.cell(a["amount"])))),
            section("外部連携の履歴", operation_history(d["external_operations"].to(list[dict[str, Any]])),
                    id="invoice-external-operations"),
            spacing="4", width="100%",
        )),
        title=rx.cond(InvoiceState.loaded, "請求書 " + i["invoice_no"].to(str), ""),
    )


def ticket_page() -> rx.Component:
    """One support ticket and its conversation."""
    d = TicketState.data
    tk = d["ticket"].to(dict[str, Any])
    return admin_shell(
        messages(TicketState),
        _loading(TicketState, rx.vstack(
            section(rx.hstack(rx.text(tk["subject"].to(str)), status_badge(tk["status"].to(str), tk["status_label"].to(str))),
                rx.data_list.root(
                    kv("顧客", link(d["customer"].to(dict[str, Any])["name"].to(str), d["customer"].to(dict[str, Any])["url"].to(str))),
                    kv("契約", rx.cond(tk["contract_url"].to(str) != "", link(tk["contract_code"].to(str), tk["contract_url"].to(str)), "—")),
                    kv("回線", rx.cond(tk["line_url"].to(str) != "", link(tk["msisdn"].to(str), tk["line_url"].to(str)), "—")),
                    kv("受付日時", tk["created_at"].to(str)),
                ),
            ),
            section("やりとり", rx.foreach(d["messages"].to(list[dict[str, Any]]), lambda m: rx.card(
                rx.text(m["author"], " ・ ", m["at"], size="1", color="gray"), rx.text(m["body"]), width="100%"))),
            spacing="4", width="100%",
        )),
        title=rx.cond(TicketState.loaded, "問い合わせ #" + tk["id"].to(str), ""),
    )
