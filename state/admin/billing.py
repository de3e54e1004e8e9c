"""請求締め: the billing runs, starting last month's, and one run's progress, review and issue."""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.billing import billing_runs
from services.platform.clock import today_in_tokyo
from services.platform.permissions import can
from services.read.staff import receivables
from state.feedback import MessagesMixin, int_param, require_offered
from state.session import STAFF, actor, guarded
from telecom_app import routes


def last_period() -> str:
    """The month that ended last (the one a run bills now)."""
    return billing_runs.previous_period(today_in_tokyo().strftime("%Y-%m"))


class BillingRunsState(MessagesMixin, rx.State):
    """The list of runs and the button that starts last month's."""

    runs: list[dict[str, Any]] = []
    period: str = ""
    can_run: bool = False

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the runs (newest month first)."""
        self.period = last_period()
        self.can_run = can(actor(), "billing.run")
        self.runs = receivables.billing_runs(actor=actor())

    @rx.event
    @guarded(STAFF)
    def start(self, form: dict):
        """Ask for the run of a month (last month by default): a worker makes the drafts."""
        require_offered(self.can_run, "BillingRunsState.start")
        run, message = billing_runs.request_run((form.get("period") or self.period).strip(), actor=actor())
        self.notice = message
        return rx.redirect(routes.admin_billing_run(run.id))


class BillingRunState(MessagesMixin, rx.State):
    """One run: progress while the worker drafts or issues, totals against last month, the anomalies to
    acknowledge, then review and issue."""

    data: dict[str, Any] = {"run": {}, "anomalies": [], "can_review": False, "can_issue": False, "can_resume": False}
    loaded: bool = False
    acknowledging: int = 0
    confirming: str = ""  # "review" | "issue" | ""

    @rx.var
    def busy(self) -> bool:
        """True while a worker drafts or issues (the page refreshes itself)."""
        return self.data.get("run", {}).get("status", "") in ("queued", "running", "issuing")

    @rx.event
    @guarded(STAFF)
    def load(self):
        """Read the run named in the URL."""
        self.loaded, self.acknowledging, self.confirming = False, 0, ""
        self._refresh()
        self.loaded = True

    @rx.event
    @guarded(STAFF)
    def refresh(self, _value: Any = None):
        """Read the run again (every few seconds while a worker is busy)."""
        if self.data.get("run"):
            self._refresh()

    def _run_id(self) -> int:
        return int_param(self.router._page.params.get("run_id"))

    def _refresh(self) -> None:
        self.data = receivables.billing_run_detail(self._run_id(), actor=actor())

    @rx.event
    @guarded(STAFF)
    def ask_acknowledge(self, anomaly_id: int):
        """Open the note field for one flagged draft."""
        offered = any(a["id"] == anomaly_id and not a["acknowledged"] for a in self.data.get("anomalies", []))
        require_offered(offered and self.data.get("can_review", False), "BillingRunState.ask_acknowledge")
        self.acknowledging = anomaly_id

    @rx.event
    @guarded(STAFF)
    def acknowledge(self, form: dict):
        """Record what was found for the flagged draft."""
        require_offered(self.acknowledging != 0, "BillingRunState.acknowledge")
        billing_runs.acknowledge_anomaly(self.acknowledging, actor=actor(), note=form.get("note") or "")
        self.acknowledging = 0
        self.notice = "確認済にしました。"
        self._refresh()

    @rx.event
    @guarded(STAFF)
    def ask(self, what: str):
        """Open the confirmation for review or issue."""
        offered = (what == "review" and self.data.get("can_review")) or (what == "issue" and self.data.get("can_issue"))
        require_offered(bool(offered), f"BillingRunState.ask({what!r})")
        self.confirming = what

    @rx.event
    @guarded(STAFF)
    def cancel(self):
        """Close the confirmation or the note field."""
        self.confirming, self.acknowledging = "", 0

    @rx.event
    @guarded(STAFF)
    def confirm(self, form: dict):
        """Mark the drafts reviewed, or issue them (a worker issues and tells the customers)."""
        what, run_id = self.confirming, self.data.get("run", {}).get("id", 0)
        require_offered(what in ("review", "issue") and bool(run_id), "BillingRunState.confirm")
        if what == "review":
            billing_runs.review_run(run_id, actor=actor(), reason=form.get("reason") or "")
            self.notice = "下書きを確認済にしました。発行できます。"
        else:
            billing_runs.issue_run(run_id, actor=actor())
            self.notice = "発行を開始しました。完了するとお客様に請求書発行のお知らせが届きます。"
        self.confirming = ""
        self._refresh()

    @rx.event
    @guarded(STAFF)
    def resume(self):
        """Resume a run that stopped (it continues where it stopped)."""
        require_offered(self.data.get("can_resume", False), "BillingRunState.resume")
        _, message = billing_runs.request_run(self.data["run"]["period"], actor=actor())
        self.notice = message
        self._refresh()
