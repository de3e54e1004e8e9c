"""Customer sign-in (password + mandatory TOTP), sessions, invitations and password resets.

The customers' own tables (services.models.customer_access), never the staff ones; the pieces every
sign-in shares (passwords, tokens, TOTP steps, recovery codes, throttling) are services.security.credentials.
The flow, as the /my pages drive it:

1. `begin_sign_in(email, password)` -> a `SignInStep`: stage "enroll" (no authenticator yet) or "mfa",
   with a challenge token valid for 10 minutes. A new person comes in by `accept_invitation(token,
   password=...)` instead, which creates their account and returns an "enroll" step at once.
2. "enroll": `start_enrollment(token)` shows the QR code, `complete_enrollment(token, code)` turns TOTP
   on and hands out 10 recovery codes (shown once) and a one-time ticket.
   "mfa": `verify_mfa(token, code)` takes a TOTP code or an unused recovery code and returns a ticket.
3. `redeem_ticket(ticket)` (the route that sets the cookie) makes the session; `resolve_session(token)`
   turns the cookie into a customer `Actor`; `sign_out(token)` ends it. `signed_in_devices` and
   `sign_out_other_devices` show and end the person's other sessions.

A forgotten password: `request_password_reset(email)` mails a one-hour link (the same answer whether or
not the address is registered), `reset_password(token, new_password)` sets it and signs every device out.

Only SHA-256 digests of tokens and recovery codes are stored; TOTP secrets are encrypted at rest. Wrong
address, wrong password and disabled account say the same thing. Failures are throttled per address
(login key "my:<address>", known or not) and per network; both refusals say when to try again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import pyotp
from pwdlib import PasswordHash
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from services.ledger.notifications import mail_in, permalink
from services.models import (
    Customer,
    CustomerInvitation,
    CustomerPasswordReset,
    CustomerRecoveryCode,
    CustomerSession,
    CustomerSignInChallenge,
    CustomerUser,
    CustomerUserLine,
    Line,
    SignInAttempt,
)
from services.models.base import utcnow
from services.platform.audit import record, snapshot
from services.platform.config import settings
from services.platform.crypto import decrypt, encrypt
from services.platform.db import read_session, write_session
from services.platform.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from services.platform.formatting import tokyo_time
from services.platform.labels import label
from services.platform.permissions import SYSTEM, Actor, Role
from services.security import credentials
from services.security.credentials import AuthenticationFailed, NetworkThrottled, normalise_login
from services.security.masking import mask

__all__ = [
    "AccountLocked", "AuthenticationFailed", "Enrollment", "EnrollmentResult", "NetworkThrottled", "SignInStep",
    "accept_invitation", "begin_sign_in", "complete_enrollment", "invitation", "invitation_token_hash",
    "issue_ticket", "password_problems", "provision_demo_customer_user", "redeem_ticket", "request_password_reset",
    "reset_password", "resolve_session", "sign_out", "sign_out_other_devices", "signed_in_devices",
    "start_enrollment", "verify_mfa",
]

CHALLENGE_LIFETIME = timedelta(minutes=10)
TICKET_LIFETIME = timedelta(seconds=60)
RESET_LIFETIME = timedelta(hours=1)
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
RESET_KEY_PREFIX = credentials.CUSTOMER_KEY_PREFIX + "reset:"  # SignInAttempt keys of reset requests
RESET_MAX_PER_ADDRESS = 3  # reset mails per address within settings.sign_in_window_minutes
RESET_MAX_PER_NETWORK = 10  # reset requests from one network within the window

CODE_INVALID = "確認コードが正しくありません。"
CHALLENGE_INVALID = "ログインの有効期限が切れました。最初からやり直してください。"
TICKET_INVALID = "ログインの有効期限が切れました。もう一度ログインしてください。"
ACCOUNT_LOCKED = ("ログインの失敗が続いたため、このメールアドレスでのログインを一時的に止めています。"
                  "{until} 以降にもう一度お試しください。")
INVITATION_INVALID = ("この招待リンクは使えません。有効期限が切れたか、すでに使われたか、取り消されています。"
                      "招待した方に、もう一度招待を送るようご依頼ください。")
EMAIL_TAKEN = "このメールアドレスはすでに登録されています。ログイン画面からログインしてください。"
RESET_REQUESTED = ("ご入力のメールアドレスが登録されている場合は、パスワード再設定のご案内をメールでお送りしました。"
                   "メールのリンクから1時間以内に新しいパスワードを設定してください。")
RESET_THROTTLED = ("このネットワークからのパスワード再設定のお申し込みが続いたため、しばらく受け付けません。"
                   "{minutes}分ほど待ってからもう一度お試しください。")
RESET_MAIL_SUBJECT = "パスワード再設定のご案内"
RESET_LINK_INVALID = ("このパスワード再設定のリンクは使えません。有効期限（1時間）が切れたか、すでに使われています。"
                      "もう一度お申し込みください。")

USER_SECRET_FIELDS = {"password_hash", "totp_secret"}  # never in audit entries

log = logging.getLogger(__name__)

# The time source of this module; tests replace it to move time (TOTP steps, expiry).
clock: Callable[[], datetime] = utcnow

# argon2id with the library's recommended cost (tests may swap in a cheaper argon2id hasher).
_password_hash: PasswordHash = credentials.DEFAULT_PASSWORD_HASH


class AccountLocked(AuthenticationFailed):
    """Too many failures for one address: refused until `until` (said in the message, Tokyo time)."""

    def __init__(self, until: datetime) -> None:
        shown = until.replace(second=0, microsecond=0)
        if shown < until:  # the minute shown is never before the lock ends
            shown += timedelta(minutes=1)
        super().__init__(ACCOUNT_LOCKED.format(until=tokyo_time(shown)))
        self.until = until


@dataclass(frozen=True)
class SignInStep:
    """The password (or an invitation) was accepted: the next step and its challenge token."""

    stage: Literal["mfa", "enroll"]
    challenge_token: str


@dataclass(frozen=True)
class Enrollment:
    """What the set-up screen shows: the secret, its otpauth:// URI and a QR code."""

    secret: str
    provisioning_uri: str
    qr_svg_data_uri: str
    issuer: str


@dataclass(frozen=True)
class EnrollmentResult:
    """The authenticator is set up: a one-time sign-in ticket and the recovery codes (shown once only)."""

    ticket: str
    recovery_codes: list[str]


# --- helpers ---------------------------------------------------------------------------------

def invitation_token_hash(token: str) -> str:
    """What CustomerInvitation.token_hash stores for an invitation link's token (its SHA-256)."""
    return credentials.digest(token)


def password_problems(password: str, *, email: str = "") -> list[str]:
    """What is wrong with a customer's new password, in Japanese (empty when it may be used).

    At least 10 and at most 128 characters, not a common password (case-insensitive), not the e-mail
    address; no composition rules. Anyone may call it (the pages check as the person types).
    """
    return credentials.password_problems(password, email=email)


def _issuer() -> str:
    return settings.issuer.name


def _customer_actor(user: CustomerUser, *, session_id: int | None = None, request_id: str | None = None) -> Actor:
    return Actor(kind="customer", id=user.id, role=Role(user.role), label=f"{user.name} <{user.email}>"[:200],
                 customer_id=user.customer_id, session_id=session_id, request_id=request_id)


def _usable(user: CustomerUser | None) -> bool:
    return user is not None and user.is_active and user.disabled_at is None


def _find_user(session: Session, login: str) -> CustomerUser | None:
    return session.exec(select(CustomerUser).where(func.lower(CustomerUser.email) == login)).first()


def _locked_until(session: Session, login_key: str, now: datetime) -> datetime | None:
    """When an address over its failure limit may try again (its oldest counted failure leaves the window)."""
    times = credentials.failure_times(session, login_key, now)
    if len(times) < settings.sign_in_max_failures:
        return None
    return times[settings.sign_in_max_failures - 1] + timedelta(minutes=settings.sign_in_window_minutes)


def _log_lock(login_key: str, until: datetime) -> None:
    log.warning("customer sign-in locked for account %s until %s (%s failures in %s minutes)",
                credentials.digest(login_key)[:12], until.isoformat(timespec="seconds"),
                settings.sign_in_max_failures, settings.sign_in_window_minutes)


def _new_challenge(session: Session, user: CustomerUser, stage: str, lifetime: timedelta, now: datetime) -> str:
    token = credentials.new_token()
    session.add(CustomerSignInChallenge(token_hash=credentials.digest(token), customer_user_id=user.id, stage=stage,
                                        created_at=now, expires_at=now + lifetime))
    return token


def _open_challenge(session: Session, token: str | None, stage: str, now: datetime,
                    message: str = CHALLENGE_INVALID) -> tuple[CustomerSignInChallenge, CustomerUser]:
    """The unused, unexpired challenge of `stage` for an active customer user, or AuthenticationFailed."""
    if not token:
        raise AuthenticationFailed(message)
    challenge = session.exec(select(CustomerSignInChallenge).where(
        CustomerSignInChallenge.token_hash == credentials.digest(token))).first()
    if challenge is None or challenge.stage != stage or challenge.used_at is not None or challenge.expires_at <= now:
        raise AuthenticationFailed(message)
    user = session.get(CustomerUser, challenge.customer_user_id)
    if not _usable(user):
        raise AuthenticationFailed(message)
    return challenge, user


def _new_recovery_codes(session: Session, user: CustomerUser, now: datetime) -> list[str]:
    """Replace the person's recovery codes with 10 new ones; returns them as shown (abcd-efgh-ijkl)."""
    session.exec(update(CustomerRecoveryCode)
                 .where(CustomerRecoveryCode.customer_user_id == user.id, col(CustomerRecoveryCode.used_at).is_(None))
                 .values(used_at=now))
    shown = []
    for raw, text in credentials.new_recovery_codes():
        session.add(CustomerRecoveryCode(customer_user_id=user.id, code_hash=credentials.digest(raw)))
        shown.append(text)
    return shown


def _live_sessions(user_id: int, now: datetime):
    """SQL: the sessions of a customer user that still work (not revoked, expired or idle)."""
    idle_since = now - timedelta(minutes=settings.customer_session_idle_minutes)
    return select(CustomerSession).where(
        CustomerSession.customer_user_id == user_id, col(CustomerSession.revoked_at).is_(None),
        CustomerSession.expires_at > now, CustomerSession.last_seen_at >= idle_since)


def _require_customer(actor: Actor | None) -> Actor:
    if (actor is None or actor.kind != "customer" or actor.id is None
            or actor.role not in (Role.CUSTOMER_ADMIN, Role.CUSTOMER_USER)):
        raise PermissionDenied()
    return actor


# --- sign-in ---------------------------------------------------------------------------------

def begin_sign_in(email: str, password: str, *, client_ip: str | None = None) -> SignInStep:
    """Check a customer's address and password; on success open a 10-minute "mfa" (or "enroll") challenge.

    Anyone may call it. Every attempt is written to SignInAttempt under "my:<address>". Unknown address,
    wrong password and disabled person raise the same AuthenticationFailed after the same password work.
    An address with settings.sign_in_max_failures failures in the window (known or not) raises AccountLocked
    saying when to try again; a network over its limit raises NetworkThrottled. Both are logged.
    """
    login, login_key = normalise_login(email), credentials.customer_login_key(email)
    now = clock()
    with write_session() as session:
        network_throttled = credentials.network_throttled(session, login_key, client_ip, now)
        locked_until = None if network_throttled else _locked_until(session, login_key, now)
    if network_throttled:
        raise NetworkThrottled()
    if locked_until is not None:
        _log_lock(login_key, locked_until)
        raise AccountLocked(locked_until)
    with read_session() as session:
        user = _find_user(session, login) if login else None
    password_ok, new_hash = credentials.verify_password(password, user.password_hash if user else None,
                                                        _password_hash)
    now = clock()
    step: SignInStep | None = None
    with write_session() as session:
        locked_until = _locked_until(session, login_key, now)  # a guess racing this one may have locked it
        user = session.get(CustomerUser, user.id) if user is not None else None
        ok = password_ok and locked_until is None and _usable(user)
        if locked_until is None:
            credentials.record_attempt(session, login_key, ok, now, client_ip)
            session.flush()
        if ok:
            if new_hash:
                user.password_hash = new_hash
                session.add(user)
            stage = "enroll" if user.mfa_enrolled_at is None else "mfa"
            token = _new_challenge(session, user, stage, CHALLENGE_LIFETIME, now)
            step = SignInStep(stage=stage, challenge_token=token)
        elif locked_until is None:
            locked_until = _locked_until(session, login_key, now)  # this failure may have reached the limit
    if step is not None:
        return step
    if locked_until is not None:
        _log_lock(login_key, locked_until)
        raise AccountLocked(locked_until)
    raise AuthenticationFailed()


def start_enrollment(challenge_token: str) -> Enrollment:
    """Create (once per challenge) the TOTP secret the person scans into an authenticator app.

    Needs an "enroll" challenge (begin_sign_in or accept_invitation). Stores the pending secret, encrypted,
    on the challenge; calling it again for the same challenge returns the same secret. The otpauth:// URI
    names the operator (settings.issuer.name) and the person's address.
    """
    now = clock()
    with write_session() as session:
        challenge, user = _open_challenge(session, challenge_token, "enroll", now)
        if user.mfa_enrolled_at is not None:
            raise AuthenticationFailed(CHALLENGE_INVALID)
        if challenge.pending_totp_secret is None:
            challenge.pending_totp_secret = encrypt(pyotp.random_base32())
            session.add(challenge)
        secret, email = decrypt(challenge.pending_totp_secret), user.email
    uri = credentials.provisioning_uri(secret, email, _issuer())
    return Enrollment(secret=secret, provisioning_uri=uri, qr_svg_data_uri=credentials.qr_data_uri(uri),
                      issuer=_issuer())


def complete_enrollment(challenge_token: str, code: str) -> EnrollmentResult:
    """Confirm the authenticator with its current code; turn TOTP on and sign in.

    Needs the "enroll" challenge after start_enrollment. Writes the TOTP secret (encrypted), 10 new recovery
    codes (hashed; returned once, never readable again), consumes the challenge, records "auth.mfa_enroll"
    by the person and returns a 60-second one-time ticket.
    """
    now = clock()
    with write_session() as session:
        challenge, user = _open_challenge(session, challenge_token, "enroll", now)
        if user.mfa_enrolled_at is not None or challenge.pending_totp_secret is None:
            raise AuthenticationFailed(CHALLENGE_INVALID)
        secret = decrypt(challenge.pending_totp_secret)
        step = credentials.totp_step(secret, (code or "").strip().replace(" ", ""), now, None)
        if step is None:
            raise AuthenticationFailed(CODE_INVALID)
        before = snapshot(user, USER_SECRET_FIELDS)
        user.totp_secret, user.mfa_enrolled_at, user.last_totp_step = encrypt(secret), now, step
        session.add(user)
        challenge.used_at, challenge.pending_totp_secret = now, None
        session.add(challenge)
        codes = _new_recovery_codes(session, user, now)
        ticket = _new_challenge(session, user, "ticket", TICKET_LIFETIME, now)
        record(session, _customer_actor(user), "auth.mfa_enroll", user, before=before, exclude=USER_SECRET_FIELDS)
    return EnrollmentResult(ticket=ticket, recovery_codes=codes)


def verify_mfa(challenge_token: str, code: str, *, client_ip: str | None = None) -> str:
    """Check the second factor and return a 60-second one-time sign-in ticket.

    Needs an "mfa" challenge. Accepts a 6-digit TOTP code (±1 step; a code of a step already used is
    refused: replay) or an unused recovery code (then marked used, "auth.recovery_code_use" audited).
    Failures count toward the address's and the network's limits; a locked address kills the challenge.
    """
    now = clock()
    failure: AuthenticationFailed | None = None
    ticket = ""
    with write_session() as session:
        challenge, user = _open_challenge(session, challenge_token, "mfa", now)
        login_key = credentials.customer_login_key(user.email)
        locked_until = _locked_until(session, login_key, now)
        if credentials.network_throttled(session, login_key, client_ip, now):
            failure = NetworkThrottled()
        elif locked_until is not None:
            challenge.used_at = now
            session.add(challenge)
            failure = AccountLocked(locked_until)
        else:
            typed = (code or "").strip().replace(" ", "")
            step = credentials.totp_step(decrypt(user.totp_secret), typed, now, user.last_totp_step) \
                if user.totp_secret else None
            recovery = None
            if step is None:
                canonical = credentials.canonical_recovery_code(typed)
                if credentials.looks_like_recovery_code(canonical):
                    recovery = session.exec(select(CustomerRecoveryCode).where(
                        CustomerRecoveryCode.customer_user_id == user.id,
                        CustomerRecoveryCode.code_hash == credentials.digest(canonical),
                        col(CustomerRecoveryCode.used_at).is_(None))).first()
            credentials.record_attempt(session, login_key, step is not None or recovery is not None, now, client_ip)
            session.flush()
            if step is None and recovery is None:
                locked_until = _locked_until(session, login_key, now)
                failure = AccountLocked(locked_until) if locked_until else AuthenticationFailed(CODE_INVALID)
                if locked_until:
                    challenge.used_at = now
                    session.add(challenge)
            else:
                if step is not None:
                    user.last_totp_step = step
                    session.add(user)
                else:
                    recovery.used_at = now
                    session.add(recovery)
                    session.flush()
                    remaining = session.exec(select(func.count()).select_from(CustomerRecoveryCode).where(
                        CustomerRecoveryCode.customer_user_id == user.id,
                        col(CustomerRecoveryCode.used_at).is_(None))).one()
                    record(session, _customer_actor(user), "auth.recovery_code_use", recovery,
                           after=snapshot(recovery, {"code_hash"}) | {"remaining_codes": remaining})
                challenge.used_at = now
                session.add(challenge)
                ticket = _new_challenge(session, user, "ticket", TICKET_LIFETIME, now)
    if failure is not None:
        if isinstance(failure, AccountLocked):
            _log_lock(login_key, failure.until)
        raise failure
    return ticket


def issue_ticket(session: Session, user: CustomerUser, now: datetime) -> str:
    """A 60-second one-time sign-in ticket for `user`, written in the caller's transaction (as verify_mfa makes).

    For another way in that has already proved both factors (services.security.passkeys): the caller has
    checked the person; redeem_ticket turns the ticket into a session. Writes the "ticket" challenge only.
    """
    return _new_challenge(session, user, "ticket", TICKET_LIFETIME, now)


def redeem_ticket(ticket: str, *, client_ip: str | None = None, user_agent: str | None = None) -> str:
    """Exchange a one-time sign-in ticket for a new session; returns the raw session token.

    The ticket works once, within 60 seconds. Writes the CustomerSession (only the token's SHA-256 is stored;
    ends settings.customer_session_absolute_hours later at the latest) with the device's address and user
    agent, and an "auth.sign_in" audit entry by the person.
    """
    now = clock()
    with write_session() as session:
        challenge, user = _open_challenge(session, ticket, "ticket", now, TICKET_INVALID)
        challenge.used_at = now
        session.add(challenge)
        token = credentials.new_token()
        row = CustomerSession(token_hash=credentials.digest(token), customer_user_id=user.id, created_at=now,
                              last_seen_at=now,
                              expires_at=now + timedelta(hours=settings.customer_session_absolute_hours),
                              client_ip=(client_ip or None) and client_ip[:64],
                              user_agent=(user_agent or None) and user_agent[:300])
        session.add(row)
        session.flush()
        record(session, _customer_actor(user, session_id=row.id), "auth.sign_in", row,
               after=snapshot(row, {"token_hash"}) | {"method": "password"})
    return token


# --- sessions and devices --------------------------------------------------------------------

def resolve_session(token: str | None, *, request_id: str | None = None) -> Actor:
    """The signed-in customer Actor (法人管理者 or 利用者) for a session token, or NotAuthenticated.

    Refuses unknown (a staff token included), revoked, expired (settings.customer_session_absolute_hours) and
    idle (settings.customer_session_idle_minutes) sessions and disabled people. Each use slides the idle
    limit; last_seen_at is written at most once a minute.
    """
    if not token:
        raise NotAuthenticated()
    now = clock()
    with read_session() as session:
        row = session.exec(select(CustomerSession, CustomerUser)
                           .join(CustomerUser, CustomerUser.id == CustomerSession.customer_user_id)
                           .where(CustomerSession.token_hash == credentials.digest(token))).first()
    if row is None:
        raise NotAuthenticated()
    customer_session, user = row
    if (customer_session.revoked_at is not None or customer_session.expires_at <= now
            or now - customer_session.last_seen_at > timedelta(minutes=settings.customer_session_idle_minutes)
            or not _usable(user)):
        raise NotAuthenticated()
    if now - customer_session.last_seen_at >= SESSION_TOUCH_INTERVAL:
        with write_session() as session:
            session.exec(update(CustomerSession)
                         .where(CustomerSession.id == customer_session.id, CustomerSession.last_seen_at < now)
                         .values(last_seen_at=now))
    return _customer_actor(user, session_id=customer_session.id, request_id=request_id)


def sign_out(token: str | None) -> None:
    """End the session of `token` (idempotent); writes "auth.sign_out" when one was ended."""
    if not token:
        return
    now = clock()
    with write_session() as session:
        row = session.exec(select(CustomerSession).where(
            CustomerSession.token_hash == credentials.digest(token))).first()
        if row is None or row.revoked_at is not None:
            return
        user = session.get(CustomerUser, row.customer_user_id)
        row.revoked_at = now
        session.add(row)
        record(session, _customer_actor(user, session_id=row.id), "auth.sign_out", row, exclude={"token_hash"})


def signed_in_devices(*, actor: Actor) -> list[dict[str, Any]]:
    """The devices signed in to the actor's own account, most recently used first (customers only).

    Each: id, created_at and last_seen_at (Tokyo time), client_ip, user_agent, current (this device).
    """
    _require_customer(actor)
    now = clock()
    with read_session() as session:
        rows = session.exec(_live_sessions(actor.id, now)
                            .order_by(col(CustomerSession.last_seen_at).desc(), col(CustomerSession.id).desc())).all()
    return [{"id": r.id, "created_at": tokyo_time(r.created_at), "last_seen_at": tokyo_time(r.last_seen_at),
             "client_ip": r.client_ip or "", "user_agent": r.user_agent or "", "current": r.id == actor.session_id}
            for r in rows]


def sign_out_other_devices(*, actor: Actor) -> int:
    """Sign out every other device of the actor's own account; returns how many were signed out.

    Customers only (the person themself). Revokes every working session of theirs except the current one
    and writes one "auth.sign_out_others" entry on their account naming the sessions; none: nothing written.
    """
    _require_customer(actor)
    now = clock()
    with write_session() as session:
        user = session.get(CustomerUser, actor.id)
        if not _usable(user) or user.customer_id != actor.customer_id:
            raise PermissionDenied()
        others = [s for s in session.exec(_live_sessions(user.id, now)).all() if s.id != actor.session_id]
        if not others:
            return 0
        for row in others:
            row.revoked_at = now
            session.add(row)
        record(session, actor, "auth.sign_out_others", user,
               after={"revoked_session_ids": [s.id for s in others], "kept_session_id": actor.session_id})
    return len(others)


# --- invitations -----------------------------------------------------------------------------

def _open_invitation(session: Session, token: str | None, now: datetime, *, lock: bool = False
                     ) -> tuple[CustomerInvitation, Customer]:
    """The invitation of `token` while it can still be accepted, or NotFound (one message for every reason)."""
    if not token:
        raise NotFound(INVITATION_INVALID)
    query = select(CustomerInvitation).where(CustomerInvitation.token_hash == invitation_token_hash(token))
    invite = session.exec(query.with_for_update() if lock else query).first()
    if (invite is None or invite.accepted_at is not None or invite.revoked_at is not None
            or invite.expires_at <= now):
        raise NotFound(INVITATION_INVALID)
    customer = session.get(Customer, invite.customer_id)
    if customer is None:
        raise NotFound(INVITATION_INVALID)
    return invite, customer


def invitation(token: str) -> dict[str, Any]:
    """What an invitation link's page shows: company, name, e-mail (masked), role and until when it works.

    Anyone holding the link may call it; writes nothing. Unknown, expired, used or revoked links raise
    NotFound with one message for all.
    """
    with read_session() as session:
        invite, customer = _open_invitation(session, token, clock())
    return {"company": customer.name, "name": invite.name, "email": mask("email", invite.email, None),
            "role": invite.role, "role_label": label("role", invite.role), "expires_at": tokyo_time(invite.expires_at)}


def _line_ids(text: str) -> list[int]:
    return sorted({int(part) for part in (text or "").replace(" ", "").split(",") if part.isdigit()})


def accept_invitation(token: str, *, password: str, client_ip: str | None = None) -> SignInStep:
    """Accept an invitation: create the person's account with the chosen password; returns an "enroll" step.

    Anyone holding the link may call it, once. Checks password_problems (ValidationFailed on "password").
    Writes the CustomerUser (company, address, name and role of the invitation), for a 利用者 the lines of
    the invitation that still belong to that company, marks the invitation accepted and records
    "auth.accept_invitation" by the new person. An address already registered raises Conflict.
    """
    with read_session() as session:
        invite, _ = _open_invitation(session, token, clock())
        email = invite.email
    problems = password_problems(password, email=email)
    if problems:
        raise ValidationFailed({"password": " ".join(problems)})
    password_hash = credentials.hash_password(password, _password_hash)
    now = clock()
    with write_session() as session:
        invite, _ = _open_invitation(session, token, now, lock=True)
        login = normalise_login(invite.email)
        if _find_user(session, login) is not None:
            raise Conflict(EMAIL_TAKEN)
        user = CustomerUser(customer_id=invite.customer_id, email=login, name=invite.name, role=invite.role,
                            password_hash=password_hash, created_at=now)
        session.add(user)
        session.flush()
        line_ids: list[int] = []
        wanted = _line_ids(invite.line_ids) if invite.role == Role.CUSTOMER_USER.value else []
        if wanted:
            line_ids = sorted(session.exec(select(Line.id).where(
                col(Line.id).in_(wanted), Line.customer_id == invite.customer_id)).all())
            for line_id in line_ids:
                session.add(CustomerUserLine(customer_user_id=user.id, line_id=line_id, created_at=now))
        invite.accepted_at, invite.customer_user_id = now, user.id
        session.add(invite)
        challenge = _new_challenge(session, user, "enroll", CHALLENGE_LIFETIME, now)
        record(session, _customer_actor(user), "auth.accept_invitation", user,
               after=snapshot(user, USER_SECRET_FIELDS) | {
                   "invitation_id": invite.id, "line_ids": line_ids,
                   "client_ip": (client_ip or None) and client_ip[:64]})
    return SignInStep(stage="enroll", challenge_token=challenge)


# --- password reset --------------------------------------------------------------------------

def _reset_requests(session: Session, now: datetime, *, login_key: str | None = None,
                    network: str | None = None) -> int:
    """Reset requests within the window, for one address or from one network."""
    query = select(func.count()).select_from(SignInAttempt).where(
        SignInAttempt.attempted_at >= credentials.window_start(now))
    if login_key is not None:
        query = query.where(SignInAttempt.login_key == login_key)
    if network is not None:
        query = query.where(SignInAttempt.client_network == network,
                            col(SignInAttempt.login_key).startswith(RESET_KEY_PREFIX, autoescape=True))
    return session.exec(query).one()


def _reset_mail_text(user: CustomerUser, link: str) -> str:
    return (f"{user.name} 様\n\nパスワード再設定のお申し込みを受け付けました。"
            f"下のリンクを開き、1時間以内に新しいパスワードを設定してください。\n\n{link}\n\n"
            "お心当たりがない場合は、このメールを破棄してください。パスワードは変わりません。")


def request_password_reset(email: str, *, client_ip: str | None = None) -> str:
    """Mail a one-hour password-reset link to a registered, active address; returns the same message always.

    Anyone may call it; the answer does not tell whether the address is registered. Every request is written
    to SignInAttempt ("my:reset:<address>", succeeded). For a registered, active person: a CustomerPasswordReset
    (token hashed), a mail to their own address, not the company's, through the messaging outbox
    (notifications.mail_in; link permalink("password_reset", token)) and an "auth.password_reset_request"
    entry by the system. At most RESET_MAX_PER_ADDRESS mails per address in the window (more are dropped,
    logged); a network over RESET_MAX_PER_NETWORK requests is refused with a message saying when to retry.
    """
    login = normalise_login(email)
    login_key = (RESET_KEY_PREFIX + login)[:credentials.LOGIN_KEY_MAX]
    network = credentials.client_network(client_ip)
    now = clock()
    with write_session() as session:
        if network is not None and _reset_requests(session, now, network=network) >= RESET_MAX_PER_NETWORK:
            refused = True
        else:
            refused = False
            earlier = _reset_requests(session, now, login_key=login_key)
            credentials.record_attempt(session, login_key, True, now, client_ip)
            user = _find_user(session, login) if login else None
            if earlier >= RESET_MAX_PER_ADDRESS:
                log.warning("customer password reset not sent: %s requests for account %s in %s minutes",
                            earlier + 1, credentials.digest(login_key)[:12], settings.sign_in_window_minutes)
            elif _usable(user):
                token = credentials.new_token()
                reset = CustomerPasswordReset(token_hash=credentials.digest(token), customer_user_id=user.id,
                                              created_at=now, expires_at=now + RESET_LIFETIME)
                session.add(reset)
                session.flush()
                mail_in(session, to=user.email, subject=RESET_MAIL_SUBJECT,
                        text=_reset_mail_text(user, permalink("password_reset", token)),
                        key=f"password_reset{reset.id}", customer_id=user.customer_id)
                record(session, SYSTEM, "auth.password_reset_request", reset,
                       after=snapshot(reset, {"token_hash"}) | {"client_ip": (client_ip or None) and client_ip[:64]},
                       reason="パスワード再設定の申し込みを受け付け、ご本人のアドレスに案内を送りました。")
    if refused:
        log.warning("customer password reset refused: too many requests from network %s", network)
        raise DomainError(RESET_THROTTLED.format(minutes=settings.sign_in_window_minutes))
    return RESET_REQUESTED


def _open_reset(session: Session, token: str | None, now: datetime, *, lock: bool = False
                ) -> tuple[CustomerPasswordReset, CustomerUser]:
    if not token:
        raise NotFound(RESET_LINK_INVALID)
    query = select(CustomerPasswordReset).where(CustomerPasswordReset.token_hash == credentials.digest(token))
    reset = session.exec(query.with_for_update() if lock else query).first()
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        raise NotFound(RESET_LINK_INVALID)
    user = session.get(CustomerUser, reset.customer_user_id)
    if not _usable(user):
        raise NotFound(RESET_LINK_INVALID)
    return reset, user


def reset_password(token: str, new_password: str) -> None:
    """Set a new password from a reset link; every device of the person is signed out.

    Anyone holding the link may call it, once, within the hour. Checks password_problems (ValidationFailed on
    "password"); unknown, used or expired links raise NotFound. Writes the password hash, marks this and
    every other open reset link of the person used, ends their sessions and open sign-in steps, and records
    "auth.password_reset" by the person.
    """
    with read_session() as session:
        _, user = _open_reset(session, token, clock())
        email = user.email
    problems = password_problems(new_password, email=email)
    if problems:
        raise ValidationFailed({"password": " ".join(problems)})
    password_hash = credentials.hash_password(new_password, _password_hash)
    now = clock()
    with write_session() as session:
        reset, user = _open_reset(session, token, now, lock=True)
        before = snapshot(user, USER_SECRET_FIELDS)
        user.password_hash = password_hash
        session.add(user)
        session.exec(update(CustomerPasswordReset)
                     .where(CustomerPasswordReset.customer_user_id == user.id,
                            col(CustomerPasswordReset.used_at).is_(None))
                     .values(used_at=now))
        revoked = session.exec(update(CustomerSession)
                               .where(CustomerSession.customer_user_id == user.id,
                                      col(CustomerSession.revoked_at).is_(None))
                               .values(revoked_at=now)).rowcount
        session.exec(update(CustomerSignInChallenge)
                     .where(CustomerSignInChallenge.customer_user_id == user.id,
                            col(CustomerSignInChallenge.used_at).is_(None))
                     .values(used_at=now))
        record(session, _customer_actor(user), "auth.password_reset", user, before=before,
               after=snapshot(user, USER_SECRET_FIELDS) | {"password_reset_id": reset.id, "sessions_ended": revoked})


# --- demo ------------------------------------------------------------------------------------

def provision_demo_customer_user(customer_id: int, email: str, name: str, role: str, password: str,
                                 totp_secret: str, *, line_ids: tuple[int, ...] = ()) -> CustomerUser:
    """Create a demo customer account, already enrolled with `totp_secret` (seeding only).

    Idempotent by address: an existing account is returned unchanged. Writes the user (secret encrypted),
    for a 利用者 its lines of that company, and one "customer_user.create" entry by the system.
    """
    login = normalise_login(email)
    if role not in (Role.CUSTOMER_ADMIN.value, Role.CUSTOMER_USER.value):
        raise ValidationFailed({"role": "役割は法人管理者か利用者を選んでください。"})
    problems = password_problems(password, email=login)
    if problems:
        raise ValidationFailed({"password": " ".join(problems)})
    secret = (totp_secret or "").strip().replace(" ", "").upper()
    try:
        if len(secret) > 64:
            raise ValueError("too long")
        pyotp.TOTP(secret).byte_secret()
    except ValueError as exc:  # includes binascii.Error (not base32)
        raise ValidationFailed({"totp_secret": "TOTPの秘密鍵が正しくありません（Base32）。"}) from exc
    with read_session() as session:
        existing = _find_user(session, login)
    if existing is not None:
        return existing
    password_hash = credentials.hash_password(password, _password_hash)
    now = clock()
    with write_session() as session:
        existing = _find_user(session, login)
        if existing is not None:
            return existing
        if session.get(Customer, customer_id) is None:
            raise NotFound("顧客が見つかりません。")
        user = CustomerUser(customer_id=customer_id, email=login, name=(name or "").strip()[:200], role=role,
                            password_hash=password_hash, totp_secret=encrypt(secret), mfa_enrolled_at=now,
                            created_at=now)
        session.add(user)
        session.flush()
        if role == Role.CUSTOMER_USER.value and line_ids:
            for line_id in session.exec(select(Line.id).where(col(Line.id).in_(list(line_ids)),
                                                              Line.customer_id == customer_id)).all():
                session.add(CustomerUserLine(customer_user_id=user.id, line_id=line_id, created_at=now))
        record(session, SYSTEM, "customer_user.create", user, reason="デモ用アカウントの準備", exclude=USER_SECRET_FIELDS)
    return user
