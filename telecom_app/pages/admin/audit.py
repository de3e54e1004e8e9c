"""The audit log screen (/admin/audit): filters, the entries, CSV export and the tamper check."""

from __future__ import annotations

import reflex as rx

from components.admin.records import record_url
from components.admin.shell import admin_shell
from components.i18n import tr
from components.widgets import field, form_label, link, messages, pager, section, table
from state.admin.audit import AuditState
from telecom_app import routes

_HEADERS = ["番号", "日時", "担当者", "操作", "対象", "理由", "変更内容"]
_SELECT_STYLE = {
    "width": "100%", "height": "var(--space-6)", "padding": "0 0.5em", "font_size": "var(--font-size-2)",
    "border": "1px solid var(--gray-a7)", "border_radius": "var(--radius-2)", "background": "var(--color-surface)",
}


def _choice(name: str, label: str, choices) -> rx.Component:
    """A labelled drop-down of the values found in the log, with "すべて" first."""
    return rx.vstack(
        form_label(tr(label), name),
        rx.el.select(
            rx.el.option(tr("すべて"), value=""),
            rx.foreach(choices, lambda c: rx.el.option(c["label"], value=c["value"])),
            name=name, id=name, default_value=AuditState.filters[name], style=_SELECT_STYLE,
        ),
        spacing="1", width="100%",
    )


def _filter_form() -> rx.Component:
    errors = AuditState.field_errors
    return rx.form(
        rx.vstack(
            rx.grid(
                field("actor_label", "担当者", errors, default_value=AuditState.filters["actor_label"],
                      placeholder="氏名またはメールアドレスの一部"),
                _choice("entity_type", "対象種別", AuditState.entity_types),
                field("entity_id", "対象ID", errors, default_value=AuditState.filters["entity_id"],
                      input_mode="numeric"),
                _choice("action", "操作", AuditState.actions),
                field("since", "期間（開始日）", errors, type="date", default_value=AuditState.filters["since"]),
                field("until", "期間（終了日）", errors, type="date", default_value=AuditState.filters["until"]),
                columns=rx.breakpoints(initial="1", sm="2", md="3"), spacing="3", width="100%",
            ),
            rx.input(type="hidden", name="up_to_id", default_value=AuditState.filters["up_to_id"]),
            rx.flex(
                rx.button(rx.icon("filter"), "絞り込む", type="submit", id="audit-filter"),
                rx.button("条件をクリア", type="button", variant="soft", color_scheme="gray",
                          on_click=AuditState.clear_filters),
                rx.cond(AuditState.can_export,
                        rx.button(rx.icon("download"), "CSV出力", type="button", variant="outline",
                                  on_click=AuditState.export_csv, id="audit-export")),
                spacing="2", wrap="wrap",
            ),
            rx.cond(AuditState.filters["up_to_id"] != "",
                    rx.callout("監査ログ #" + AuditState.filters["up_to_id"] + " 以前のエントリを表示しています。",
                               icon="info", size="1")),
            spacing="3", width="100%",
        ),
        key=AuditState.form_key, on_submit=AuditState.apply_filters, reset_on_submit=False, width="100%",
    )


def _verifier() -> rx.Component:
    return section(
        "改ざん検証",
        rx.text("監査ログのハッシュチェーンを先頭から再計算し、記録後に書き換え・削除されたエントリがないかを確認します。",
                size="2", color="gray"),
        rx.button(rx.icon("shield_check"), "検証", on_click=AuditState.verify, id="audit-verify",
                  width="fit-content"),
        rx.cond(AuditState.verified, rx.cond(
            AuditState.verify_intact,
            rx.callout(AuditState.verify_message, color_scheme="green", icon="shield_check", id="verify-result",
                       width="100%"),
            rx.callout(
                rx.vstack(
                    rx.text(AuditState.verify_message),
                    rx.cond(AuditState.verify_broken_id > 0,
                            link("監査ログ #" + AuditState.verify_broken_id.to(str) + " とそれ以前を表示",
                                 routes.admin_audit_up_to(AuditState.verify_broken_id))),
                    spacing="1",
                ),
                color_scheme="red", icon="shield_alert", role="alert", id="verify-result", width="100%",
            ),
        )),
    )


def _sealed(e, f) -> rx.Component:
    """A sensitive field's before-value kept encrypted: shown to an auditor after giving a reason."""
    key = e["id"].to(str) + ":" + f["field"].to(str)
    return rx.hstack(
        rx.badge("変更前の", f["label"], "：暗号化して保管", size="1", color_scheme="gray"),
        rx.cond(AuditState.revealed.contains(key),
                rx.text(AuditState.revealed[key], size="1", weight="bold", data_revealed=key),
                rx.cond(e["can_reveal_sealed"].to(bool),
                        rx.button("表示", size="1", variant="outline", data_reveal=key,
                                  on_click=AuditState.ask_reveal(e["id"].to(int), f["field"].to(str))))),
        spacing="2", align="center", wrap="wrap",
    )


def _reveal_dialog() -> rx.Component:
    """Asks the auditor why the before-value must be shown; the reason goes to the audit log."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("変更前の値を表示"),
            rx.dialog.description(AuditState.revealing["label"].to(str),
                                  "。表示した担当者と理由は監査ログに記録されます。"),
            rx.form(
                rx.vstack(
                    rx.text("理由", size="2", weight="medium"),
                    rx.text_area(name="reason", required=True, width="100%", id="sealed-reason"),
                    rx.cond(AuditState.field_errors.contains("reason"),
                            rx.text(AuditState.field_errors["reason"], color="red", size="2")),
                    rx.hstack(
                        rx.button("キャンセル", type="button", variant="soft", color_scheme="gray",
                                  on_click=AuditState.cancel_reveal),
                        rx.button("表示", type="submit", id="sealed-submit"),
                        justify="end", width="100%"),
                    spacing="3"),
                on_submit=AuditState.confirm_reveal, reset_on_submit=True),
        ),
        open=AuditState.revealing.length() > 0,
    )


def _entry_row(e) -> rx.Component:
    entity = e["entity_label"].to(str) + " #" + e["entity_id"].to(str)
    return rx.table.row(
        rx.table.cell(rx.text("#", e["id"].to(str), size="1")),
        rx.table.cell(rx.text(e["at"], size="1", white_space="nowrap")),
        rx.table.cell(rx.text(e["actor"], size="1"), rx.text(e["actor_kind_label"], size="1", color="gray")),
        rx.table.cell(rx.text(e["action_label"], size="2"), rx.text(e["action"], size="1", color="gray")),
        rx.table.cell(rx.cond(e["entity_id"].to(int) != 0, link(entity, record_url(e["entity_type"], e["entity_id"])), rx.text(entity, size="2"))),
        rx.table.cell(rx.text(e["reason"], size="1")),
        rx.table.cell(rx.text(e["changes"], size="1", color="gray", max_width="28em"),
                      rx.foreach(e["sealed"].to(list[dict[str, str]]), lambda f: _sealed(e, f))),
        background=rx.cond(e["id"].to(int) == AuditState.verify_broken_id, "var(--red-a3)", "transparent"),
        data_entry_id=e["id"].to(str),
    )


def audit_page() -> rx.Component:
    """The audit log: who changed what, when and why, with filters, CSV export and the verifier."""
    return admin_shell(
        messages(AuditState),
        rx.cond(AuditState.can_verify, _verifier()),
        section("絞り込み", _filter_form()),
        rx.box(table(_HEADERS, AuditState.rows, _entry_row), id="audit-list", width="100%"),
        _reveal_dialog(),
        pager(AuditState, AuditState.go),
        title="監査ログ",
    )
