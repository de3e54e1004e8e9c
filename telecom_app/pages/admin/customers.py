"""Customers: the list, registering one, and the 360° view."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.admin.records import LINE_HEADERS, invoice_row, line_row, loading, ticket_row
from components.admin.shell import admin_shell
from components.company_users import company_users
from components.i18n import t, tr
from components.widgets import (
    confirm_dialog,
    field,
    form_label,
    kv,
    link,
    messages,
    pager,
    section,
    status_badge,
    table,
)
from state.admin.customers import (
    CustomerAccessState,
    CustomerListState,
    CustomerMandateState,
    CustomerState,
    NewCustomerState,
)
from telecom_app import routes


def _customer_row(c) -> rx.Component:
    return rx.table.row(
        rx.table.cell(link(c["code"], routes.admin_customer(c["id"]))),
        rx.table.cell(link(c["name"], routes.admin_customer(c["id"]))),
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
    return line_row(ln, rx.table.cell(rx.cond(
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
                    form_label(t("reason"), "reveal-reason"),
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
        loading(CustomerState, rx.vstack(
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
                    rx.table.cell(link(k["code"], routes.admin_contract(k["id"]))),
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
                table(LINE_HEADERS + [""], d["lines"].to(list[dict[str, Any]]), _customer_line_row),
                link(t("show_all"), routes.admin_lines_of(d["customer"].to(dict[str, Any])["id"])),
                id="customer-lines",
            ),
            section("出荷", table(["出荷番号", "品目", "配送状況", "追跡番号", "依頼日時", "配達日時"],
                                CustomerState.shipments, _shipment_row), id="customer-shipments"),
            section("通知", table(["作成日時", "送信方法", "件名", "送信状況", "送信日時"],
                                CustomerState.notifications, _notification_row), id="customer-notifications"),
            rx.cond(d["can_view_invoices"].to(bool), section(t("invoices"),
                table(["請求書番号", "請求月", "請求額", "状態", "入金状況", "支払期限"], d["invoices"].to(list[dict[str, Any]]),
                      invoice_row))),
            rx.cond(d["can_view_payments"].to(bool), section(t("payments"),
                table(["入金日時", "金額", "方法", "名義", "状態", ""], d["payments"].to(list[dict[str, Any]]), lambda p: rx.table.row(
                    rx.table.cell(p["received_at"]), rx.table.cell(p["amount"]), rx.table.cell(p["method_label"]),
                    rx.table.cell(p["payer_name"]), rx.table.cell(status_badge(p["status"], p["status_label"])),
                    rx.table.cell(rx.cond(CustomerState.offered.contains("refund_" + p["id"].to(str)),
                                          rx.button("返金を申請", size="1", variant="outline",
                                                    on_click=CustomerState.ask("refund_" + p["id"].to(str))))))))),
            rx.cond(d["can_view_payments"].to(bool), _mandates()),
            section(t("tickets"), table(["件名", "状態", "受付日時"], d["tickets"].to(list[dict[str, Any]]), ticket_row)),
            section("マイページの利用者", company_users(CustomerAccessState), id="customer-users"),
            spacing="4", width="100%",
        )),
        title=rx.cond(CustomerState.loaded, c["name"].to(str), ""),
    )


def _mandates() -> rx.Component:
    m = CustomerMandateState
    e = m.field_errors
    return section("口座振替・登録カード", rx.vstack(
        messages(m),
        table(["金融機関-支店", "口座", "名義（カナ）", "状態", "登録日時", ""], m.rows, lambda r: rx.table.row(
            rx.table.cell(r["bank"]), rx.table.cell(r["account"]), rx.table.cell(r["holder"]), rx.table.cell(r["status"]),
            rx.table.cell(r["created_at"]),
            rx.table.cell(rx.cond((r["status"] == "有効") & m.can_manage,
                                  rx.button("解除", size="1", variant="outline", on_click=m.revoke(r["id"])))))),
        rx.cond(m.cards.length() > 0, table(
            ["登録カード", "有効期限", "状態", "登録日時", "登録者（お客様）"], m.cards, lambda c: rx.table.row(
                rx.table.cell(c["masked"]), rx.table.cell(c["expiry"]), rx.table.cell(c["status_label"]),
                rx.table.cell(c["registered_at"]), rx.table.cell(c["registered_by"])))),
        rx.cond(m.can_manage, rx.button(rx.cond(m.registering, "閉じる", "口座を登録"), size="1", variant="soft",
                                        on_click=m.toggle, id="mandate-toggle")),
        rx.cond(m.registering, rx.form(rx.vstack(
            field("bank_code", "金融機関コード（4桁）", e, required=True, input_mode="numeric"),
            field("branch_code", "支店コード（3桁）", e, required=True, input_mode="numeric"),
            rx.text("預金種目", size="2", weight="medium"),
            rx.select.root(rx.select.trigger(), rx.select.content(
                rx.select.item("普通", value="1"), rx.select.item("当座", value="2"), rx.select.item("その他", value="9")),
                name="account_type", default_value="1"),
            field("account_number", "口座番号（7桁まで）", e, required=True, input_mode="numeric"),
            field("holder_name", "口座名義（カタカナ、銀行に届け出た表記）", e, required=True),
            rx.button("登録", type="submit", id="mandate-submit"), spacing="3", width="100%", max_width="480px"),
            on_submit=m.register, reset_on_submit=False, key=m.form_key)),
        spacing="3", width="100%"), id="customer-mandates")
