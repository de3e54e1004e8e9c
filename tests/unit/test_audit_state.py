"""The audit log screen's handlers: signed-in roles see, filter, export and verify through the services."""

from __future__ import annotations

import reflex as rx
from reflex.istate.data import RouterData
from reflex_base import constants
from sqlalchemy import text

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from state.admin.audit import AuditState
from telecom_app.routes import SESSION_COOKIE
from tests.unit.builders import World
from tests.unit.screens import signed_in_token


def _state(token: str, query: str = ""):
    root = rx.State(_reflex_internal_init=True)
    params = dict(p.split("=", 1) for p in query.split("&") if p)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": f"{SESSION_COOKIE}={token}"},
        constants.RouteVar.CLIENT_IP: "127.0.0.1",
        constants.RouteVar.PATH: "/admin/audit",
        constants.RouteVar.ORIGIN: f"/admin/audit?{query}" if query else "/admin/audit",
        constants.RouteVar.QUERY: params,
    })
    return root.get_substate(AuditState.get_full_name().split("."))


def test_admin_verifies_sees_a_tampered_row_and_follows_the_link_to_it(engine, admin):
    World(admin).line()
    token = signed_in_token("admin")
    st = _state(token)
    AuditState.load.fn(st)
    assert st.error == "" and st.total > 5 and st.can_verify and st.can_export
    AuditState.verify.fn(st)
    assert st.verify_intact and st.verify_message.startswith("改ざんは検出されませんでした")
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET reason = '書き換え' WHERE id = 3"))
    AuditState.verify.fn(st)
    assert not st.verify_intact and st.verify_broken_id == 3
    assert st.verify_message == "監査ログ #3 で改ざんを検出しました（内容が記録時のハッシュと一致しません）"
    st.router = _state(token, "up_to_id=3").router  # the callout's link
    AuditState.load.fn(st)
    assert [r["id"] for r in st.rows] == [3, 2, 1] and st.filters["up_to_id"] == "3"
    assert st.verified and st.verify_broken_id == 3  # the report stays next to the entries it names


def test_filters_page_and_field_errors(engine, admin):
    World(admin).line()
    st = _state(signed_in_token("support"))
    AuditState.load.fn(st)
    AuditState.apply_filters.fn(st, {"entity_type": "line", "actor_label": "admin"})
    assert st.error == "" and st.rows and {r["entity_type"] for r in st.rows} == {"line"}
    key = st.form_key
    AuditState.apply_filters.fn(st, {"entity_id": "abc"})
    assert st.field_errors == {"entity_id": "数字で入力してください。"}
    assert st.filters["entity_type"] == "line" and st.form_key == key  # the previous filters stay
    AuditState.clear_filters.fn(st)
    assert st.filters["entity_type"] == "" and st.total > len([r for r in st.rows if r["entity_type"] == "line"])


def test_support_may_read_but_not_verify_or_export(engine, admin):
    World(admin).customer()
    st = _state(signed_in_token("support"))
    AuditState.load.fn(st)
    assert st.rows and not st.can_verify and not st.can_export
    AuditState.verify.fn(st)
    assert st.error == "この操作を行う権限がありません。" and not st.verified
    assert AuditState.export_csv.fn(st) is None and st.error == "この操作を行う権限がありません。"


def test_accounting_downloads_the_csv(engine, admin):
    World(admin).customer()
    st = _state(signed_in_token("accounting"))
    AuditState.load.fn(st)
    spec = AuditState.export_csv.fn(st)
    assert st.error == "" and "_download" in str(spec) and "audit.csv" in str(spec)
