"""/my/shipments/[shipment_id]: a SIM or device on its way — its tracking number and timeline."""

from __future__ import annotations

import reflex as rx

from components.i18n import t
from components.my.shell import my_shell
from components.widgets import messages
from state.my.shipments import MyShipmentState


def _step(step: rx.Var) -> rx.Component:
    reached = step["reached"].to(bool)
    return rx.flex(
        rx.box(rx.cond(reached, rx.icon("circle-check", size=22, color="var(--green-10)"),
                       rx.icon("circle", size=22, color="var(--gray-8)")), flex_shrink="0"),
        rx.vstack(
            rx.text(step["label"], size="3", weight=rx.cond(step["current"].to(bool), "bold", "regular"),
                    color=rx.cond(reached, "var(--gray-12)", "var(--gray-10)")),
            rx.cond(step["at"] != "", rx.text(step["at"], size="1", color="var(--gray-11)")),
            spacing="0", min_width="0",
        ),
        gap="3", align="start", width="100%", min_height="44px",
        data_step=step["status"], data_reached=rx.cond(reached, "true", "false"),
    )


def my_shipment_page() -> rx.Component:
    """The tracking page of one shipment."""
    shipment = MyShipmentState.shipment
    return my_shell(
        t("my_shipment"),
        messages(MyShipmentState),
        rx.cond(
            shipment.contains("id"),
            rx.vstack(
                rx.card(rx.vstack(
                    rx.flex(rx.text(shipment["item_label"], weight="bold", size="4"), rx.spacer(),
                            rx.badge(shipment["status_label"], size="2", id="shipment-status"), width="100%",
                            align="center"),
                    rx.text(t("my_tracking_number"), size="1", color="var(--gray-11)"),
                    rx.text(rx.cond(shipment["tracking_number"] != "", shipment["tracking_number"], "—"),
                            size="4", weight="bold", id="tracking-number", word_break="break_all"),
                    rx.text(shipment["order_ref"], " · ", shipment["created_at"], size="1", color="var(--gray-11)"),
                    spacing="1", width="100%"), width="100%"),
                rx.card(rx.vstack(rx.foreach(MyShipmentState.steps, _step), spacing="2", width="100%",
                                  id="tracking-steps"), width="100%"),
                spacing="3", width="100%",
            ),
        ),
    )
