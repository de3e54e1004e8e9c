"""/my: each line with this month's data against the cap (a bar per day, the running total, the cap)."""

from __future__ import annotations

import reflex as rx

from components.i18n import t, tr
from components.my.addons import addon_button, addon_dialog
from components.my.shell import my_shell
from components.widgets import messages, status_badge
from state.my.addons import MyAddonState
from state.my.home import MyHomeState
from telecom_app import routes


def _usage_chart(line: rx.Var) -> rx.Component:
    return rx.recharts.composed_chart(
        rx.recharts.bar(data_key="mb", name=tr("日別 (MB)"), fill="var(--accent-8)"),
        rx.recharts.line(data_key="total_mb", name=tr("累計 (MB)"), stroke="var(--accent-11)", dot=False,
                         type_="monotone"),
        rx.recharts.reference_line(y=line["cap_mb"], stroke="var(--red-9)", stroke_dasharray="4 4",
                                   label=tr("上限")),
        rx.recharts.x_axis(data_key="day", tick_line=False, font_size=11),
        rx.recharts.y_axis(width=44, font_size=11),
        rx.recharts.graphing_tooltip(),
        data=line["daily"], width="100%", height=200,
    )


def _line_card(line: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.text(line["msisdn"], weight="bold", size="4"),
                rx.spacer(),
                status_badge(line["status"], line["status_label"]),
                align="center", width="100%", wrap="wrap", gap="2",
            ),
            rx.text(line["plan_name"], size="2", color="var(--gray-11)"),
            rx.text(t("my_usage"), size="2", weight="medium"),
            rx.text(line["used_mb"], " MB / ", rx.cond(line["cap_mb"].to(int) > 0, line["cap_mb"], "—"), " MB", size="5",
                    weight="bold", data_usage=line["id"]),
            rx.progress(value=line["percent"], max=100, width="100%",
                        color_scheme=rx.cond(line["percent"].to(int) >= 100, "red",
                                             rx.cond(line["percent"].to(int) >= 80, "amber", "green"))),
            rx.cond(line["throttled"], rx.callout(t("my_throttled"), color_scheme="red", icon="gauge",
                                                  width="100%")),
            rx.cond(line["addon_offered"], addon_button(line)),  # throttled or nearly full: 追加データ
            rx.text(t("my_days_left"), ": ", line["days_left"], t("my_days_unit"), size="2"),
            rx.box(_usage_chart(line), width="100%", class_name="usage-chart"),
            rx.link(t("my_line_open"), " ›", href=routes.my_line(line["id"]), id=f"open-line-{line['id']}",
                    size="3", min_height="48px", display="flex", align_items="center"),  # 停止・解約・MNP・SIM再発行
            spacing="2", width="100%",
        ),
        width="100%", id=f"line-{line['id']}",
    )


def my_home_page() -> rx.Component:
    """The customer's home page."""
    return my_shell(
        t("my_home"),
        messages(MyHomeState),
        messages(MyAddonState), addon_dialog(),
        rx.button(rx.link(rx.icon("file-text", size=18), t("my_contracts"), href=routes.MY_CONTRACTS,
                          id="my-contracts-link"), as_child=True, size="3", variant="outline", width="100%",
                  min_height="48px"),
        rx.cond(MyHomeState.lines.length() > 0,
                rx.vstack(rx.foreach(MyHomeState.lines, _line_card), spacing="3", width="100%"),
                rx.text(t("my_no_lines"))),
    )
