"""A handler refuses, before any service is called, an event the screen never offered.

A confirm without a pending action, an action for a record that is not on the page, an action the
page did not open: each gets the same clear message, and nothing in the ledger changes.
"""

from __future__ import annotations

import pytest
import reflex as rx
from reflex.istate.data import RouterData
from reflex_base import constants

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from services.ledger import contracts, customers, lines
from state.admin.contracts import ContractState
from state.admin.customers import CustomerState
from state.admin.invoices import InvoiceState
from state.admin.lines import LineState
from state.admin.staff import StaffState
from state.feedback import NOT_OFFERED
from telecom_app.routes import SESSION_COOKIE
from tests.unit.builders import World
from tests.unit.screens import signed_in_token


def _state(cls, token: str, **params):
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": f"{SESSION_COOKIE}={token}"},
        constants.RouteVar.CLIENT_IP: "127.0.0.1", constants.RouteVar.PATH: "/admin",
        constants.RouteVar.ORIGIN: "/admin", constants.RouteVar.QUERY: {k: str(v) for k, v in params.items()},
    })
    return root.get_substate(cls.get_full_name().split("."))


def _ledger(engine) -> dict:
    from sqlalchemy import select
    from sqlmodel import SQLModel

    skip = {"staff_session", "sign_in_attempt", "sign_in_challenge", "staff_user", "staff_recovery_code"}
    with engine.connect() as conn:
        return {t.name: sorted(map(repr, conn.execute(select(t)))) for t in SQLModel.metadata.sorted_tables
                if t.name not in skip}


@pytest.fixture()
def world(engine, admin) -> World:
    return World(admin)


@pytest.fixture()
def forbid_services(monkeypatch):
    """Call it once the test's data exists: from then on a handler reaching a service fails the test."""
    def forbid() -> None:
        def boom(*args, **kwargs):
            raise AssertionError("a service was called")
        for module, name in ((lines, "change_line_status"), (contracts, "change_contract_status"),
                             (contracts, "create_contract"), (lines, "add_line")):
            monkeypatch.setattr(module, name, boom)
    return forbid


def test_a_confirm_with_no_pending_action_is_refused_before_any_service(world, engine, forbid_services):
    line = world.active_line()
    st = _state(LineState, signed_in_token("admin"), line_id=line.id)
    LineState.load.fn(st)
    before = _ledger(engine)
    forbid_services()

    LineState.confirm.fn(st, {"reason": "forged"})

    assert st.error == NOT_OFFERED and st.notice == ""
    assert _ledger(engine) == before


def test_an_action_the_record_does_not_offer_is_refused(world, engine, forbid_services):
    line = world.line()  # 申請中: it can be activated, not resumed
    st = _state(LineState, signed_in_token("admin"), line_id=line.id)
    LineState.load.fn(st)
    forbid_services()
    assert "resume" not in {a["event"] for a in st.actions}

    LineState.ask.fn(st, "resume")

    assert st.error == NOT_OFFERED and st.pending_event == ""


def test_an_action_on_a_page_that_has_not_loaded_its_record_is_refused(world, forbid_services):
    st = _state(ContractState, signed_in_token("admin"))
    forbid_services()

    ContractState.ask.fn(st, "terminate")
    ContractState.confirm.fn(st, {"reason": "forged", "confirm_word": "C-000001"})

    assert st.error == NOT_OFFERED


def test_a_refund_of_a_payment_that_is_not_on_the_customers_page_is_refused(world, engine):
    mine, other = world.customer(), world.customer("佐藤 花子", "サトウ ハナコ")
    foreign = world.payment(customer_id=other)
    st = _state(CustomerState, signed_in_token("accounting"), customer_id=mine)
    CustomerState.load.fn(st)
    before = _ledger(engine)

    CustomerState.ask.fn(st, f"refund_{foreign.id}")

    assert st.error == NOT_OFFERED and st.pending_event == ""
    assert _ledger(engine) == before


def test_shipping_a_line_of_another_customer_is_refused(world):
    mine = world.customer()
    foreign = world.line()
    st = _state(CustomerState, signed_in_token("support"), customer_id=mine)
    CustomerState.load.fn(st)

    CustomerState.ask_ship.fn(st, foreign.id)

    assert st.error == NOT_OFFERED and st.pending_event == ""


def test_a_reveal_confirmed_without_its_dialog_is_refused(world, engine):
    customer_id = world.customer()
    customers.update_customer_contact(customer_id, actor=world.admin, name="山田 太郎", name_kana="ヤマダ タロウ",
                                      email=None, phone="090-1234-5678", postal_code=None, address=None,
                                      reason="テスト")
    st = _state(CustomerState, signed_in_token("admin"), customer_id=customer_id)
    CustomerState.load.fn(st)
    before = _ledger(engine)

    CustomerState.confirm_reveal.fn(st, {"reason": "forged"})

    assert st.error == NOT_OFFERED and st.revealed == {}
    assert _ledger(engine) == before


def test_a_contract_on_a_plan_the_page_does_not_list_is_refused(world, forbid_services):
    customer_id = world.customer()
    st = _state(CustomerState, signed_in_token("sales"), customer_id=customer_id)
    CustomerState.load.fn(st)
    forbid_services()
    listed = {p["id"] for p in st.plans}

    CustomerState.create_contract.fn(st, {"rate_plan_id": str(max(listed, default=0) + 99)})

    assert st.error == NOT_OFFERED


def test_a_card_charge_on_an_invoice_that_does_not_offer_it_is_refused(world):
    invoice = world.invoice(issued=False)  # a draft: nothing to charge yet
    st = _state(InvoiceState, signed_in_token("accounting"), invoice_id=invoice.id)
    InvoiceState.load.fn(st)
    assert not st.can_charge_card

    InvoiceState.ask_card_charge.fn(st)

    assert st.error == NOT_OFFERED and st.pending_event == ""


def test_a_staff_action_for_a_user_not_listed_or_never_opened_is_refused(world, engine):
    st = _state(StaffState, signed_in_token("admin"))
    StaffState.load.fn(st)
    before = _ledger(engine)

    StaffState.ask.fn(st, "disable", 9999)
    assert st.error == NOT_OFFERED
    StaffState.ask.fn(st, "promote", st.rows[0]["id"])
    assert st.error == NOT_OFFERED
    StaffState.confirm.fn(st, {"reason": "forged", "confirm_email": st.rows[0]["email"]})
    assert st.error == NOT_OFFERED
    assert _ledger(engine) == before
