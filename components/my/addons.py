"""Add-on data on the home page: a 「データを追加」 button on a line card (a throttled or nearly full line) and the
confirmation that names the size, its price, this month's cap after it, whether the speed limit is lifted and
that the charge is on next month's bill."""

from __future__ import annotations

import reflex as rx

from components.i18n import t, tr
from state.my.addons import MyAddonState

TOUCH = "48px"


def addon_button(line: rx.Var) -> rx.Component:
    """The button on a line card that opens the add-on confirmation."""
    return rx.button(rx.icon("plus", size=18), t("my_add_data"), on_click=MyAddonState.ask(line["id"]),
                     size="3", width="100%", min_height=TOUCH, variant="solid", id=f"add-data-{line['id']}")


def _size(addon: rx.Var) -> rx.Component:
    rid = "addon-" + addon["code"].to(str)
    return rx.el.label(
        rx.el.input(type="radio", name="addon", value=addon["code"], id=rid,
                    checked=MyAddonState.chosen == addon["code"], on_change=MyAddonState.choose(addon["code"]),
                    style={"width": "22px", "height": "22px", "flex_shrink": "0"}),
        rx.vstack(rx.text(addon["label"], size="3", weight="medium"),
                  rx.text(tr("今月の上限"), ": ", addon["cap_after_mb"], " MB", size="2", color="var(--gray-11)"),
                  spacing="0"),
        html_for=rid, display="flex", align_items="center", gap="0.75em", min_height=TOUCH, width="100%",
        padding="0.25em 0.5em", border="1px solid var(--gray-6)", border_radius="8px", cursor="pointer",
    )


def _chosen_effect() -> rx.Component:
    return rx.foreach(MyAddonState.addons, lambda a: rx.cond(
        (a["code"] == MyAddonState.chosen) & MyAddonState.offer["throttled"].to(bool),
        rx.callout(rx.cond(a["lifts_throttle"], tr("購入すると速度制限の解除を手配します（反映まで少しかかります）。"),
                           tr("この容量を追加しても今月の通信量が上限を超えたままのため、速度制限は続きます。")),
                   icon="gauge", color_scheme=rx.cond(a["lifts_throttle"], "green", "amber"), width="100%",
                   id="addon-effect")))


def addon_dialog() -> rx.Component:
    """The add-on confirmation (one per page)."""
    o = MyAddonState.offer
    return rx.dialog.root(rx.dialog.content(
        rx.dialog.title(t("my_add_data")),
        rx.dialog.description(o["msisdn"].to(str) + "（" + o["plan_name"].to(str) + "）", size="2"),
        rx.vstack(
            rx.text(tr("今月のご利用"), ": ", o["used_mb"], " MB / ", tr("上限"), " ", o["cap_mb"], " MB", size="2"),
            rx.cond(MyAddonState.addons.length() > 0,
                    rx.vstack(rx.foreach(MyAddonState.addons, _size), spacing="2", width="100%",
                              role="radiogroup", aria_label=tr("追加するデータ")),
                    rx.text(tr("この回線に追加できるデータはありません。"), size="2")),
            _chosen_effect(),
            rx.callout(o["billing_note"].to(str), icon="receipt", width="100%", id="addon-billing-note"),
            rx.cond(MyAddonState.error != "", rx.text(MyAddonState.error, color="red", size="2", role="alert")),
            rx.flex(
                rx.button(t("cancel"), type="button", variant="soft", color_scheme="gray", size="3",
                          min_height=TOUCH, flex="1", on_click=MyAddonState.cancel),
                rx.button(t("my_buy_data"), size="3", min_height=TOUCH, flex="1", on_click=MyAddonState.confirm,
                          disabled=MyAddonState.chosen == "", id="addon-confirm"),
                gap="2", width="100%",
            ),
            spacing="3", width="100%",
        ),
        max_width="420px",
    ), open=MyAddonState.confirming)
