"""One line in the customer app: what may be asked for it (停止・再開・解約・MNP予約番号・SIM再発行), the request
form with its reason, and the line's requests as timelines."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.ledger import customer_requests
from services.platform.labels import label
from services.read.customer import requests
from state.feedback import MessagesMixin, int_param, require_offered
from state.session import CUSTOMER, actor, guarded
from telecom_app import routes


class MyLineState(MessagesMixin, rx.State):
    """The line page: the line, the requests it offers now, the open form and the timelines."""

    line_view: dict[str, Any] = {}
    line_actions: list[dict[str, Any]] = []
    line_requests: list[dict[str, Any]] = []
    line_terms: list[str] = []
    form_kind: str = ""  # the request whose form is open ("" = none)

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load: the line in the URL (another company's, or not theirs: 見つかりません); a request named in
        the URL (a notice's link) shown first and marked."""
        self.line_view, self.line_actions, self.line_requests, self.line_terms = {}, [], [], []
        self.form_kind = ""
        self._show(requests.my_line(int_param(self.router._page.params.get("line_id")), actor=actor()))

    def _show(self, data: dict[str, Any]) -> None:
        self.line_actions = data.pop("actions")
        focus = dict(self.router.url.query_parameters).get(routes.FOCUS_REQUEST, "")
        self.line_requests = requests.focused_first(data.pop("requests"), focus)
        self.line_terms = data.pop("termination_terms")
        self.line_view = data

    def _offered(self, kind: str) -> bool:
        return bool(self.line_view) and any(a["kind"] == kind and a["allowed"] for a in self.line_actions)

    @rx.event
    @guarded(CUSTOMER)
    def open_form(self, kind: str):
        """Open the form of a request the page offers now."""
        require_offered(self._offered(kind), f"my line request {kind}")
        self.form_kind = kind
        self.notice = ""

    @rx.event
    @guarded(CUSTOMER)
    def close_form(self):
        """Close the form without asking."""
        self.form_kind = ""

    @rx.event
    @guarded(CUSTOMER)
    def submit_request(self, form: dict):
        """Send the open form: one request of the customer for the line (staff decide; nothing runs at once)."""
        kind = self.form_kind
        require_offered(self._offered(kind), f"my line request {kind}")
        line_id = int(self.line_view["id"])
        reason, details = str(form.get("reason") or ""), str(form.get("details") or "")
        if kind in customer_requests.LINE_REQUESTS:
            request = customer_requests.request_line_change(
                line_id, kind, actor=actor(), reason=reason, details=details,
                confirm_number=str(form.get("confirm_number") or ""))
            urgent = "（至急で対応します）" if request.urgent else ""
            notice = (f"{label('request_kind', kind)}のお申し込みを受け付けました（受付番号 #{request.id}）{urgent}。"
                      "担当者が確認して手続きします。")
        elif kind == "mnp":
            customer_requests.request_mnp_number(line_id, actor=actor())
            notice = "MNP予約番号の発行をお申し込みいただきました。発行されるとお知らせします。"
        else:
            ticket = customer_requests.request_sim_reissue(line_id, actor=actor(), reason=reason, details=details)
            notice = f"SIM再発行のお申し込みを受け付けました（問い合わせ T-{ticket.id:06d}）。担当者からご連絡します。"
        self.form_kind = ""
        self._show(requests.my_line(line_id, actor=actor()))
        self.notice = notice
