"""Staff administration: accounts, roles, disabling, and the MFA reset executed through approval."""

from __future__ import annotations

import json
from datetime import datetime

import pyotp
import pytest
from sqlmodel import select

from services.models import (
    AuditEntry,
    SignInChallenge,
    StaffRecoveryCode,
    StaffSession,
    StaffUser,
)
from services.platform.db import read_session, write_session
from services.platform.errors import (
    ApprovalRequired,
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from services.platform.permissions import Role
from services.security import auth, staff_admin
from services.workflow import approvals
from services.workflow.approval_gate import approved
from tests.conftest import make_actor
from tests.unit.conftest import FakeClock

PASSWORD = "correct horse battery"



def totp_code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def new_user(admin, email="tanaka@example.jp", role="support", name="田中 花子") -> StaffUser:
    return staff_admin.create_staff_user(actor=admin, email=email, display_name=name, role=role,
                                         password=PASSWORD)


def enroll(email: str, clock: FakeClock) -> tuple[str, list[str]]:
    step = auth.begin_sign_in(email, PASSWORD)
    assert step.stage == "enroll"
    secret = auth.start_enrollment(step.challenge_token).secret
    result = auth.complete_enrollment(step.challenge_token, totp_code(secret, clock.now))
    auth.redeem_ticket(result.ticket)
    clock.advance(seconds=30)
    return secret, result.recovery_codes


def sign_in(email: str, secret: str, clock: FakeClock) -> str:
    step = auth.begin_sign_in(email, PASSWORD)
    assert step.stage == "mfa"
    token = auth.redeem_ticket(auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now)))
    clock.advance(seconds=30)  # the next code is a new step (a used step is refused as a replay)
    return token


@pytest.fixture()
def enrolled(engine, admin, clock):
    """A support user with MFA set up and one open session."""
    user = new_user(admin)
    secret, codes = enroll(user.email, clock)
    return user, secret, codes


def audit_entries(action: str) -> list[AuditEntry]:
    with read_session() as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)
                                 .order_by(AuditEntry.id)).all())


def open_sessions(user_id: int) -> list[StaffSession]:
    with read_session() as session:
        return list(session.exec(select(StaffSession).where(StaffSession.staff_user_id == user_id,
                                                            StaffSession.revoked_at.is_(None))).all())


def reset_mfa(user_id: int, actor, reason: str = "スマートフォン紛失") -> StaffUser:
    """Run the executor the way services.workflow.approvals does: approved, inside the caller's transaction."""
    with approved("staff.mfa_reset"), write_session() as session:
        return staff_admin.reset_staff_mfa_in(session, user_id, actor=actor, reason=reason)


# --- creating staff users --------------------------------------------------------------------

def test_create_staff_user_checks_each_field(engine, admin):
    with pytest.raises(ValidationFailed) as err:
        staff_admin.create_staff_user(actor=admin, email="not-an-email", display_name=" ", role="boss",
                                      password="short")
    assert set(err.value.fields) == {"email", "display_name", "role", "password"}
    assert err.value.fields["password"] == "パスワードは12文字以上で入力してください。"


def test_create_staff_user_refuses_a_taken_email_whatever_its_case(engine, admin):
    new_user(admin)
    with pytest.raises(ValidationFailed) as err:
        new_user(admin, email=" TANAKA@example.jp")
    assert err.value.fields == {"email": "このメールアドレスは既に登録されています。"}


def test_new_staff_user_stores_only_a_password_hash_and_is_audited_without_secrets(engine, admin):
    user = new_user(admin)
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert user.totp_secret is None and user.mfa_enrolled_at is None
    (entry,) = audit_entries("staff.create")
    assert (entry.entity_type, entry.entity_id, entry.actor_label) == ("staff_user", user.id, "admin@test")
    after = json.loads(entry.after_json)
    assert after["email"] == "tanaka@example.jp" and after["role"] == "support"
    assert "password_hash" not in after and "totp_secret" not in after


def test_new_staff_user_enrols_mfa_at_first_sign_in(engine, admin, clock):
    user = new_user(admin)
    assert auth.begin_sign_in(user.email, PASSWORD).stage == "enroll"


# --- listing ---------------------------------------------------------------------------------

def test_staff_list_shows_role_state_mfa_and_last_sign_in_without_secrets(enrolled, admin, clock):
    user, secret, _ = enrolled
    other = new_user(admin, email="sato@example.jp", role="accounting", name="佐藤 次郎")
    staff_admin.disable_staff_user(other.id, actor=admin, reason="退職")
    clock.advance(hours=1)
    sign_in(user.email, secret, clock)

    me = make_actor(Role.ADMIN, other.id)
    rows = staff_admin.list_staff(actor=me)
    assert [r["email"] for r in rows] == ["tanaka@example.jp", "sato@example.jp"]  # active first
    tanaka, sato = rows
    assert (tanaka["role_label"], tanaka["is_active"], tanaka["mfa_enrolled"]) == ("サポート", True, True)
    assert tanaka["last_sign_in"] == "2026/04/01 10:00"  # newest session (01:00:40 UTC), Asia/Tokyo
    assert (sato["role_label"], sato["active_label"], sato["mfa_label"], sato["last_sign_in"]) == (
        "経理", "無効", "未設定", "")
    assert sato["is_self"] is True and tanaka["is_self"] is False
    assert not any(key in row for row in rows for key in ("password_hash", "totp_secret"))


def test_only_admins_list_and_manage_staff(engine, admin, sales, support, accounting):
    user = new_user(admin)
    for actor in (sales, support, accounting):
        with pytest.raises(PermissionDenied):
            staff_admin.list_staff(actor=actor)
        with pytest.raises(PermissionDenied):
            new_user(actor, email="x@example.jp")
        with pytest.raises(PermissionDenied):
            staff_admin.change_staff_role(user.id, actor=actor, role="admin", reason="昇格")
        with pytest.raises(PermissionDenied):
            staff_admin.disable_staff_user(user.id, actor=actor, reason="テスト")
        with pytest.raises(PermissionDenied), approved("staff.mfa_reset"), write_session() as session:
            staff_admin.reset_staff_mfa_in(session, user.id, actor=actor, reason="テスト")


# --- roles -----------------------------------------------------------------------------------

def test_changing_a_role_ends_the_users_sessions_so_the_new_role_applies_at_once(enrolled, admin, clock):
    user, secret, _ = enrolled
    token = sign_in(user.email, secret, clock)
    assert auth.resolve_session(token).role == Role.SUPPORT

    changed = staff_admin.change_staff_role(user.id, actor=admin, role="accounting", reason="経理部へ異動")
    assert changed.role == "accounting"
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(token)
    assert open_sessions(user.id) == []
    assert auth.resolve_session(sign_in(user.email, secret, clock)).role == Role.ACCOUNTING

    (entry,) = audit_entries("staff.role_change")
    assert json.loads(entry.before_json)["role"] == "support"
    assert json.loads(entry.after_json)["role"] == "accounting"
    assert entry.reason == "経理部へ異動" and "totp_secret" not in entry.after_json


def test_a_ticket_issued_before_the_role_change_no_longer_opens_a_session(enrolled, admin, clock):
    user, secret, _ = enrolled
    step = auth.begin_sign_in(user.email, PASSWORD)
    ticket = auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))
    staff_admin.change_staff_role(user.id, actor=admin, role="sales", reason="営業部へ異動")
    with pytest.raises(auth.AuthenticationFailed):
        auth.redeem_ticket(ticket)


def test_admin_cannot_change_their_own_role(engine, admin):
    me = new_user(admin, email="boss@example.jp", role="admin")
    with pytest.raises(PermissionDenied) as err:
        staff_admin.change_staff_role(me.id, actor=make_actor(Role.ADMIN, me.id), role="sales", reason="テスト")
    assert err.value.message == "自分自身の役割は変更できません。"
    with read_session() as session:
        assert session.get(StaffUser, me.id).role == "admin"


def test_role_change_needs_a_reason_and_a_known_role(engine, admin):
    user = new_user(admin)
    with pytest.raises(ValidationFailed) as err:
        staff_admin.change_staff_role(user.id, actor=admin, role="sales", reason=" ")
    assert err.value.fields == {"reason": "理由を入力してください。"}
    with pytest.raises(ValidationFailed) as err:
        staff_admin.change_staff_role(user.id, actor=admin, role="superuser", reason="テスト")
    assert set(err.value.fields) == {"role"}
    with pytest.raises(NotFound):
        staff_admin.change_staff_role(99999, actor=admin, role="sales", reason="テスト")


def test_same_role_again_changes_nothing_and_a_disabled_users_role_is_kept(engine, admin):
    user = new_user(admin)
    staff_admin.change_staff_role(user.id, actor=admin, role="support", reason="確認")
    assert audit_entries("staff.role_change") == []
    staff_admin.disable_staff_user(user.id, actor=admin, reason="退職")
    with pytest.raises(Conflict):
        staff_admin.change_staff_role(user.id, actor=admin, role="admin", reason="復職")


# --- disabling -------------------------------------------------------------------------------

def test_disabling_a_user_ends_their_sessions_at_once(enrolled, admin, clock):
    user, secret, _ = enrolled
    first = sign_in(user.email, secret, clock)
    second = sign_in(user.email, secret, clock)
    disabled = staff_admin.disable_staff_user(user.id, actor=admin, reason="退職のため")
    assert disabled.is_active is False and disabled.disabled_at == clock.now
    for token in (first, second):
        with pytest.raises(NotAuthenticated):
            auth.resolve_session(token)
    assert open_sessions(user.id) == []
    with pytest.raises(auth.AuthenticationFailed):
        auth.begin_sign_in(user.email, PASSWORD)


def test_disabling_twice_writes_one_audit_entry(enrolled, admin):
    user, _, _ = enrolled
    staff_admin.disable_staff_user(user.id, actor=admin, reason="退職のため")
    staff_admin.disable_staff_user(user.id, actor=admin, reason="退職のため")
    (entry,) = audit_entries("staff.disable")
    assert entry.reason == "退職のため"
    assert "password_hash" not in entry.after_json and "totp_secret" not in entry.after_json


def test_admin_cannot_disable_themselves_and_a_reason_is_required(engine, admin):
    me = new_user(admin, email="boss@example.jp", role="admin")
    with pytest.raises(PermissionDenied):
        staff_admin.disable_staff_user(me.id, actor=make_actor(Role.ADMIN, me.id), reason="テスト")
    with pytest.raises(ValidationFailed):
        staff_admin.disable_staff_user(me.id, actor=admin, reason="")


# --- MFA reset -------------------------------------------------------------------------------

def test_mfa_reset_executor_clears_enrolment_so_the_next_sign_in_enrols_again(enrolled, admin, clock):
    user, secret, codes = enrolled
    token = sign_in(user.email, secret, clock)
    pending = auth.begin_sign_in(user.email, PASSWORD)  # a sign-in half way through

    reset_mfa(user.id, admin)

    with read_session() as session:
        stored = session.get(StaffUser, user.id)
        unused_codes = session.exec(select(StaffRecoveryCode).where(
            StaffRecoveryCode.staff_user_id == user.id, StaffRecoveryCode.used_at.is_(None))).all()
    assert (stored.totp_secret, stored.mfa_enrolled_at, stored.last_totp_step) == (None, None, None)
    assert unused_codes == []
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(token)
    with pytest.raises(auth.AuthenticationFailed):
        auth.verify_mfa(pending.challenge_token, codes[0])

    step = auth.begin_sign_in(user.email, PASSWORD)
    assert step.stage == "enroll"
    new_secret = auth.start_enrollment(step.challenge_token).secret
    assert new_secret != secret
    result = auth.complete_enrollment(step.challenge_token, totp_code(new_secret, clock.now))
    assert auth.resolve_session(auth.redeem_ticket(result.ticket)).id == user.id


def test_mfa_reset_executor_writes_no_audit_entry_and_commits_with_its_caller(enrolled, admin):
    user, _, _ = enrolled
    before = len(audit_entries("staff.mfa_reset"))
    with pytest.raises(RuntimeError), approved("staff.mfa_reset"), write_session() as session:
        staff_admin.reset_staff_mfa_in(session, user.id, actor=admin, reason="紛失")
        raise RuntimeError("the approval failed after the reset")
    with read_session() as session:
        assert session.get(StaffUser, user.id).mfa_enrolled_at is not None  # rolled back with the caller
    reset_mfa(user.id, admin)
    assert len(audit_entries("staff.mfa_reset")) == before


def test_mfa_reset_runs_only_as_an_approved_request(enrolled, admin):
    user, _, _ = enrolled
    with pytest.raises(ApprovalRequired), write_session() as session:
        staff_admin.reset_staff_mfa_in(session, user.id, actor=admin, reason="紛失")
    with read_session() as session:
        assert session.get(StaffUser, user.id).mfa_enrolled_at is not None


def test_an_admin_cannot_reset_their_own_mfa(engine, admin, clock):
    me = new_user(admin, email="boss@example.jp", role="admin")
    enroll(me.email, clock)
    with pytest.raises(PermissionDenied):
        reset_mfa(me.id, make_actor(Role.ADMIN, me.id))


def test_mfa_reset_is_described_for_the_approver(enrolled, admin, clock):
    user, secret, _ = enrolled
    sign_in(user.email, secret, clock)
    with read_session() as session:
        described = staff_admin.describe_mfa_reset(session, user.id)
    assert described["summary"] == ("担当者 田中 花子 (tanaka@example.jp) の二要素認証をリセットします。"
                                    "次回ログイン時に再設定が必要です。")
    assert described["before"]["二要素認証"].startswith("設定済")
    assert described["before"]["未使用のリカバリーコード"] == "10 件"
    assert described["before"]["ログイン中のセッション"] == "2 件"
    assert described["after"]["ログイン中のセッション"].startswith("0 件")
    assert set(described["before"]) == set(described["after"])


def test_mfa_reset_of_a_user_without_mfa_is_refused_with_a_clear_message(engine, admin):
    user = new_user(admin)
    with read_session() as session, pytest.raises(Conflict) as err:
        staff_admin.describe_mfa_reset(session, user.id)
    assert "二要素認証をまだ設定していません" in err.value.message
    with read_session() as session, pytest.raises(NotFound):
        staff_admin.describe_mfa_reset(session, 99999)


def test_mfa_reset_requested_by_one_admin_and_approved_by_another(enrolled, admin, clock):
    user, secret, _ = enrolled
    token = sign_in(user.email, secret, clock)
    maker = make_actor(Role.ADMIN, new_user(admin, email="maker@example.jp", role="admin").id)
    checker = make_actor(Role.ADMIN, new_user(admin, email="checker@example.jp", role="admin").id)

    request = approvals.request_approval(operation="staff.mfa_reset", params={"staff_user_id": user.id},
                                         actor=maker, reason="スマートフォン紛失")
    assert "田中 花子 (tanaka@example.jp) の二要素認証をリセットします" in request.summary
    assert auth.resolve_session(token).id == user.id  # nothing happens before approval
    with pytest.raises(PermissionDenied):
        approvals.approve_request(request.id, actor=maker, expected_hash=request.params_hash)

    approvals.approve_request(request.id, actor=checker, expected_hash=request.params_hash)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(token)
    assert auth.begin_sign_in(user.email, PASSWORD).stage == "enroll"
    (entry,) = audit_entries("staff.mfa_reset")
    assert (entry.actor_id, entry.entity_id) == (checker.id, user.id)
    assert "totp_secret" not in (entry.before_json or "") + (entry.after_json or "")
    with read_session() as session:
        assert session.exec(select(SignInChallenge).where(SignInChallenge.staff_user_id == user.id,
                                                          SignInChallenge.stage == "mfa",
                                                          SignInChallenge.used_at.is_(None))).all() == []
