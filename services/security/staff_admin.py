"""Staff administration (担当者管理): accounts, roles, disabling, and the MFA reset.

Only admins (permission "staff.manage") use these functions. Changing a role or disabling a
user ends that user's sessions in the same transaction, so the change applies at once. An MFA
reset is dangerous (it weakens sign-in until the user enrols again), so it runs only as the
execution of an approved request: services.workflow.approvals calls `reset_staff_mfa_in` inside its
own transaction and writes the one audit entry; `describe_mfa_reset` gives the approver the
before -> after picture.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, select

from services.models import SignInChallenge, StaffRecoveryCode, StaffSession, StaffUser
from services.models.staff import STAFF_ROLES
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from services.platform.formatting import tokyo_time
from services.platform.labels import label
from services.platform.permissions import Actor, require
from services.security import auth
from services.workflow import approvals
from services.workflow.approval_gate import require_approval
from services.workflow.approvals import Policy, Preview

EMAIL_TAKEN = "このメールアドレスは既に登録されています。"
REASON_REQUIRED = "理由を入力してください。"
ROLE_INVALID = "役割を選んでください（営業・サポート・経理・管理者）。"
NOT_FOUND = "担当者が見つかりません。"


def _is_self(actor: Actor, staff_user_id: int) -> bool:
    return actor.kind == "staff" and actor.id is not None and actor.id == staff_user_id


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed({"reason": REASON_REQUIRED})
    return text


def _get_user(session: Session, staff_user_id: Any) -> StaffUser:
    try:
        user = session.get(StaffUser, int(staff_user_id))
    except (TypeError, ValueError):
        user = None
    if user is None:
        raise NotFound(NOT_FOUND)
    return user


def _end_sessions(session: Session, staff_user_id: int, now: datetime) -> None:
    """Revoke every open session and void every unused sign-in challenge or ticket of a user."""
    session.exec(update(StaffSession)
                 .where(StaffSession.staff_user_id == staff_user_id, StaffSession.revoked_at.is_(None))
                 .values(revoked_at=now))
    session.exec(update(SignInChallenge)
                 .where(SignInChallenge.staff_user_id == staff_user_id, SignInChallenge.used_at.is_(None))
                 .values(used_at=now))


def _open_sessions(session: Session, staff_user_id: int, now: datetime) -> int:
    return session.exec(select(func.count()).select_from(StaffSession).where(
        StaffSession.staff_user_id == staff_user_id, StaffSession.revoked_at.is_(None),
        StaffSession.expires_at > now)).one()


def _unused_recovery_codes(session: Session, staff_user_id: int) -> int:
    return session.exec(select(func.count()).select_from(StaffRecoveryCode).where(
        StaffRecoveryCode.staff_user_id == staff_user_id, StaffRecoveryCode.used_at.is_(None))).one()


# --- reading ----------------------------------------------------------------------------------

def list_staff(*, actor: Actor) -> list[dict[str, Any]]:
    """Every staff user for the administration screen (admin only), active ones first.

    Each row: id, email, display_name, role (+ Japanese label), active, MFA enrolled, the time
    of the last sign-in (newest session) in Asia/Tokyo, and whether the row is the actor.
    Reads only; secrets are never part of a row.
    """
    require(actor, "staff.manage")
    last_sign_in = (select(StaffSession.staff_user_id, func.max(StaffSession.created_at).label("at"))
                    .group_by(StaffSession.staff_user_id).subquery())
    with read_session() as session:
        rows = session.exec(
            select(StaffUser, last_sign_in.c.at)
            .join(last_sign_in, last_sign_in.c.staff_user_id == StaffUser.id, isouter=True)
            .order_by(StaffUser.is_active.desc(), StaffUser.id)
        ).all()
    return [{
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "role_label": label("role", user.role),
        "is_active": user.is_active,
        "active_label": "有効" if user.is_active else "無効",
        "mfa_enrolled": user.mfa_enrolled_at is not None,
        "mfa_label": "設定済" if user.mfa_enrolled_at is not None else "未設定",
        "last_sign_in": tokyo_time(last_at) if last_at else "",
        "is_self": _is_self(actor, user.id),
    } for user, last_at in rows]


# --- accounts ---------------------------------------------------------------------------------

@mutating_service
def create_staff_user(
    *, actor: Actor, email: str, display_name: str, role: str, password: str,
    reason: str | None = None,
) -> StaffUser:
    """Register a staff user (admin only); they set up MFA at their first sign-in.

    Validates email, name, role and password (12+ characters); a taken email (any case) is
    refused. Writes the user (argon2id password hash) and one "staff.create" audit entry
    without secrets.
    """
    require(actor, "staff.manage")
    email = auth.normalise_login(email)
    display_name = (display_name or "").strip()
    auth.validate_staff_fields(email, display_name, role, password)
    with read_session() as session:
        if auth.find_staff_by_login(session, email) is not None:
            raise ValidationFailed({"email": EMAIL_TAKEN})
    password_hash = auth.hash_password(password)
    with write_session() as session:
        if auth.find_staff_by_login(session, email) is not None:
            raise ValidationFailed({"email": EMAIL_TAKEN})
        user = StaffUser(email=email, display_name=display_name, role=role,
                         password_hash=password_hash, created_at=auth.clock())
        session.add(user)
        session.flush()
        record(session, actor, "staff.create", user, reason=reason, exclude=auth.USER_SECRET_FIELDS)
    return user


@mutating_service
def change_staff_role(staff_user_id: int, *, actor: Actor, role: str, reason: str) -> StaffUser:
    """Give a staff user another role (admin only, never your own; a reason is required).

    Ends the user's sessions in the same transaction, so the new role applies at once (they
    sign in again). Writes the role and one "staff.role_change" audit entry. The same role
    again changes nothing and writes nothing; a disabled user's role cannot be changed.
    """
    require(actor, "staff.manage")
    reason = _reason(reason)
    if role not in STAFF_ROLES:
        raise ValidationFailed({"role": ROLE_INVALID})
    if _is_self(actor, staff_user_id):
        raise PermissionDenied("自分自身の役割は変更できません。")
    now = auth.clock()
    with write_session() as session:
        user = _get_user(session, staff_user_id)
        if user.role == role:
            return user
        if not user.is_active:
            raise Conflict("無効になっている担当者の役割は変更できません。")
        before = snapshot(user, auth.USER_SECRET_FIELDS)
        user.role = role
        session.add(user)
        _end_sessions(session, user.id, now)
        record(session, actor, "staff.role_change", user, before=before, reason=reason,
               exclude=auth.USER_SECRET_FIELDS)
    return user


@mutating_service
def disable_staff_user(staff_user_id: int, *, actor: Actor, reason: str) -> StaffUser:
    """Disable a staff user (admin only, not yourself) and end all their sessions at once.

    Writes is_active/disabled_at, revokes every open session and unused sign-in step in the
    same transaction and one "staff.disable" audit entry. Already disabled: nothing changes,
    nothing is written.
    """
    require(actor, "staff.manage")
    reason = _reason(reason)
    if _is_self(actor, staff_user_id):
        raise PermissionDenied("自分自身のアカウントは無効にできません。")
    now = auth.clock()
    with write_session() as session:
        user = _get_user(session, staff_user_id)
        if not user.is_active:
            return user
        before = snapshot(user, auth.USER_SECRET_FIELDS)
        user.is_active = False
        user.disabled_at = now
        session.add(user)
        _end_sessions(session, user.id, now)
        record(session, actor, "staff.disable", user, before=before, reason=reason,
               exclude=auth.USER_SECRET_FIELDS)
    return user


# --- MFA reset (only through an approved request) ---------------------------------------------

def describe_mfa_reset(session: Session, staff_user_id: int) -> dict[str, Any]:
    """What an MFA reset of this user will change, for the approval request and its diff.

    Returns {"summary": str, "before": {label: value}, "after": {label: value}}. Raises
    NotFound for an unknown user and Conflict if the user has no MFA set up (nothing to reset).
    Reads only, in the caller's session.
    """
    user = _get_user(session, staff_user_id)
    if user.mfa_enrolled_at is None:
        raise Conflict(f"担当者 {user.display_name} ({user.email}) は二要素認証をまだ設定していません。"
                       "次回ログイン時に設定します。")
    now = auth.clock()
    sessions = _open_sessions(session, user.id, now)
    codes = _unused_recovery_codes(session, user.id)
    return {
        "summary": f"担当者 {user.display_name} ({user.email}) の二要素認証をリセットします。"
                   "次回ログイン時に再設定が必要です。",
        "before": {
            "二要素認証": f"設定済（{tokyo_time(user.mfa_enrolled_at)} 設定）",
            "未使用のリカバリーコード": f"{codes} 件",
            "ログイン中のセッション": f"{sessions} 件",
        },
        "after": {
            "二要素認証": "未設定（次回ログイン時に再設定）",
            "未使用のリカバリーコード": "0 件（すべて無効）",
            "ログイン中のセッション": "0 件（すべてログアウト）",
        },
    }


def reset_staff_mfa_in(session: Session, staff_user_id: int, *, actor: Actor, reason: str) -> StaffUser:
    """Reset a staff user's MFA inside the caller's open transaction (approved request only).

    Runs only as the execution of an approved "staff.mfa_reset" request (services.workflow.approvals),
    by an admin who is not the user. Clears the TOTP secret, enrolment time and last used
    step, uses up every recovery code, ends every session and voids every open sign-in step,
    so the next sign-in goes through enrolment. Opens no transaction and writes no audit
    entry: the caller does both.
    """
    require_approval("staff.mfa_reset")
    require(actor, "staff.manage")
    _reason(reason)
    if _is_self(actor, staff_user_id):
        raise PermissionDenied("自分自身の二要素認証はリセットできません。")
    now = auth.clock()
    user = _get_user(session, staff_user_id)
    user.totp_secret = None
    user.mfa_enrolled_at = None
    user.last_totp_step = None
    session.add(user)
    session.exec(update(StaffRecoveryCode)
                 .where(StaffRecoveryCode.staff_user_id == user.id, StaffRecoveryCode.used_at.is_(None))
                 .values(used_at=now))
    _end_sessions(session, user.id, now)
    session.flush()
    return user


def _describe_mfa_reset(session: Session, params: dict) -> Preview:
    user = approvals.get_record(session, StaffUser, params.get("staff_user_id"), "担当者")
    described = describe_mfa_reset(session, user.id)
    before, after = described.get("before", {}), described.get("after", {})
    changes = [(str(k), str(before.get(k, "")), str(after.get(k, ""))) for k in dict.fromkeys([*before, *after])]
    return Preview(summary=described["summary"], changes=changes, target_key=f"staff:{user.id}")


def _execute_mfa_reset(params: dict, actor: Actor, reason: str) -> None:
    with write_session() as session:  # joins the approval's transaction
        user = approvals.get_record(session, StaffUser, params["staff_user_id"], "担当者")
        before = snapshot(user, exclude={"password_hash", "totp_secret"})
        reset_staff_mfa_in(session, user.id, actor=actor, reason=reason)
        record(session, actor, "staff.mfa_reset", user, before=before, reason=reason,
               exclude={"password_hash", "totp_secret"})




POLICIES = (
    Policy("staff.mfa_reset", "担当者の二要素認証リセット", "staff.manage", approvals.ADMIN_CHECKERS,
           _describe_mfa_reset, _execute_mfa_reset, required_params=("staff_user_id",)),
)


def request_mfa_reset(staff_user_id: int, *, actor: Actor, reason: str) -> approvals.Submitted:
    """The one call for resetting a staff member's MFA, whoever asks: an approval request another admin decides."""
    return approvals.submit("staff.mfa_reset", {"staff_user_id": staff_user_id}, actor=actor, reason=reason,
                            run_now=lambda: _execute_mfa_reset({"staff_user_id": staff_user_id}, actor, reason))
