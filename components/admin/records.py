"""Record pieces several staff screens show: loading, line / invoice / ticket rows and the change history."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.widgets import link, status_badge
from telecom_app import routes


def loading(state, body: rx.Component) -> rx.Component:
    """The record once `state` has loaded it (a loading line until then; nothing if loading failed)."""
    return rx.cond(state.loaded, body, rx.cond(state.error != "", rx.fragment(), rx.text(t("loading"))))


def line_row(ln, *extra_cells) -> rx.Component:
    """A line as a table row: number, state, contract, SIM and device (plus any extra cells)."""
    return rx.table.row(
        rx.table.cell(link(ln["msisdn"], routes.admin_line(ln["id"]))),
        rx.table.cell(status_badge(ln["status"], ln["status_label"])),
        rx.table.cell(link(ln["contract_code"], routes.admin_contract(ln["contract_id"]))),
        rx.table.cell(rx.text(ln["iccid"], size="1"), rx.text(ln["sim_status_label"], size="1", color="gray")),
        rx.table.cell(rx.text(ln["device_model"], size="1"), rx.text(ln["imei"], size="1", color="gray")),
        *extra_cells,
    )


LINE_HEADERS = ["電話番号", "状態", "契約", "SIM（ICCID）", "端末（IMEI）"]


def invoice_row(i) -> rx.Component:
    """An invoice as a table row: number, period, total, state, payment state and due date."""
    return rx.table.row(
        rx.table.cell(link(i["invoice_no"], routes.admin_invoice(i["id"]))),
        rx.table.cell(i["period"]),
        rx.table.cell(i["total"]),
        rx.table.cell(status_badge(i["status"], i["status_label"])),
        rx.table.cell(rx.cond(i["payment_state"] != "", status_badge(i["payment_state"], i["payment_state_label"]))),
        rx.table.cell(i["due_date"]),
    )


def ticket_row(tk) -> rx.Component:
    """A support ticket as a table row: subject, state and when it was opened."""
    return rx.table.row(
        rx.table.cell(link(tk["subject"], routes.admin_ticket(tk["id"]))),
        rx.table.cell(status_badge(tk["status"], tk["status_label"])),
        rx.table.cell(tk["created_at"]),
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


def record_url(kind: rx.Var, record_id: rx.Var) -> rx.Var:
    """The staff screen of a record named by kind and id on the page ("" for kinds without a screen)."""
    return rx.match(kind, *[(name, build(record_id)) for name, build in routes.ADMIN_RECORDS.items()], "")
