"""State handlers re-derive the actor from the session cookie and go through the services."""

from __future__ import annotations

import pytest
import reflex as rx
from reflex.istate.data import RouterData
from reflex_base import constants

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from services.models import Line
from services.platform.db import read_session
from services.security import auth
from state.admin.approvals import ApprovalQueueState
from state.admin.lines import LineState
from state.feedback import NOT_OFFERED
from telecom_app.routes import SESSION_COOKIE
from tests.unit.builders import World
from tests.unit.screens import signed_in_token


def _state(cls, token: str, **params):
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": f"other=1; {SESSION_COOKIE}={token}"},
        constants.RouteVar.CLIENT_IP: "127.0.0.1",
        constants.RouteVar.PATH: "/admin/lines/[line_id]",
        constants.RouteVar.ORIGIN: "/admin/lines/1",
        constants.RouteVar.QUERY: {k: str(v) for k, v in params.items()},
    })
    return root.get_substate(cls.get_full_name().split("."))


@pytest.fixture()
def active_line(engine, admin):
    return World(admin).active_line()


def test_support_asks_for_suspension_and_a_second_person_approves_it_in_the_queue(active_line):
    support_token = signed_in_token("support")  # a TOTP code works once: one sign-in per person
    st = _state(LineState, support_token, line_id=active_line.id)
    LineState.load.fn(st)
    assert st.data["line"]["status"] == "active"
    assert {"suspend", "terminate"} <= {a["event"] for a in st.actions}
    LineState.ask.fn(st, "suspend")
    assert st.needs_approval and st.pending_label == "停止"
    assert st.pending_summary.startswith("回線 ") and st.pending_summary.endswith("を停止します。")
    assert st.pending_changes == [{"field": "状態", "before": "利用中", "after": "停止処理中（キャリア完了後: 停止中）"}]
    LineState.confirm.fn(st, {"reason": "お客様から紛失の連絡"})
    assert st.error == "" and st.notice.startswith("承認申請 #")
    assert st.data["line"]["status"] == "active"  # nothing happens before the approval

    LineState.ask.fn(st, "suspend")  # the dialog warns about the pending duplicate ...
    assert any("承認待ち" in w for w in st.pending_warnings)
    LineState.confirm.fn(st, {"reason": "もう一度"})  # ... and the service refuses it
    assert "承認待ち" in st.error

    own_queue = _state(ApprovalQueueState, support_token)
    ApprovalQueueState.load.fn(own_queue)
    assert own_queue.rows[0]["mine"] and not own_queue.rows[0]["can_decide"]

    queue = _state(ApprovalQueueState, signed_in_token("admin"))
    ApprovalQueueState.load.fn(queue)
    assert queue.rows[0]["can_decide"] and queue.rows[0]["changes"][0]["after"].startswith("停止処理中")
    ApprovalQueueState.open_decision.fn(queue, queue.rows[0]["id"], "approve")
    ApprovalQueueState.submit_decision.fn(queue, {"reason": ""})
    assert queue.error == "" and queue.rows == []
    with read_session() as s:
        assert s.get(Line, active_line.id).status == "suspending"  # 停止処理中 until the carrier confirms


def test_sales_is_not_offered_suspension_and_a_forged_event_is_refused(active_line):
    st = _state(LineState, signed_in_token("sales"), line_id=active_line.id)
    LineState.load.fn(st)
    assert "suspend" not in {a["event"] for a in st.actions}
    LineState.ask.fn(st, "suspend")
    assert st.error == NOT_OFFERED and st.pending_event == ""  # refused by the handler, before any service
    with read_session() as s:
        assert s.get(Line, active_line.id).status == "active"


def test_missing_reason_is_shown_next_to_the_field(active_line):
    st = _state(LineState, signed_in_token("support"), line_id=active_line.id)
    LineState.load.fn(st)
    LineState.ask.fn(st, "suspend")
    LineState.confirm.fn(st, {"reason": ""})
    assert st.field_errors == {"reason": "理由を入力してください。"}


def test_signed_out_session_is_sent_to_sign_in(active_line):
    token = signed_in_token("support")
    auth.sign_out(token)
    st = _state(LineState, token, line_id=active_line.id)
    assert "/login" in str(LineState.load.fn(st))
    assert st.data == {}


def test_accounting_asks_to_cancel_an_issued_invoice_by_typing_its_number(engine, admin):
    from services.models import Invoice
    from state.admin.invoices import InvoiceState

    invoice = World(admin).invoice()
    st = _state(InvoiceState, signed_in_token("accounting"), invoice_id=invoice.id)
    InvoiceState.load.fn(st)
    assert [a["event"] for a in st.actions] == ["void"]
    InvoiceState.ask.fn(st, "void")
    assert st.needs_approval and st.confirm_word == invoice.invoice_no
    InvoiceState.confirm.fn(st, {"reason": "金額誤り", "confirm_word": "違う番号"})
    assert invoice.invoice_no in st.field_errors["confirm_word"]
    InvoiceState.confirm.fn(st, {"reason": "金額誤り", "confirm_word": invoice.invoice_no})
    assert st.notice.startswith("承認申請 #")
    with read_session() as s:
        assert s.get(Invoice, invoice.id).status == "issued"


def test_support_asks_for_kyc_confirmation_from_the_360_view(engine, admin):
    from state.admin.customers import CustomerState

    customer_id = World(admin).documented_customer()
    st = _state(CustomerState, signed_in_token("support"), customer_id=customer_id)
    CustomerState.load.fn(st)
    assert st.can_confirm_kyc and not st.can_refund
    CustomerState.ask.fn(st, "kyc_verified")
    assert st.pending_changes[0]["after"] == "確認済"
    CustomerState.confirm.fn(st, {"reason": "運転免許証を確認", "method": "mail", "tracking_number": ""})
    assert st.field_errors == {"tracking_number": "本人限定受取郵便の追跡番号（英数字8〜32文字）を入力してください。"}
    CustomerState.confirm.fn(st, {"reason": "運転免許証を確認", "method": "mail", "tracking_number": "1234-5678-9012"})
    assert st.error == "" and st.notice.startswith("承認申請 #")


def test_terminating_a_line_on_its_page_asks_for_approval_and_the_typed_number(active_line):
    st = _state(LineState, signed_in_token("support"), line_id=active_line.id)
    LineState.load.fn(st)
    LineState.ask.fn(st, "terminate")
    assert st.needs_approval and st.confirm_word.startswith("0")
    assert "この操作は取り消せません" in st.pending_summary

    LineState.confirm.fn(st, {"reason": "解約申込書受領", "confirm_word": st.confirm_word})

    assert st.error == "" and st.notice.startswith("承認申請 #")
    with read_session() as s:
        assert s.get(Line, active_line.id).status == "active"  # a second person decides
