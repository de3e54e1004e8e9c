"""What the screens read: the 360° view, the line view with its history, paged lists."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from services.ledger import lines
from services.models import UsageRecord
from services.platform.clock import TOKYO
from services.platform.db import write_session
from services.platform.errors import NotFound, PermissionDenied
from services.read.staff import views
from services.workflow import approvals
from telecom_app import routes


def test_line_history_says_who_changed_what_when_and_why(world, admin, support):
    line = world.line()
    lines.change_line_status(line.id, actor=admin, event="activate", reason="開通手続き完了")
    world.carrier_done(line.id)
    maker, checker = world.actor("support"), world.actor("support")
    request = approvals.request_approval("line.suspend", {"line_id": line.id}, actor=maker,
                                         reason="紛失の申告（お客様から電話）")
    approvals.approve_request(request.id, actor=checker, expected_hash=request.params_hash)
    detail = views.line_detail(line.id, actor=support)
    newest = detail["history"][0]
    assert newest["actor"] == checker.label
    assert newest["action"] == "回線: 停止"
    assert newest["status_change"] == "利用中 → 停止処理中"
    assert newest["reason"].startswith("紛失の申告（お客様から電話）（承認申請 #")
    assert newest["at"].startswith(datetime.now(TOKYO).strftime("%Y/%m/%d"))
    assert [h["action"] for h in detail["history"]] == [
        "回線: 停止", "承認申請: 申請", "回線: キャリア完了", "回線: 開通", "回線: 登録"]
    world.carrier_done(line.id)
    done = views.line_detail(line.id, actor=support)["history"][0]
    assert (done["action"], done["status_change"], done["actor"]) == ("回線: キャリア完了", "停止処理中 → 停止中", "system")
    assert detail["line"]["msisdn"].count("-") == 2
    assert detail["line"]["status_label"] == "停止処理中"


def test_month_usage_is_compared_with_the_plan_cap(world, admin):
    line = world.line()
    today = datetime.now(TOKYO).date()
    with write_session() as s:
        s.add(UsageRecord(line_id=line.id, day=today, used_mb=3200))
        s.add(UsageRecord(line_id=line.id, day=date(today.year - 1, 1, 1), used_mb=999))
    month = views.line_detail(line.id, actor=admin)["month"]
    assert month["used_mb"] == 3200 and month["cap_mb"] == 3000
    assert month["over_cap"] and "上限到達" in month["summary"] and "制限中" not in month["summary"]


def test_customer_360_links_every_record_and_hides_payments_from_sales(world, admin, sales):
    contract = world.contract()
    line = world.line(contract)
    view = views.customer_360(contract.customer_id, actor=admin)
    assert routes.admin_contract(view["contracts"][0]["id"]) == f"/admin/contracts/{contract.id}"
    assert routes.admin_line(view["lines"][0]["id"]) == f"/admin/lines/{line.id}"
    assert view["can_view_payments"]
    assert not views.customer_360(contract.customer_id, actor=sales)["can_view_payments"]


def test_unknown_records_and_missing_roles_are_refused(world, nobody, admin):
    with pytest.raises(NotFound):
        views.line_detail(12345, actor=admin)
    line = world.line()
    with pytest.raises(PermissionDenied):
        views.line_detail(line.id, actor=nobody)


def test_line_list_pages_on_the_server(world, admin):
    contract = world.contract()
    for _ in range(5):
        world.line(contract)
    page = views.list_lines(actor=admin, page=2, page_size=2)
    assert page.total == 5 and page.pages == 3 and len(page.rows) == 2
    assert views.list_lines(actor=admin, status="active").total == 0
