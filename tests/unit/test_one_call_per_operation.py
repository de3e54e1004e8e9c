"""One call for every gated operation: the service decides whether it runs now or waits for a second person,
so a staff page, a CSV row, a customer's request and an API all go through the same function."""

from __future__ import annotations

import pytest
import reflex as rx
from reflex.istate.data import RouterData
from reflex_base import constants
from sqlmodel import select

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from services.billing import invoices
from services.ledger import lines
from services.models import ApprovalRequest, Invoice, Line
from services.platform.db import read_session
from state.admin.lines import LineState
from telecom_app.routes import SESSION_COOKIE
from tests.unit.builders import World
from tests.unit.screens import signed_in_token


@pytest.fixture()
def world(engine, admin) -> World:
    return World(admin)


def _status(model, record_id: int) -> str:
    with read_session() as s:
        return s.get(model, record_id).status


def test_a_suspension_asked_for_by_anyone_becomes_an_approval_request_and_changes_nothing_yet(world):
    line = world.active_line()

    outcome = lines.request_line_event(line.id, "suspend", actor=world.actor("support"), reason="紛失の連絡")

    assert outcome.request is not None and outcome.request.operation == "line.suspend"
    assert outcome.result is None and _status(Line, line.id) == "active"


def test_an_event_that_needs_no_second_person_runs_at_once_through_the_same_call(world):
    line = world.line()

    outcome = lines.request_line_event(line.id, "activate", actor=world.actor("sales"), reason="開通依頼")

    assert outcome.request is None and outcome.result.status == "activating"
    assert _status(Line, line.id) == "activating"


def test_the_invoice_decides_cancel_with_approval_when_issued_and_at_once_when_a_draft(world):
    issued, draft = world.invoice(), world.invoice(issued=False, period="2024-06")
    accounting = world.actor("accounting")

    waits = invoices.request_invoice_event(issued.id, "void", actor=accounting, reason="金額誤り",
                                           confirm_word=issued.invoice_no)
    done = invoices.request_invoice_event(draft.id, "void", actor=accounting, reason="作成誤り")

    assert waits.request is not None and _status(Invoice, issued.id) == "issued"
    assert done.request is None and _status(Invoice, draft.id) == "void"


def test_the_staff_page_asks_the_one_call_and_does_not_decide_by_itself(world, monkeypatch):
    line = world.active_line()
    calls = []
    real = lines.request_line_event

    def spy(*args, **kwargs):
        calls.append((args, kwargs["reason"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(lines, "request_line_event", spy)
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": f"{SESSION_COOKIE}={signed_in_token('support')}"},
        constants.RouteVar.CLIENT_IP: "127.0.0.1", constants.RouteVar.PATH: "/admin/lines/[line_id]",
        constants.RouteVar.ORIGIN: f"/admin/lines/{line.id}", constants.RouteVar.QUERY: {"line_id": str(line.id)}})
    page = root.get_substate(LineState.get_full_name().split("."))
    LineState.load.fn(page)
    LineState.ask.fn(page, "suspend")
    LineState.confirm.fn(page, {"reason": "お客様から紛失の連絡"})

    assert calls == [((line.id, "suspend"), "お客様から紛失の連絡")]
    with read_session() as s:
        assert s.exec(select(ApprovalRequest.operation)).all() == ["line.suspend"]
    assert page.notice.startswith("承認申請 #")
