"""日次突合 of the carrier's line report: differences become review items, usage is stored, nothing is fixed."""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
import pytest
from sqlmodel import col, select

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from services.integrations.carrier import CarrierClient
from services.ledger import carrier_report, lines
from services.models import AuditEntry, ExternalOperation, Line, ReconciliationRun, ReviewItem, UsageRecord
from services.platform.clock import today_in_tokyo
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, PermissionDenied, ValidationFailed
from services.read.staff import review as review_queue
from services.tasks.daily import run_reconciliation
from services.workflow import daily_reconciliation, outbox
from state.admin.review import DailyReconciliationState, ReviewQueueState
from telecom_app import routes
from tests.unit.screens import signed_in_token, state_for

HEADER = "date,msisdn,iccid,plan,state,throttled,usage_mb\n"
TODAY = today_in_tokyo()


class FakeCarrier:
    """The carrier's report endpoint: rows per day (digits MSISDN -> (state, usage)), or down."""

    def __init__(self):
        self.lines: dict[str, tuple[str, str]] = {}
        self.throttled: set[str] = set()  # digits of the lines the carrier throttles
        self.extra_rows: list[str] = []  # raw CSV rows appended as they are
        self.down = False
        self.requests = 0

    def set(self, line_or_digits: Line | str, state: str, usage: str = "0.0") -> None:
        digits = line_or_digits if isinstance(line_or_digits, str) else line_or_digits.msisdn.lstrip("+")
        self.lines[digits] = (state, usage)

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.down:
            return httpx.Response(503, text="maintenance")
        day = request.url.params["date"]
        body = HEADER + "".join(f"{day},{digits},8981100000000000001,basic,{state},"
                                f"{'true' if digits in self.throttled else 'false'},{usage}\n"
                                for digits, (state, usage) in sorted(self.lines.items()))
        body += "".join(row + "\n" for row in self.extra_rows)
        return httpx.Response(200, text=body)


@pytest.fixture()
def carrier(monkeypatch) -> FakeCarrier:
    fake = FakeCarrier()
    client = CarrierClient("http://carrier.test", transport=httpx.MockTransport(fake.handler))
    monkeypatch.setattr(carrier_report, "default_client", lambda: client)
    return fake


def _items(kind: str | None = None) -> list[ReviewItem]:
    with read_session() as session:
        query = select(ReviewItem).order_by(ReviewItem.id)
        if kind:
            query = query.where(ReviewItem.kind == kind)
        return list(session.exec(query))


def _run(day: date) -> ReconciliationRun:
    with read_session() as session:
        return session.exec(select(ReconciliationRun).where(ReconciliationRun.business_date == day)).one()


def _usage(line_id: int) -> list[tuple[date, int]]:
    with read_session() as session:
        return [(u.day, u.used_mb) for u in session.exec(select(UsageRecord).where(UsageRecord.line_id == line_id))]


def _set_status(line_id: int, status: str) -> None:
    with write_session() as session:
        line = session.get(Line, line_id)
        line.status = status
        session.add(line)


# ---- differences --------------------------------------------------------------------------------

def test_line_suspended_at_the_carrier_but_active_in_the_ledger_is_a_state_mismatch(world, carrier):
    line = world.active_line()
    carrier.set(line, "suspended")

    run = daily_reconciliation.run("carrier_lines", TODAY)

    assert (run.status, run.rows_checked, run.differences) == ("completed", 1, 1)
    [item] = _items()
    digits = line.msisdn.lstrip("+")
    assert item.kind == "carrier.report.state_mismatch" and item.status == "open"
    assert item.subject_key == f"{TODAY.isoformat()}:{digits}"
    assert (item.line_id, item.customer_id) == (line.id, line.customer_id)
    assert "「停止中」" in item.reason and "「利用中」" in item.reason
    evidence = json.loads(item.evidence_json)
    assert evidence["ledger"] == {"line_id": line.id, "msisdn": line.msisdn, "status": "active", "throttled": False}
    assert evidence["carrier_report"]["state"] == "suspended" and evidence["carrier_report"]["msisdn"] == digits
    with read_session() as session:
        assert session.get(Line, line.id).status == "active"  # reported, never fixed


def test_a_speed_limit_the_carrier_applies_and_the_ledger_does_not_know_is_a_difference(world, carrier):
    agreed, differs = world.active_line(), world.active_line()
    carrier.set(agreed, "active")
    carrier.set(differs, "active")
    carrier.throttled.add(differs.msisdn.lstrip("+"))

    daily_reconciliation.run("carrier_lines", TODAY)

    [item] = _items()
    assert (item.kind, item.line_id) == ("carrier.report.throttle_mismatch", differs.id)
    assert "キャリアの速度制限「あり」" in item.reason and "台帳の速度制限「なし」" in item.reason
    assert review_queue.kind_label(item.kind) == "キャリア日次レポート: 速度制限の不一致"


def test_line_the_carrier_has_and_the_ledger_does_not_know_is_missing_in_ledger(world, carrier):
    carrier.set(world.active_line(), "active")
    carrier.set("819099998888", "active")

    daily_reconciliation.run("carrier_lines", TODAY)

    [item] = _items()
    assert item.kind == "carrier.report.missing_in_ledger" and item.line_id is None
    assert item.subject_key == f"{TODAY.isoformat()}:819099998888"
    assert "090-9999-8888" in item.reason
    assert json.loads(item.evidence_json)["ledger"] is None


def test_active_ledger_line_absent_from_the_report_is_missing_at_carrier(world, carrier):
    present, absent = world.active_line(), world.active_line()
    carrier.set(present, "active")

    daily_reconciliation.run("carrier_lines", TODAY)

    [item] = _items()
    assert (item.kind, item.line_id) == ("carrier.report.missing_at_carrier", absent.id)
    assert json.loads(item.evidence_json)["carrier_report"] is None


def test_terminated_ledger_line_absent_from_the_report_is_not_a_difference(world, carrier):
    present, gone = world.active_line(), world.active_line()
    _set_status(gone.id, "terminated")
    carrier.set(present, "active")

    daily_reconciliation.run("carrier_lines", TODAY)

    assert _items() == []


def test_lines_in_progress_in_review_or_with_an_open_carrier_call_are_not_compared(world, carrier):
    activating = world.line()
    lines.change_line_status(activating.id, actor=world.admin, event="activate", reason="開通")  # call pending
    in_review = world.line()
    lines.change_line_status(in_review.id, actor=world.admin, event="activate", reason="開通")
    with read_session() as session:
        op_id = session.exec(select(ExternalOperation.id).where(ExternalOperation.line_id == in_review.id)).one()
    outbox.settle(op_id, "unknown", detail="タイムアウト")
    busy = world.active_line()
    with write_session() as session:
        session.add(ExternalOperation(provider="carrier", operation="change_plan", idempotency_key="busy-plan",
                                      line_id=busy.id, customer_id=busy.customer_id, payload_json="{}",
                                      status="in_flight"))
    for line in (activating, in_review, busy):
        carrier.set(line, "suspended")
    carrier.set(world.active_line(), "active")
    before = [i.kind for i in _items()]

    run = daily_reconciliation.run("carrier_lines", TODAY)

    assert run.status == "completed" and run.differences == 0
    assert [i.kind for i in _items()] == before == ["carrier.activate.unknown"]


def test_line_changed_after_the_end_of_the_reported_day_is_not_compared(world, carrier):
    changed_today = world.active_line()  # created and activated today, after yesterday ended
    carrier.set(changed_today, "suspended")
    carrier.set("819099998888", "active")

    run = daily_reconciliation.run("carrier_lines", TODAY - timedelta(days=1))

    assert [i.kind for i in _items()] == ["carrier.report.missing_in_ledger"] and run.differences == 1


def test_empty_report_while_lines_are_active_fails_the_run_instead_of_flooding_the_queue(world, carrier):
    world.active_line()

    run = daily_reconciliation.run("carrier_lines", TODAY)

    assert run.status == "failed" and "空" in run.error and _items() == []


def test_a_line_listed_twice_is_one_difference(world, carrier):
    line = world.active_line()
    carrier.set(line, "active", "5.0")
    carrier.extra_rows = [f"{TODAY},819099998888,,basic,active,false,1.0"] * 2
    carrier.extra_rows.append(f"{TODAY},{line.msisdn.lstrip('+')},,basic,active,false,6.0")

    run = daily_reconciliation.run("carrier_lines", TODAY)

    assert (run.status, run.rows_checked, run.differences) == ("completed", 4, 1)
    assert _usage(line.id) == [(TODAY, 6)]


def test_report_with_a_row_of_another_day_fails_the_run(world, carrier):
    carrier.set(world.active_line(), "active")
    carrier.extra_rows = [f"{TODAY - timedelta(days=1)},819099998888,,basic,active,false,1.0"]

    run = daily_reconciliation.run("carrier_lines", TODAY)

    assert run.status == "failed" and "別の日付" in run.error and _items() == []


# ---- usage --------------------------------------------------------------------------------------

def test_usage_is_stored_in_whole_megabytes_and_a_second_read_replaces_it(world, carrier):
    line = world.active_line()
    carrier.set(line, "active", "812.9")

    daily_reconciliation.run("carrier_lines", TODAY)
    daily_reconciliation.run("carrier_lines", TODAY, force=True)
    assert _usage(line.id) == [(TODAY, 812)]

    carrier.set(line, "active", "900.0")
    daily_reconciliation.run("carrier_lines", TODAY, force=True)
    assert _usage(line.id) == [(TODAY, 900)]
    with read_session() as session:  # system data: no audit entry per row
        assert not session.exec(select(AuditEntry).where(AuditEntry.entity_type == "usage_record")).first()


def test_unreadable_usage_fails_the_run(world, carrier):
    line = world.active_line()
    carrier.set(line, "active", "lots")

    run = daily_reconciliation.run("carrier_lines", TODAY)

    assert run.status == "failed" and "通信量" in run.error and _usage(line.id) == []


# ---- runs ---------------------------------------------------------------------------------------

def test_running_again_queues_the_run_for_a_worker_and_does_not_queue_a_difference_twice(
        world, carrier, queued_runs):
    line = world.active_line()
    carrier.set(line, "terminated")
    daily_reconciliation.run("carrier_lines", TODAY)

    again = daily_reconciliation.run_again("carrier_lines", TODAY, actor=world.actor("support"), reason="確認")

    assert again.status == "queued" and queued_runs == [("carrier_lines", TODAY.isoformat())]
    assert carrier.requests == 1  # the screen does not wait for the report
    done = run_reconciliation("carrier_lines", TODAY.isoformat())  # the worker's task
    assert done == "completed" and _run(TODAY).differences == 0
    assert len(_items("carrier.report.state_mismatch")) == 1 and carrier.requests == 2


def test_a_queued_run_is_run_once_and_cannot_be_queued_twice(world, carrier):
    carrier.set(world.active_line(), "active")
    support = world.actor("support")
    daily_reconciliation.run_again("carrier_lines", TODAY, actor=support, reason="確認")

    with pytest.raises(Conflict, match="待機中"):
        daily_reconciliation.run_again("carrier_lines", TODAY, actor=support, reason="二度押し")
    assert run_reconciliation("carrier_lines", TODAY.isoformat()) == "completed"
    assert run_reconciliation("carrier_lines", TODAY.isoformat()) == "not queued"  # a task delivered twice
    assert carrier.requests == 1
    with read_session() as session:
        assert len(session.exec(select(AuditEntry).where(AuditEntry.action == "reconciliation.run")).all()) == 1


def test_a_queued_run_whose_task_was_lost_is_run_by_the_scheduled_round(world, carrier, monkeypatch):
    monkeypatch.setattr(daily_reconciliation, "SOURCES", {"carrier_lines": carrier_report.SOURCE})
    carrier.set(world.active_line(), "active")
    long_ago = TODAY - timedelta(days=30)  # older than the round's own catch-up week
    daily_reconciliation.run_again("carrier_lines", long_ago, actor=world.actor("support"), reason="確認")
    assert daily_reconciliation.run_due(TODAY).get(f"carrier_lines:{long_ago}") is None  # still within its grace

    with write_session() as session:
        row = session.exec(select(ReconciliationRun).where(ReconciliationRun.business_date == long_ago)).one()
        row.started_at -= daily_reconciliation.QUEUE_GRACE
        session.add(row)

    assert daily_reconciliation.run_due(TODAY)[f"carrier_lines:{long_ago}"] == "completed"


def test_a_run_in_progress_is_left_alone_until_its_lease_ends(world, carrier, monkeypatch):
    monkeypatch.setattr(daily_reconciliation, "SOURCES", {"carrier_lines": carrier_report.SOURCE})
    carrier.set(world.active_line(), "active")
    yesterday = TODAY - timedelta(days=1)
    with write_session() as session:  # a worker started yesterday's run a moment ago
        session.add(ReconciliationRun(source="carrier_lines", business_date=yesterday, status="running"))

    assert f"carrier_lines:{yesterday}" not in daily_reconciliation.run_due(TODAY)
    with pytest.raises(Conflict, match="実行中"):
        daily_reconciliation.run_again("carrier_lines", yesterday, actor=world.actor("support"), reason="確認")
    with write_session() as session:  # ... and died with it
        row = session.exec(select(ReconciliationRun).where(ReconciliationRun.business_date == yesterday)).one()
        row.started_at -= daily_reconciliation.RUN_LEASE
        session.add(row)

    assert daily_reconciliation.run_due(TODAY) == {f"carrier_lines:{yesterday}": "completed"}


def test_unreachable_report_fails_the_run_and_the_next_round_tries_again(world, carrier, monkeypatch):
    monkeypatch.setattr(daily_reconciliation, "SOURCES", {"carrier_lines": carrier_report.SOURCE})
    line = world.active_line()
    carrier.set(line, "active", "10.0")
    carrier.down = True
    yesterday = TODAY - timedelta(days=1)

    assert daily_reconciliation.run_due(TODAY) == {f"carrier_lines:{yesterday}": "failed"}
    with read_session() as session:
        failed = session.exec(select(ReconciliationRun)).one()
    assert failed.status == "failed" and "HTTP 503" in failed.error

    carrier.down = False
    retried = daily_reconciliation.run_due(TODAY)  # yesterday again, and the rest of the week from now on
    assert retried[f"carrier_lines:{yesterday}"] == "completed" and set(retried.values()) == {"completed"}
    assert daily_reconciliation.run_due(TODAY) == {}  # a completed day is not read again
    assert (yesterday, 10) in _usage(line.id)


def test_run_again_needs_support_or_admin_a_reason_and_a_past_day_and_is_audited(world, carrier, accounting):
    carrier.set(world.active_line(), "active")
    with pytest.raises(PermissionDenied):
        daily_reconciliation.run_again("carrier_lines", TODAY, actor=accounting, reason="確認")
    support = world.actor("support")
    with pytest.raises(ValidationFailed) as missing:
        daily_reconciliation.run_again("carrier_lines", TODAY, actor=support, reason=" ")
    assert "reason" in missing.value.fields
    with pytest.raises(ValidationFailed) as future:
        daily_reconciliation.run_again("carrier_lines", TODAY + timedelta(days=1), actor=support, reason="確認")
    assert "business_date" in future.value.fields
    assert carrier.requests == 0

    run = daily_reconciliation.run_again("carrier_lines", TODAY, actor=support, reason="キャリアから訂正版の連絡")

    with read_session() as session:
        [entry] = session.exec(select(AuditEntry).where(AuditEntry.action == "reconciliation.run")).all()
    assert (entry.entity_type, entry.entity_id, entry.actor_id) == ("reconciliation_run", run.id, support.id)
    assert entry.reason == "キャリアから訂正版の連絡"


def test_report_differences_read_well_in_the_queue(world, carrier):
    line = world.active_line()
    carrier.set(line, "suspended")
    daily_reconciliation.run("carrier_lines", TODAY)

    row = review_queue.list_review_items(actor=world.actor("support")).rows[0]

    assert row["kind_label"] == "キャリア日次レポート: 状態の不一致"
    assert routes.admin_line(row["line_id"]) == f"/admin/lines/{line.id}" and row["can_resolve"] and not row["can_resync"]
    assert review_queue.kind_label("carrier.report.missing_in_ledger") == "キャリア日次レポート: 台帳に記録なし"
    assert review_queue.kind_label("carrier.report.missing_at_carrier") == "キャリア日次レポート: キャリアに記録なし"
    assert review_queue.kind_label("payment.settlement.amount_mismatch") == "決済精算レポート: 金額の不一致"
    assert review_queue.kind_label("bank.statement.missing_in_ledger") == "銀行入金明細: 台帳に記録なし"


# ---- the screen ---------------------------------------------------------------------------------

def _state(cls, token: str):
    return state_for(cls, token, "/admin/review")


def test_support_runs_a_day_again_from_the_review_screen_after_confirming(world, carrier):
    line = world.active_line()
    carrier.set(line, "active")
    daily_reconciliation.run("carrier_lines", TODAY)
    carrier.set(line, "suspended")  # the carrier sends a corrected report
    st = _state(DailyReconciliationState, signed_in_token("support"))

    assert ReviewQueueState.load.fn(_state(ReviewQueueState, signed_in_token("admin"))) is DailyReconciliationState.load
    DailyReconciliationState.load.fn(st)
    assert {"value": "carrier_lines", "label": "キャリア回線レポート"} in st.sources
    [row] = st.runs
    assert (row["source_label"], row["business_date"], row["status_label"], row["rows_checked"],
            row["differences"], row["error"]) == ("キャリア回線レポート", TODAY.isoformat(), "完了", 1, 0, "")

    DailyReconciliationState.ask_rerun.fn(st, {"source": "", "business_date": TODAY.isoformat()})
    assert "source" in st.field_errors and st.rerun_summary == ""
    DailyReconciliationState.ask_rerun.fn(st, {"source": "carrier_lines", "business_date": TODAY.isoformat()})
    assert st.rerun_summary.startswith(f"キャリア回線レポートの{TODAY:%Y/%m/%d}分を取り直して")
    assert "台帳は変更しません" in st.rerun_summary
    DailyReconciliationState.confirm_rerun.fn(st, {"reason": ""})
    assert st.field_errors == {"reason": "理由を入力してください。"} and st.rerun_summary != ""

    DailyReconciliationState.confirm_rerun.fn(st, {"reason": "訂正版のレポート"})

    assert st.error == "" and st.rerun_summary == "" and "受け付けました（待機中）" in st.notice
    assert st.runs[0]["status_label"] == "待機中" and carrier.requests == 1
    run_reconciliation("carrier_lines", TODAY.isoformat())  # the worker
    DailyReconciliationState.refresh.fn(st)
    assert (st.runs[0]["status_label"], st.runs[0]["differences"]) == ("完了", 1)
    assert st.notice == f"キャリア回線レポート {TODAY:%Y/%m/%d}: 突合しました（1 行を確認、新しい差異 1 件）。"
    assert [i.kind for i in _items()] == ["carrier.report.state_mismatch"]

    DailyReconciliationState.ask_rerun.fn(st, {"source": "carrier_lines", "business_date": TODAY.isoformat()})
    DailyReconciliationState.confirm_rerun.fn(st, {"reason": "もう一度"})
    DailyReconciliationState.ask_rerun.fn(st, {"source": "carrier_lines", "business_date": TODAY.isoformat()})
    DailyReconciliationState.confirm_rerun.fn(st, {"reason": "二度押し"})
    assert "待機中です" in st.error and st.rerun_summary == ""


def test_accounting_sees_the_runs_but_cannot_run_a_day_again(world, carrier):
    carrier.set(world.active_line(), "active")
    daily_reconciliation.run("carrier_lines", TODAY)
    st = _state(DailyReconciliationState, signed_in_token("accounting"))

    DailyReconciliationState.load.fn(st)
    assert len(st.runs) == 1 and st.sources == []

    DailyReconciliationState.ask_rerun.fn(st, {"source": "carrier_lines", "business_date": TODAY.isoformat()})
    assert st.rerun_summary == ""
    st.rerun_source, st.rerun_date, st.rerun_summary = "carrier_lines", TODAY.isoformat(), "forged"
    DailyReconciliationState.confirm_rerun.fn(st, {"reason": "確認"})
    assert st.error == "この操作を行う権限がありません。" and carrier.requests == 1
    with read_session() as session:
        assert session.exec(select(AuditEntry).where(col(AuditEntry.action) == "reconciliation.run")).first() is None
