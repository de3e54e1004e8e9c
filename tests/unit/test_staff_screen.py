"""The staff administration screen and the SSO resume of the sign-in page, through their handlers."""

from __future__ import annotations

import pyotp
import pytest
import reflex as rx
from reflex.istate.data import RouterData
from reflex_base import constants
from sqlmodel import select

import telecom_app.telecom_app  # noqa: F401  (registers pages and states)
from demo.staff import DEMO_PASSWORD, DEMO_STAFF
from services.models import ApprovalRequest, StaffUser
from services.platform.db import read_session
from services.security import auth, staff_admin
from state.admin.staff import StaffState
from state.auth.login import LoginState
from telecom_app.routes import SESSION_COOKIE, SSO_CHALLENGE_COOKIE


def _signed_in_token(role: str) -> tuple[str, int]:
    email, name, secret = DEMO_STAFF[role]
    user = auth.provision_demo_staff(email, name, role, DEMO_PASSWORD, secret)
    step = auth.begin_sign_in(email, DEMO_PASSWORD)
    return auth.redeem_ticket(auth.verify_mfa(step.challenge_token, pyotp.TOTP(secret).now())), user.id


def _state(cls, cookie: str, path: str = "/admin/staff", query: dict | None = None):
    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"cookie": cookie},
        constants.RouteVar.CLIENT_IP: "127.0.0.1",
        constants.RouteVar.PATH: path,
        constants.RouteVar.ORIGIN: path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""),
        constants.RouteVar.QUERY: query or {},
    })
    return root.get_substate(cls.get_full_name().split("."))


@pytest.fixture()
def admin_screen(engine):
    token, _ = _signed_in_token("admin")
    st = _state(StaffState, f"{SESSION_COOKIE}={token}")
    StaffState.load.fn(st)
    assert st.error == "" and st.loaded
    return st


def _create(st, **form):
    values = {"email": "yamada@example.jp", "display_name": "山田 一郎", "role": "support",
              "password": "correct horse battery"} | form
    return StaffState.create.fn(st, values)


def _row(st, email: str) -> dict:
    return next(r for r in st.rows if r["email"] == email)


def test_admin_registers_a_staff_user_and_sees_field_errors_next_to_the_fields(admin_screen):
    st = admin_screen
    _create(st, password="short", email="broken")
    assert st.field_errors == {"password": "パスワードは12文字以上で入力してください。",
                               "email": "メールアドレスの形式が正しくありません。"}
    assert st.notice == ""

    _create(st)
    assert st.field_errors == {} and "山田 一郎 (yamada@example.jp) を登録しました" in st.notice
    row = _row(st, "yamada@example.jp")
    assert (row["role_label"], row["mfa_label"], row["active_label"]) == ("サポート", "未設定", "有効")
    assert _row(st, DEMO_STAFF["admin"][0])["is_self"] is True


def test_disabling_needs_the_users_email_typed_and_a_reason(admin_screen):
    st = admin_screen
    _create(st)
    target = _row(st, "yamada@example.jp")
    StaffState.ask.fn(st, "disable", target["id"])
    assert st.pending_event == "disable" and st.target["email"] == "yamada@example.jp"

    StaffState.confirm.fn(st, {"confirm_email": "yamada@example.com", "reason": "退職"})
    assert "confirm_email" in st.field_errors and st.pending_event == "disable"
    with read_session() as session:
        assert session.get(StaffUser, target["id"]).is_active

    StaffState.confirm.fn(st, {"confirm_email": " Yamada@Example.jp ", "reason": ""})
    assert st.field_errors == {"reason": "理由を入力してください。"}

    StaffState.confirm.fn(st, {"confirm_email": "yamada@example.jp", "reason": "退職"})
    assert st.pending_event == "" and "無効にしました" in st.notice
    assert _row(st, "yamada@example.jp")["is_active"] is False


def test_role_change_through_the_dialog(admin_screen):
    st = admin_screen
    _create(st)
    StaffState.ask.fn(st, "role", _row(st, "yamada@example.jp")["id"])
    StaffState.confirm.fn(st, {"role": "accounting", "reason": "経理部へ異動"})
    assert st.error == "" and "「経理」にしました" in st.notice
    assert _row(st, "yamada@example.jp")["role"] == "accounting"


def test_mfa_reset_button_creates_an_approval_request_and_changes_nothing_yet(admin_screen):
    st = admin_screen
    support_token, support_id = _signed_in_token("support")
    StaffState.load.fn(st)
    StaffState.ask.fn(st, "mfa_reset", support_id)
    StaffState.confirm.fn(st, {"reason": "スマートフォン紛失"})
    assert st.error == "" and "二要素認証リセットを申請しました" in st.notice
    with read_session() as session:
        (request,) = session.exec(select(ApprovalRequest)).all()
        assert (request.operation, request.status, request.reason) == ("staff.mfa_reset", "pending", "スマートフォン紛失")
        assert session.get(StaffUser, support_id).mfa_enrolled_at is not None
    assert auth.resolve_session(support_token).id == support_id


def test_non_admin_cannot_use_the_staff_screen(engine):
    token, support_id = _signed_in_token("support")
    st = _state(StaffState, f"{SESSION_COOKIE}={token}")
    StaffState.load.fn(st)
    assert st.error == "この操作を行う権限がありません。" and st.rows == [] and not st.loaded
    st.rows = [{"id": support_id, "email": "x", "display_name": "x", "role": "support", "role_label": "x"}]
    StaffState.ask.fn(st, "role", support_id)
    StaffState.confirm.fn(st, {"role": "admin", "reason": "昇格"})
    assert st.error == "この操作を行う権限がありません。"
    with read_session() as session:
        assert session.get(StaffUser, support_id).role == "support"


# --- sign-in page: resuming after single sign-on ---------------------------------------------

def test_sign_in_page_resumes_at_our_totp_step_after_sso_without_mfa(engine):
    email, name, secret = DEMO_STAFF["sales"]
    user = auth.provision_demo_staff(email, name, "sales", DEMO_PASSWORD, secret)
    step = auth.continue_sso_sign_in(user.id, mfa_asserted=False)
    st = _state(LoginState, f"other=1; {SSO_CHALLENGE_COOKIE}={step.challenge_token}", path="/login")
    LoginState.reset_form.fn(st)
    assert st.stage == "mfa" and st.error == ""
    result = LoginState.submit_code.fn(st, {"code": pyotp.TOTP(secret).now()})
    assert "/api/auth/complete?ticket=oidc." in str(result)


def test_sign_in_page_offers_enrolment_after_sso_for_a_user_without_mfa(engine, admin):
    user = staff_admin.create_staff_user(actor=admin, email="new@example.jp", display_name="新人",
                                         role="support", password="correct horse battery")
    step = auth.continue_sso_sign_in(user.id, mfa_asserted=False)
    st = _state(LoginState, f"{SSO_CHALLENGE_COOKIE}={step.challenge_token}", path="/login")
    LoginState.reset_form.fn(st)
    assert st.stage == "enroll" and st.qr_svg.startswith("data:image/svg+xml") and st.secret


def test_sign_in_page_ignores_a_used_or_forged_sso_cookie_and_shows_sso_failures(engine):
    for cookie in (f"{SSO_CHALLENGE_COOKIE}=forged", f"{SSO_CHALLENGE_COOKIE}=", 'bad"cookie'):
        st = _state(LoginState, cookie, path="/login")
        LoginState.reset_form.fn(st)
        assert st.stage == "password" and st.error == ""
    st = _state(LoginState, "", path="/login", query={"sso_failed": "1"})
    LoginState.reset_form.fn(st)
    assert st.stage == "password" and st.error == auth.SSO_FAILED
    assert st.sso_enabled is False  # TELECOM_OIDC_* not configured in unit tests
