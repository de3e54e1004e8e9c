"""Small building blocks: status badges, labelled fields with errors, sections, pagers, dialogs."""

from __future__ import annotations

import reflex as rx

from components.i18n import t, tr

STATUS_COLORS = {
    "active": "green", "suspended": "orange", "terminated": "gray", "applying": "blue",
    "pending": "amber", "needs_review": "red", "draft": "gray", "applied": "blue",
    "cancellation_requested": "amber", "issued": "blue", "void": "gray", "open": "red",
    "in_progress": "blue", "waiting_customer": "amber", "resolved": "green", "closed": "gray",
    "unpaid": "red", "partially_paid": "amber", "paid": "green", "overpaid": "purple",
    "in_stock": "gray", "assigned": "blue", "matched": "green", "unmatched": "red",
    # shipments (配送状況) and notification delivery (送信状況)
    "requested": "amber", "accepted": "blue", "picked_up": "blue", "in_transit": "blue", "delivered": "green",
    "return_requested": "amber", "return_in_transit": "amber", "returned": "gray", "failed": "red",
    "waiting": "amber", "sent": "green", "unknown": "red",
}


def status_badge(status: rx.Var | str, label: rx.Var | str) -> rx.Component:
    """A coloured badge for a lifecycle state, showing its Japanese name."""
    return rx.badge(
        label,
        color_scheme=rx.match(status, *[(k, v) for k, v in STATUS_COLORS.items()], "gray"),
        variant="soft", size="2", data_status=status,
    )


def form_label(text: rx.Var | str | rx.Component, target: str | rx.Var) -> rx.Component:
    """A label tied to the input with id `target` (tapping it focuses the input; screen readers name the input)."""
    return rx.el.label(rx.text(text, size="2", weight="medium"), html_for=target)


def field(name: str, label: rx.Var | str, errors: rx.Var, **props) -> rx.Component:
    """A labelled input with its error message right below it."""
    label = tr(label) if isinstance(label, str) else label
    return rx.vstack(
        form_label(label, name),
        rx.input(name=name, id=name, width="100%", **props),
        rx.cond(errors.contains(name), rx.text(errors[name], color="red", size="2", data_error=name)),
        spacing="1", width="100%",
    )


def messages(state) -> rx.Component:
    """The page-level error and notice of a state."""
    return rx.fragment(
        rx.cond(state.error != "", rx.callout(state.error, color_scheme="red", icon="triangle_alert",
                                              role="alert", width="100%")),
        rx.cond(state.notice != "", rx.callout(state.notice, color_scheme="green", icon="check",
                                               width="100%")),
    )


def section(title: rx.Var | str, *children, **props) -> rx.Component:
    """A titled card."""
    title = tr(title) if isinstance(title, str) else title
    return rx.card(rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%"),
                   width="100%", **props)


def kv(label: rx.Var | str, value: rx.Var | str | rx.Component) -> rx.Component:
    """One label/value row of a details list."""
    label = tr(label) if isinstance(label, str) else label
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))


def table(headers: list, rows: rx.Var, render_row) -> rx.Component:
    """A table that scrolls sideways on a phone; says so when there is nothing to show."""
    return rx.cond(
        rows.length() > 0,
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(tr(h) if isinstance(h, str) else h)
                                               for h in headers])),
                rx.table.body(rx.foreach(rows, render_row)),
                size="1", variant="surface", width="100%",
            ),
            overflow_x="auto", width="100%",
        ),
        rx.text(t("empty"), size="2", color="gray"),
    )


def link(text, href) -> rx.Component:
    """An in-app link."""
    return rx.link(text, href=href)


def pager(state, on_go) -> rx.Component:
    """Previous / next controls for a server-paged list."""
    return rx.hstack(
        rx.button(t("previous"), on_click=on_go(state.page - 1), disabled=state.page <= 1, variant="soft"),
        rx.text(state.page, " / ", state.pages, "（", state.total, "件）", size="2"),
        rx.button(t("next"), on_click=on_go(state.page + 1), disabled=state.page >= state.pages, variant="soft"),
        align="center", spacing="3",
    )


def confirm_dialog(state, on_submit, *fields: rx.Component) -> rx.Component:
    """A dialog that states exactly what will happen and asks for a reason before doing it.

    Operations that need approval show the before -> after rows and become a request; irreversible
    ones need the confirmation word typed; duplicates are warned about. `fields` are more inputs the
    operation needs (shown above the reason and sent with the form).
    """
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(state.pending_label),
            rx.dialog.description(state.pending_summary, id="confirm-summary"),
            rx.cond(state.pending_changes.length() > 0, rx.box(
                rx.table.root(
                    rx.table.header(rx.table.row(rx.table.column_header_cell(tr("項目")),
                                                 rx.table.column_header_cell(tr("変更前")),
                                                 rx.table.column_header_cell(tr("変更後")))),
                    rx.table.body(rx.foreach(state.pending_changes, lambda c: rx.table.row(
                        rx.table.cell(c["field"]), rx.table.cell(c["before"]),
                        rx.table.cell(rx.text(c["after"], weight="bold"))))),
                    size="1", variant="surface", width="100%",
                ), overflow_x="auto", width="100%", margin_y="0.5em")),
            rx.foreach(state.pending_warnings, lambda w: rx.callout(w, color_scheme="amber", icon="triangle_alert",
                                                                    size="1", margin_y="0.25em")),
            rx.form(
                rx.vstack(
                    *fields,
                    form_label(t("reason"), "confirm-reason"),
                    rx.text_area(name="reason", required=True, width="100%", id="confirm-reason"),
                    rx.cond(state.field_errors.contains("reason"),
                            rx.text(state.field_errors["reason"], color="red", size="2")),
                    rx.cond(state.confirm_word != "", rx.vstack(
                        form_label(rx.fragment("確認のため「", state.confirm_word, "」と入力してください。"), "confirm-word"),
                        rx.input(name="confirm_word", id="confirm-word", width="100%", autocomplete="off"),
                        rx.cond(state.field_errors.contains("confirm_word"),
                                rx.text(state.field_errors["confirm_word"], color="red", size="2")),
                        spacing="1", width="100%")),
                    rx.cond(state.pending_warnings.length() > 0, rx.hstack(
                        rx.checkbox(name="confirm_repeat", id="confirm-repeat"),
                        rx.text("警告を確認した上で申請する", size="2"), align="center")),
                    rx.cond(state.error != "", rx.text(state.error, color="red", size="2", role="alert")),
                    rx.hstack(
                        rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray",
                                  on_click=state.cancel),
                        rx.button(rx.cond(state.needs_approval, t("request_approval"), t("execute")),
                                  type="submit", color_scheme="red", id="confirm-submit"),
                        justify="end", width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=on_submit, reset_on_submit=False,
            ),
        ),
        open=state.pending_event != "",
    )
