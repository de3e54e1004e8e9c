"""The company's people (利用者 / 法人管理者): what a signed-in customer may see, invitations, the lines a 利用者
sees, their rights, and removal.

Who sees what (`customer_scope`, the one rule every customer-facing read and change goes through):
- a 法人管理者 (customer_admin) sees every line and every bill of the company and may manage its people;
- a 利用者 (user) sees only the lines assigned to them (CustomerUserLine), bills only with `can_view_bills`,
  and asks for changes only with `can_request`; they never manage people.
Anything outside the actor's scope is NotFound in words, the same answer as for an id that does not exist,
so a customer learns nothing about other companies; nothing is written then.

Staff manage any company's people with "customer.update" (see them with "customer.view").
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.ledger.notifications import mail_in, permalink
from services.models import Customer, CustomerInvitation, CustomerSession, CustomerUser, CustomerUserLine, Line
from services.models.base import utcnow
from services.models.customer import CUSTOMER_USER_ROLES
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from services.platform.formatting import tokyo_time
from services.platform.identifiers import format_msisdn
from services.platform.labels import label
from services.platform.permissions import Actor, require

ADMIN = "customer_admin"  # 法人管理者
USER = "user"  # 利用者
INVITATION_LIFETIME = timedelta(hours=72)
NAME_MAX = 200
EMAIL_MAX = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Never copied into an audit entry: the password hash, the second factor and an invitation's token hash.
SECRET_FIELDS = {"password_hash", "totp_secret", "last_totp_step", "token_hash"}

CUSTOMER_NOT_FOUND = "顧客が見つかりません。"
USER_NOT_FOUND = "利用者が見つかりません。"
LINE_NOT_FOUND = "回線が見つかりません。"
ADMIN_ONLY = "利用者の管理は法人管理者だけが行えます。"
EMAIL_IN_USE = "このメールアドレスは既に利用者として登録されています。"
DISABLED = "この利用者は削除済みです。"
ADMIN_SEES_ALL = "法人管理者はすべての回線を見られます。回線の指定は不要です。"
ADMIN_HAS_ALL = "法人管理者は常に請求書の閲覧と各種お申し込みができます。"
LAST_ADMIN = "最後の法人管理者はご自身を削除できません。先に別の法人管理者を招待してください。"


@dataclass(frozen=True)
class CustomerScope:
    """What one signed-in customer user may see: their company, their lines and their rights (read fresh from
    the ledger on every call, so a change by the 法人管理者 applies at once)."""

    customer_id: int
    customer_user_id: int
    is_admin: bool
    can_view_bills: bool
    can_request: bool
    line_ids: frozenset[int]  # every line of the company for a 法人管理者; the assigned ones for a 利用者

    def sees_line(self, line_id: Any) -> bool:
        """True when the line is in this person's scope."""
        return line_id in self.line_ids


def customer_scope(session: Session, actor: Actor | None) -> CustomerScope:
    """The scope of a customer actor, from their CustomerUser row (role and rights as stored now, not as the
    session remembered them).

    Staff and system actors get PermissionDenied (they use the staff read models); a customer actor whose
    user is missing, removed or of another customer than the session says gets NotAuthenticated.
    """
    if actor is None or actor.kind != "customer":
        raise PermissionDenied()
    user = session.get(CustomerUser, actor.id) if isinstance(actor.id, int) else None
    if user is None or not user.is_active or user.disabled_at is not None or user.customer_id != actor.customer_id:
        raise NotAuthenticated()
    is_admin = user.role == ADMIN
    if is_admin:
        ids = session.exec(select(Line.id).where(Line.customer_id == user.customer_id)).all()
    else:  # an assignment to another company's line (never made by these services) is ignored
        ids = session.exec(select(CustomerUserLine.line_id).join(Line, Line.id == CustomerUserLine.line_id).where(
            CustomerUserLine.customer_user_id == user.id, Line.customer_id == user.customer_id)).all()
    return CustomerScope(customer_id=user.customer_id, customer_user_id=user.id, is_admin=is_admin,
                         can_view_bills=is_admin or user.can_view_bills, can_request=is_admin or user.can_request,
                         line_ids=frozenset(ids))


def _manager_scope(session: Session, actor: Actor | None, permission: str) -> CustomerScope | None:
    """Who may manage people: staff holding `permission` (None is returned) or an active 法人管理者 (their scope).
    Checked before anything is looked up, so a refusal says nothing about the ids asked for."""
    if actor is not None and actor.kind == "customer":
        scope = customer_scope(session, actor)
        if not scope.is_admin:
            raise PermissionDenied(ADMIN_ONLY)
        return scope
    require(actor, permission)
    return None


def _customer(session: Session, customer_id: Any, scope: CustomerScope | None) -> Customer:
    customer = session.get(Customer, customer_id) if isinstance(customer_id, int) else None
    if customer is None or (scope is not None and customer.id != scope.customer_id):
        raise NotFound(CUSTOMER_NOT_FOUND)
    return customer


def _target_user(session: Session, customer_user_id: Any, scope: CustomerScope | None) -> CustomerUser:
    """The person being managed, locked; NotFound when missing or of another company than the 法人管理者's."""
    user = session.exec(select(CustomerUser).where(CustomerUser.id == customer_user_id).with_for_update()).first() \
        if isinstance(customer_user_id, int) else None
    if user is None or (scope is not None and user.customer_id != scope.customer_id):
        raise NotFound(USER_NOT_FOUND)
    return user


def _company_lines(session: Session, customer_id: int, line_ids: Iterable[Any]) -> list[int]:
    """The given lines, each a line of the customer (NotFound in the same words for a line that does not exist
    and a line of another company); sorted, without repeats."""
    wanted = list(dict.fromkeys(line_ids))
    if any(not isinstance(i, int) or isinstance(i, bool) for i in wanted):
        raise ValidationFailed({"line_ids": "回線を選び直してください。"})
    if not wanted:
        return []
    found = set(session.exec(select(Line.id).where(col(Line.id).in_(wanted), Line.customer_id == customer_id)).all())
    if found != set(wanted):
        raise NotFound(LINE_NOT_FOUND)
    return sorted(found)


def _user_snapshot(user: CustomerUser) -> dict[str, Any] | None:
    return snapshot(user, exclude=SECRET_FIELDS)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) kept in place of a one-time token (the token itself is only in the mail)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _invitation_fields(email: str, name: str, role: str) -> tuple[str, str, str]:
    email, name, role = (email or "").strip().lower(), (name or "").strip(), (role or "").strip()
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "メールアドレスを入力してください。"
    elif len(email) > EMAIL_MAX or not _EMAIL.match(email):
        errors["email"] = "メールアドレスの形式が正しくありません。"
    if not name:
        errors["name"] = "氏名を入力してください。"
    elif len(name) > NAME_MAX:
        errors["name"] = f"氏名は{NAME_MAX}文字以内で入力してください。"
    if role not in CUSTOMER_USER_ROLES:
        errors["role"] = "役割を選んでください（法人管理者・利用者）。"
    if errors:
        raise ValidationFailed(errors)
    return email, name, role


def _mail_text(customer: Customer, name: str, role: str, link: str, expires_at) -> str:
    return (f"{name} 様\n\n{customer.name} の{label('role', role)}として、お客様サイトにご招待されました。\n"
            f"下のリンクを開いて、パスワードを設定してください。\n\n{link}\n\n"
            f"リンクの有効期限は {tokyo_time(expires_at)} です（72時間）。\n"
            "お心当たりがない場合は、このメールを破棄してください。")


@mutating_service
def invite_user(customer_id: int, *, actor: Actor, email: str, name: str, role: str, line_ids: Iterable[int] = (),
                reason: str | None = None) -> tuple[CustomerInvitation, str]:
    """Invite a person to the customer's self-service app and mail them a one-time link.

    Who: staff holding "customer.update", or a 法人管理者 of that customer (a 利用者 cannot invite; another
    company's id is NotFound). Validates the e-mail address, name, role (customer_admin / user) and that each
    line is the customer's (a 法人管理者 sees every line, so lines are given only for a 利用者); an address an
    active customer user already signs in with is refused. Writes a CustomerInvitation that expires in 72
    hours, keeping only the SHA-256 of its token; revokes an invitation still open for the same address and
    customer; queues one mail with the link /go/invitation/<token> through the outbox; one audit entry
    "customer_user.invite". Returns the invitation and its token (the token is shown nowhere else).
    """
    email, name, role = _invitation_fields(email, name, role)
    line_ids = list(line_ids or ())
    with write_session() as session:
        scope = _manager_scope(session, actor, "customer.update")
        customer = _customer(session, customer_id, scope)
        if role == ADMIN and line_ids:
            raise ValidationFailed({"line_ids": ADMIN_SEES_ALL})
        lines = _company_lines(session, customer.id, line_ids)
        taken = session.exec(select(CustomerUser.id).where(
            func.lower(CustomerUser.email) == email, CustomerUser.is_active.is_(True))).first()
        if taken is not None:
            raise ValidationFailed({"email": EMAIL_IN_USE})
        now = utcnow()
        open_ones = session.exec(select(CustomerInvitation).where(
            CustomerInvitation.customer_id == customer.id, func.lower(CustomerInvitation.email) == email,
            col(CustomerInvitation.accepted_at).is_(None), col(CustomerInvitation.revoked_at).is_(None),
            CustomerInvitation.expires_at > now).with_for_update()).all()
        for old in open_ones:
            old.revoked_at = now
            session.add(old)
        token = secrets.token_urlsafe(32)
        staff = actor.kind == "staff"
        invitation = CustomerInvitation(
            token_hash=token_digest(token), customer_id=customer.id, email=email, name=name, role=role,
            line_ids=",".join(map(str, lines)), invited_by_staff_id=actor.id if staff else None,
            invited_by_customer_user_id=actor.id if actor.kind == "customer" else None,
            created_at=now, expires_at=now + INVITATION_LIFETIME)
        session.add(invitation)
        session.flush()
        link = permalink("invitation", token)
        operation = mail_in(session, to=email, subject=f"お客様サイトへのご招待（{customer.name}）",
                            text=_mail_text(customer, name, role, link, invitation.expires_at),
                            key=f"invitation{invitation.id}", customer_id=customer.id)
        record(session, actor, "customer_user.invite", invitation, reason=reason, after={
            **snapshot(invitation, exclude=SECRET_FIELDS), "revoked_invitation_ids": [o.id for o in open_ones],
            "external_operation_id": operation.id})
    return invitation, token


def company_users(customer_id: int, *, actor: Actor) -> list[dict[str, Any]]:
    """The company's people for its user screen: every customer user (active first, then removed) with role,
    lines, rights and last sign-in, then each open invitation (kind "invitation").

    Who: staff holding "customer.view", or a 法人管理者 of that customer (a 利用者: PermissionDenied; another
    company's id: NotFound). Writes nothing. A 法人管理者's rights and lines show as everything they have.
    """
    with read_session() as session:
        scope = _manager_scope(session, actor, "customer.view")
        customer = _customer(session, customer_id, scope)
        users = session.exec(select(CustomerUser).where(CustomerUser.customer_id == customer.id)
                             .order_by(col(CustomerUser.is_active).desc(), CustomerUser.id)).all()
        user_ids = [u.id for u in users]
        assigned: dict[int, list[int]] = defaultdict(list)
        for user_id, line_id in session.exec(
                select(CustomerUserLine.customer_user_id, CustomerUserLine.line_id)
                .join(Line, Line.id == CustomerUserLine.line_id)
                .where(col(CustomerUserLine.customer_user_id).in_(user_ids), Line.customer_id == customer.id)
                .order_by(CustomerUserLine.line_id)).all() if user_ids else []:
            assigned[user_id].append(line_id)
        signed_in = dict(session.exec(
            select(CustomerSession.customer_user_id, func.max(CustomerSession.created_at))
            .where(col(CustomerSession.customer_user_id).in_(user_ids))
            .group_by(CustomerSession.customer_user_id)).all()) if user_ids else {}
        invitations = session.exec(select(CustomerInvitation).where(
            CustomerInvitation.customer_id == customer.id, col(CustomerInvitation.accepted_at).is_(None),
            col(CustomerInvitation.revoked_at).is_(None), CustomerInvitation.expires_at > utcnow())
            .order_by(CustomerInvitation.id)).all()
        numbers = dict(session.exec(select(Line.id, Line.msisdn).where(Line.customer_id == customer.id)).all())
    me = scope.customer_user_id if scope is not None else None

    def shown(ids: list[int]) -> list[str]:
        return [format_msisdn(numbers[i]) for i in ids if i in numbers]

    rows: list[dict[str, Any]] = []
    for u in users:
        admin = u.role == ADMIN
        lines = [] if admin else assigned[u.id]
        status = "active" if u.is_active else "disabled"
        rows.append({
            "kind": "user", "id": u.id, "name": u.name, "email": u.email, "role": u.role,
            "role_label": label("role", u.role), "is_active": u.is_active, "status": status,
            "status_label": label("customer_user_status", status), "all_lines": admin, "line_ids": lines,
            "lines": shown(lines), "can_view_bills": admin or u.can_view_bills, "can_request": admin or u.can_request,
            "last_sign_in_at": tokyo_time(signed_in.get(u.id)), "disabled_at": tokyo_time(u.disabled_at),
            "is_me": u.id == me,
        })
    for inv in invitations:
        lines = [int(i) for i in inv.line_ids.split(",") if i]
        rows.append({
            "kind": "invitation", "id": inv.id, "name": inv.name, "email": inv.email, "role": inv.role,
            "role_label": label("role", inv.role), "is_active": False, "status": "invited",
            "status_label": label("customer_user_status", "invited"), "all_lines": inv.role == ADMIN,
            "line_ids": lines, "lines": shown(lines), "invited_at": tokyo_time(inv.created_at),
            "expires_at": tokyo_time(inv.expires_at),
        })
    return rows


def company_lines(customer_id: int, *, actor: Actor) -> list[dict[str, Any]]:
    """The company's lines not terminated, to assign to a 利用者: id and number (090-1234-5678).

    Who: as company_users (staff holding "customer.view", or that company's 法人管理者). Writes nothing.
    """
    with read_session() as session:
        customer = _customer(session, customer_id, _manager_scope(session, actor, "customer.view"))
        rows = session.exec(select(Line.id, Line.msisdn).where(Line.customer_id == customer.id,
                                                               Line.status != "terminated").order_by(Line.id)).all()
    return [{"id": line_id, "msisdn": format_msisdn(msisdn)} for line_id, msisdn in rows]


@mutating_service
def remove_user(customer_user_id: int, *, actor: Actor, reason: str) -> CustomerUser:
    """Remove a person from the company's self-service app: the user is disabled (kept for the records) and
    every signed-in session of theirs is revoked.

    Who: staff holding "customer.update", or a 法人管理者 of that company (a 利用者: PermissionDenied; another
    company's user: NotFound). A 法人管理者 cannot remove themselves while they are the last active one.
    Idempotent: an already removed user changes nothing and writes nothing. Writes the user, their
    CustomerSession rows and one audit entry "customer_user.disable" with the reason.
    """
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "理由を入力してください。"})
    with write_session() as session:
        scope = _manager_scope(session, actor, "customer.update")
        user = _target_user(session, customer_user_id, scope)
        if not user.is_active:
            return user
        if scope is not None and user.id == scope.customer_user_id and user.role == ADMIN:
            others = session.exec(select(func.count()).select_from(CustomerUser).where(
                CustomerUser.customer_id == user.customer_id, CustomerUser.role == ADMIN,
                CustomerUser.is_active.is_(True), CustomerUser.id != user.id)).one()
            if not others:
                raise Conflict(LAST_ADMIN)
        before = _user_snapshot(user)
        now = utcnow()
        user.is_active, user.disabled_at = False, now
        session.add(user)
        sessions = session.exec(select(CustomerSession).where(
            CustomerSession.customer_user_id == user.id, col(CustomerSession.revoked_at).is_(None))).all()
        for row in sessions:
            row.revoked_at = now
            session.add(row)
        record(session, actor, "customer_user.disable", user, before=before, reason=reason.strip(), after={
            **_user_snapshot(user), "revoked_session_ids": [s.id for s in sessions]})
    return user


def _changeable(user: CustomerUser, field: str, message: str) -> None:
    if not user.is_active:
        raise Conflict(DISABLED)
    if user.role == ADMIN:
        raise ValidationFailed({field: message})


@mutating_service
def assign_lines(customer_user_id: int, line_ids: Iterable[int], *, actor: Actor) -> CustomerUser:
    """Set the lines a 利用者 sees and acts on (the given set replaces the one they had).

    Who: staff holding "customer.update", or a 法人管理者 of that company (a 利用者: PermissionDenied; another
    company's user or line: NotFound). A 法人管理者 already sees every line (ValidationFailed); a removed user
    cannot be changed (Conflict). Idempotent: the same set writes nothing. Writes the user's CustomerUserLine
    rows and one audit entry "customer_user.assign_lines" with the line ids before and after.
    """
    with write_session() as session:
        scope = _manager_scope(session, actor, "customer.update")
        user = _target_user(session, customer_user_id, scope)
        _changeable(user, "line_ids", ADMIN_SEES_ALL)
        wanted = _company_lines(session, user.customer_id, list(line_ids or ()))
        rows = session.exec(select(CustomerUserLine).where(CustomerUserLine.customer_user_id == user.id)).all()
        had = sorted(r.line_id for r in rows)
        if had == wanted:
            return user
        for row in rows:
            if row.line_id not in wanted:
                session.delete(row)
        for line_id in set(wanted) - set(had):
            session.add(CustomerUserLine(customer_user_id=user.id, line_id=line_id))
        session.flush()
        who = {"customer_user_id": user.id, "email": user.email}
        record(session, actor, "customer_user.assign_lines", user, before={**who, "line_ids": had},
               after={**who, "line_ids": wanted})
    return user


@mutating_service
def set_rights(customer_user_id: int, *, actor: Actor, can_view_bills: bool, can_request: bool) -> CustomerUser:
    """Set what a 利用者 may do beyond their lines: see the company's bills, and make requests (suspension,
    plan changes).

    Who: staff holding "customer.update", or a 法人管理者 of that company (a 利用者: PermissionDenied; another
    company's user: NotFound). A 法人管理者 always has both (ValidationFailed); a removed user cannot be changed
    (Conflict). Idempotent: the same rights write nothing. Writes the user and one audit entry
    "customer_user.set_rights".
    """
    if not isinstance(can_view_bills, bool) or not isinstance(can_request, bool):
        raise ValidationFailed({"rights": "権限は「あり」か「なし」で指定してください。"})
    with write_session() as session:
        scope = _manager_scope(session, actor, "customer.update")
        user = _target_user(session, customer_user_id, scope)
        _changeable(user, "rights", ADMIN_HAS_ALL)
        if (user.can_view_bills, user.can_request) == (can_view_bills, can_request):
            return user
        before = _user_snapshot(user)
        user.can_view_bills, user.can_request = can_view_bills, can_request
        session.add(user)
        record(session, actor, "customer_user.set_rights", user, before=before, after=_user_snapshot(user))
    return user
