"""Staff sign-in (password + mandatory TOTP MFA), server-side sessions and staff accounts.

The flow, as the UI drives it:

1. `begin_sign_in(email, password)` -> a `SignInStep`: stage "enroll" (no MFA yet) or "mfa",
   with a challenge token valid for 10 minutes.
2. "enroll": `start_enrollment(token)` shows the QR code, `complete_enrollment(token, code)`
   sets up TOTP, hands out 10 recovery codes and a one-time ticket.
   "mfa": `verify_mfa(token, code)` takes a TOTP code or a recovery code and returns a ticket.
3. `redeem_ticket(ticket)` (the route that sets the cookie) turns the ticket into a session
   token; `resolve_session(token)` turns the cookie into an `Actor` on every request;
   `sign_out(token)` ends it.

Single sign-on (services.security.oidc) replaces step 1: `continue_sso_sign_in(user_id, mfa_asserted=...)`
returns a ticket at once when the identity provider asserted MFA, else the same "mfa" / "enroll"
challenge. Tokens of a flow begun with SSO carry the prefix "oidc." (covered by their stored
digest, so it cannot be added or removed), and the "auth.sign_in" entry records the method.

Only SHA-256 digests of challenge tokens, tickets, session tokens and recovery codes are
stored; TOTP secrets are encrypted at rest (services.platform.crypto). Every failure a stranger can
cause says the same thing, and failed attempts per login name are throttled
(settings.sign_in_max_failures within settings.sign_in_window_minutes). Failed attempts per
network (an IPv4 address, an IPv6 /64) are throttled as well, so one address cannot try many
accounts: past settings.sign_in_max_failures_per_network in the window every attempt from it is
refused with a message that says so, logged, and the first refusal is audited.

The pieces every sign-in shares (password hashing, tokens, TOTP steps, recovery codes, throttling
on SignInAttempt) live in services.security.credentials; customers sign in through
services.security.customer_auth on their own tables.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import pyotp
from pwdlib import PasswordHash
from sqlalchemy import func, update
from sqlmodel import Session, select

from services.models import (
    SignInChallenge,
    StaffRecoveryCode,
    StaffSession,
    StaffUser,
)
from services.models.base import utcnow
from services.models.staff import STAFF_ROLES
from services.platform.audit import record, snapshot
from services.platform.config import settings
from services.platform.crypto import decrypt, encrypt
from services.platform.db import read_session, write_session
from services.platform.errors import NotAuthenticated, ValidationFailed
from services.platform.permissions import SYSTEM, Actor, Role
from services.security import credentials
from services.security.credentials import (  # noqa: F401  (part of this module's interface)
    NETWORK_THROTTLED,
    RECOVERY_CODE_COUNT,
    SIGN_IN_FAILED,
    TOTP_VALID_WINDOW,
    AuthenticationFailed,
    NetworkThrottled,
    client_network,
    normalise_login,
)

ISSUER = "通信サービス管理"
CHALLENGE_LIFETIME = timedelta(minutes=10)
TICKET_LIFETIME = timedelta(seconds=60)
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 12

CODE_INVALID = "確認コードが正しくありません。"
CHALLENGE_INVALID = "ログインの有効期限が切れました。最初からやり直してください。"
TICKET_INVALID = "ログインの有効期限が切れました。もう一度ログインしてください。"
SSO_FAILED = "シングルサインオンでログインできませんでした。もう一度お試しいただくか、管理者にお問い合わせください。"

SSO_TOKEN_PREFIX = "oidc."  # marks the challenge tokens and tickets of a flow begun with SSO

# The time source of this module; tests replace it to move time (TOTP steps, expiry).
clock: Callable[[], datetime] = utcnow

# argon2id with the library's recommended cost (tests may swap in a cheaper argon2id hasher).
_password_hash: PasswordHash = credentials.DEFAULT_PASSWORD_HASH

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class SignInStep:
    """The first factor was accepted: the next step and its token.

    "mfa" / "enroll": a challenge token for the TOTP step. "ticket" (SSO with MFA asserted by
    the identity provider only): `challenge_token` is the one-time sign-in ticket itself.
    """

    stage: Literal["mfa", "enroll", "ticket"]
    challenge_token: str


@dataclass(frozen=True)
class Enrollment:
    """What the enrollment screen shows: the secret, its otpauth:// URI and a QR code."""

    secret: str
    provisioning_uri: str
    qr_svg_data_uri: str
    issuer: str = ISSUER


@dataclass(frozen=True)
class EnrollmentResult:
    """MFA is set up: a one-time sign-in ticket and the recovery codes (shown once only)."""

    ticket: str
    recovery_codes: list[str]


# --- small helpers ---------------------------------------------------------------------------

_digest = credentials.digest


def _new_token(method: str = "password") -> str:
    token = credentials.new_token()
    return SSO_TOKEN_PREFIX + token if method == "oidc" else token


def _method_of(token: str) -> str:
    """"oidc" for the tokens of a flow begun with SSO, else "password" (the digest covers the prefix)."""
    return "oidc" if token.startswith(SSO_TOKEN_PREFIX) else "password"


def _staff_actor(user: StaffUser, *, session_id: int | None = None,
                 request_id: str | None = None) -> Actor:
    return Actor(kind="staff", id=user.id, role=Role(user.role),
                 label=f"{user.display_name} <{user.email}>"[:200],
                 session_id=session_id, request_id=request_id)


USER_SECRET_FIELDS = {"password_hash", "totp_secret"}  # never in audit entries


def _find_user_by_login(session: Session, login_key: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(func.lower(StaffUser.email) == login_key)).first()


def _verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash if the cost settings changed). Unknown logins verify a dummy hash."""
    return credentials.verify_password(password, stored_hash, _password_hash)


def _new_challenge(session: Session, user: StaffUser, stage: str, lifetime: timedelta,
                   now: datetime, method: str = "password") -> str:
    token = _new_token(method)
    session.add(SignInChallenge(token_hash=_digest(token), staff_user_id=user.id, stage=stage,
                                created_at=now, expires_at=now + lifetime))
    return token


def _open_challenge(session: Session, token: str | None, stage: str, now: datetime,
                    message: str = CHALLENGE_INVALID) -> tuple[SignInChallenge, StaffUser]:
    """The unused, unexpired challenge of `stage` for an active user, or AuthenticationFailed."""
    if not token:
        raise AuthenticationFailed(message)
    challenge = session.exec(
        select(SignInChallenge).where(SignInChallenge.token_hash == _digest(token))
    ).first()
    if (challenge is None or challenge.stage != stage or challenge.used_at is not None
            or challenge.expires_at <= now):
        raise AuthenticationFailed(message)
    user = session.get(StaffUser, challenge.staff_user_id)
    if user is None or not user.is_active:
        raise AuthenticationFailed(message)
    return challenge, user


def _new_recovery_codes(session: Session, user: StaffUser, now: datetime) -> list[str]:
    """Replace the user's recovery codes with 10 new ones; returns them as shown (abcd-efgh-ijkl)."""
    session.exec(update(StaffRecoveryCode)
                 .where(StaffRecoveryCode.staff_user_id == user.id,
                        StaffRecoveryCode.used_at.is_(None))
                 .values(used_at=now))
    codes = []
    for raw, shown in credentials.new_recovery_codes(RECOVERY_CODE_COUNT):
        session.add(StaffRecoveryCode(staff_user_id=user.id, code_hash=_digest(raw)))
        codes.append(shown)
    return codes


# --- sign-in ---------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    """Hash a password with argon2id (pwdlib); the result carries its own salt and cost."""
    return credentials.hash_password(password, _password_hash)


def begin_sign_in(email: str, password: str, *, client_ip: str | None = None) -> SignInStep:
    """Check email and password; on success open a 10-minute MFA challenge.

    Anyone may call it. Every attempt is written to SignInAttempt. Unknown login, wrong
    password, disabled account and throttling (too many recent failures for this login,
    known or not) all raise the same AuthenticationFailed, with similar timing. Too many
    failures from the caller's network raise NetworkThrottled, which says so.
    Returns stage "enroll" if the user has not set up MFA yet, else "mfa".
    """
    login_key = normalise_login(email)
    with write_session() as session:
        network_throttled = credentials.network_throttled(session, login_key, client_ip, clock())
    if network_throttled:
        raise NetworkThrottled()
    with read_session() as session:
        user = _find_user_by_login(session, login_key) if login_key else None
    password_ok, new_hash = _verify_password(password, user.password_hash if user else None)

    now = clock()
    with write_session() as session:
        throttled = credentials.recent_failures(session, login_key, now) >= settings.sign_in_max_failures
        user = session.get(StaffUser, user.id) if user is not None else None
        ok = password_ok and not throttled and user is not None and user.is_active
        credentials.record_attempt(session, login_key, ok, now, client_ip)
        step = None
        if ok:
            if new_hash:
                user.password_hash = new_hash
                session.add(user)
            stage = "enroll" if user.mfa_enrolled_at is None else "mfa"
            step = SignInStep(stage=stage,
                              challenge_token=_new_challenge(session, user, stage,
                                                             CHALLENGE_LIFETIME, now))
    if step is None:
        raise AuthenticationFailed()
    return step


def start_enrollment(challenge_token: str) -> Enrollment:
    """Create (once per challenge) the TOTP secret a new user scans into an authenticator app.

    Needs an "enroll" challenge from begin_sign_in (or continue_sso_sign_in). Stores the
    pending secret, encrypted, on the challenge; calling it again for the same challenge
    returns the same secret.
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
    uri = credentials.provisioning_uri(secret, email, ISSUER)
    return Enrollment(secret=secret, provisioning_uri=uri, qr_svg_data_uri=credentials.qr_data_uri(uri))


def complete_enrollment(challenge_token: str, code: str) -> EnrollmentResult:
    """Confirm the authenticator with its current code; turn MFA on and sign in.

    Needs the "enroll" challenge after start_enrollment. Writes the user's TOTP secret
    (encrypted), 10 new recovery codes (hashed), consumes the challenge (and drops its pending
    secret), records an "auth.mfa_enroll" audit entry and returns a 60-second one-time ticket
    plus the recovery codes (shown once).
    """
    now = clock()
    with write_session() as session:
        challenge, user = _open_challenge(session, challenge_token, "enroll", now)
        if user.mfa_enrolled_at is not None or challenge.pending_totp_secret is None:
            raise AuthenticationFailed(CHALLENGE_INVALID)
        secret = decrypt(challenge.pending_totp_secret)
        step = credentials.totp_step(secret, (code or "").strip(), now, None)
        if step is None:
            raise AuthenticationFailed(CODE_INVALID)
        before = snapshot(user, USER_SECRET_FIELDS)
        user.totp_secret = encrypt(secret)
        user.mfa_enrolled_at = now
        user.last_totp_step = step
        session.add(user)
        challenge.used_at = now
        challenge.pending_totp_secret = None
        session.add(challenge)
        codes = _new_recovery_codes(session, user, now)
        ticket = _new_challenge(session, user, "ticket", TICKET_LIFETIME, now,
                                _method_of(challenge_token))
        record(session, _staff_actor(user), "auth.mfa_enroll", user, before=before,
               exclude=USER_SECRET_FIELDS)
    return EnrollmentResult(ticket=ticket, recovery_codes=codes)


def verify_mfa(challenge_token: str, code: str, *, client_ip: str | None = None) -> str:
    """Check the second factor and return a 60-second one-time sign-in ticket.

    Needs an "mfa" challenge. Accepts a 6-digit TOTP code (±1 step; a code of a step already
    used is refused) or an unused recovery code (then marked used and audited). Failures
    count toward the login's and the network's throttles; once throttled the challenge is dead.
    """
    now = clock()
    failure: AuthenticationFailed | None = None
    ticket = ""
    with write_session() as session:
        challenge, user = _open_challenge(session, challenge_token, "mfa", now)
        login_key = normalise_login(user.email)
        failures = credentials.recent_failures(session, login_key, now)
        if credentials.network_throttled(session, login_key, client_ip, now):
            failure = NetworkThrottled()
        elif failures >= settings.sign_in_max_failures:
            credentials.record_attempt(session, login_key, False, now, client_ip)
            challenge.used_at = now
            session.add(challenge)
            failure = AuthenticationFailed(CHALLENGE_INVALID)
        else:
            typed = (code or "").strip().replace(" ", "")
            step = credentials.totp_step(decrypt(user.totp_secret), typed, now, user.last_totp_step) \
                if user.totp_secret else None
            recovery = None
            if step is None:
                canonical = credentials.canonical_recovery_code(typed)
                if credentials.looks_like_recovery_code(canonical):
                    recovery = session.exec(select(StaffRecoveryCode).where(
                        StaffRecoveryCode.staff_user_id == user.id,
                        StaffRecoveryCode.code_hash == _digest(canonical),
                        StaffRecoveryCode.used_at.is_(None),
                    )).first()
            if step is None and recovery is None:
                credentials.record_attempt(session, login_key, False, now, client_ip)
                if failures + 1 >= settings.sign_in_max_failures:
                    challenge.used_at = now
                    session.add(challenge)
                failure = AuthenticationFailed(CODE_INVALID)
            else:
                credentials.record_attempt(session, login_key, True, now, client_ip)
                if step is not None:
                    user.last_totp_step = step
                    session.add(user)
                else:
                    recovery.used_at = now
                    session.add(recovery)
                    session.flush()
                    remaining = session.exec(select(func.count()).select_from(StaffRecoveryCode).where(
                        StaffRecoveryCode.staff_user_id == user.id,
                        StaffRecoveryCode.used_at.is_(None))).one()
                    after = snapshot(recovery, {"code_hash"}) | {"remaining_codes": remaining}
                    record(session, _staff_actor(user), "auth.recovery_code_use", recovery,
                           after=after)
                challenge.used_at = now
                session.add(challenge)
                ticket = _new_challenge(session, user, "ticket", TICKET_LIFETIME, now,
                                        _method_of(challenge_token))
    if failure is not None:
        raise failure
    return ticket


def redeem_ticket(ticket: str, *, client_ip: str | None = None) -> str:
    """Exchange a one-time sign-in ticket for a new session; returns the raw session token.

    The ticket works once, within 60 seconds. Writes the StaffSession (only the token's
    SHA-256 is stored; absolute expiry settings.session_absolute_hours) and an "auth.sign_in"
    audit entry by the signed-in user, whose after-json names the method ("password" / "oidc").
    """
    now = clock()
    with write_session() as session:
        challenge, user = _open_challenge(session, ticket, "ticket", now, TICKET_INVALID)
        challenge.used_at = now
        session.add(challenge)
        token = _new_token()
        staff_session = StaffSession(
            token_hash=_digest(token), staff_user_id=user.id, created_at=now, last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_absolute_hours),
            client_ip=(client_ip or None) and client_ip[:64],
        )
        session.add(staff_session)
        session.flush()
        record(session, _staff_actor(user, session_id=staff_session.id), "auth.sign_in",
               staff_session, after=snapshot(staff_session, {"token_hash"}) | {"method": _method_of(ticket)})
    return token


# --- sessions --------------------------------------------------------------------------------

def resolve_session(token: str | None, *, request_id: str | None = None) -> Actor:
    """The signed-in staff Actor for a session token, or NotAuthenticated.

    Refuses unknown, revoked, expired (settings.session_absolute_hours), idle (more than
    settings.session_idle_minutes) sessions and disabled users. Writes last_seen_at at most
    once a minute, so it is cheap to call on every event.
    """
    if not token:
        raise NotAuthenticated()
    now = clock()
    with read_session() as session:
        row = session.exec(
            select(StaffSession, StaffUser)
            .join(StaffUser, StaffUser.id == StaffSession.staff_user_id)
            .where(StaffSession.token_hash == _digest(token))
        ).first()
    if row is None:
        raise NotAuthenticated()
    staff_session, user = row
    if (staff_session.revoked_at is not None or staff_session.expires_at <= now
            or now - staff_session.last_seen_at > timedelta(minutes=settings.session_idle_minutes)
            or not user.is_active):
        raise NotAuthenticated()
    if now - staff_session.last_seen_at >= SESSION_TOUCH_INTERVAL:
        with write_session() as session:
            session.exec(update(StaffSession)
                         .where(StaffSession.id == staff_session.id,
                                StaffSession.last_seen_at < now)
                         .values(last_seen_at=now))
    return _staff_actor(user, session_id=staff_session.id, request_id=request_id)


def sign_out(token: str | None) -> None:
    """End the session of `token` (idempotent); writes "auth.sign_out" when one was ended."""
    if not token:
        return
    now = clock()
    with write_session() as session:
        staff_session = session.exec(
            select(StaffSession).where(StaffSession.token_hash == _digest(token))
        ).first()
        if staff_session is None or staff_session.revoked_at is not None:
            return
        user = session.get(StaffUser, staff_session.staff_user_id)
        staff_session.revoked_at = now
        session.add(staff_session)
        record(session, _staff_actor(user, session_id=staff_session.id), "auth.sign_out",
               staff_session, exclude={"token_hash"})


# --- single sign-on --------------------------------------------------------------------------

def continue_sso_sign_in(staff_user_id: int, *, mfa_asserted: bool) -> SignInStep:
    """Go on after an identity provider vouched for this staff user (services.security.oidc).

    Called by the SSO callback route only, with a user id that services.security.oidc verified. An
    inactive or missing user gets AuthenticationFailed(SSO_FAILED). If the provider asserted
    MFA, returns stage "ticket" with a 60-second one-time ticket; otherwise our own second
    factor still applies: a 10-minute "mfa" challenge (or "enroll" if TOTP is not set up).
    Writes only the challenge; the "auth.sign_in" audit entry (method "oidc") is written when
    the ticket is redeemed.
    """
    now = clock()
    with write_session() as session:
        user = session.get(StaffUser, staff_user_id)
        if user is None or not user.is_active:
            raise AuthenticationFailed(SSO_FAILED)
        if mfa_asserted:
            return SignInStep(stage="ticket", challenge_token=_new_challenge(
                session, user, "ticket", TICKET_LIFETIME, now, "oidc"))
        stage = "enroll" if user.mfa_enrolled_at is None else "mfa"
        return SignInStep(stage=stage, challenge_token=_new_challenge(
            session, user, stage, CHALLENGE_LIFETIME, now, "oidc"))


def pending_sign_in_stage(challenge_token: str | None) -> Literal["mfa", "enroll"] | None:
    """The stage ("mfa" / "enroll") of an open sign-in challenge, or None if it is not usable.

    Anyone may call it (the sign-in page resumes an SSO sign-in with it); it writes nothing.
    """
    if not challenge_token:
        return None
    now = clock()
    with read_session() as session:
        challenge = session.exec(
            select(SignInChallenge).where(SignInChallenge.token_hash == _digest(challenge_token))
        ).first()
        if (challenge is None or challenge.stage not in ("mfa", "enroll") or challenge.used_at is not None
                or challenge.expires_at <= now):
            return None
        user = session.get(StaffUser, challenge.staff_user_id)
    if user is None or not user.is_active:
        return None
    return challenge.stage


# --- staff accounts (administration itself lives in services.security.staff_admin) --------------------

def validate_staff_fields(email: str, display_name: str, role: str, password: str) -> None:
    """Raise ValidationFailed naming each bad field of a new staff account (normalised input)."""
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "メールアドレスを入力してください。"
    elif len(email) > 254 or not _EMAIL.match(email):
        errors["email"] = "メールアドレスの形式が正しくありません。"
    if not display_name:
        errors["display_name"] = "氏名を入力してください。"
    elif len(display_name) > 100:
        errors["display_name"] = "氏名は100文字以内で入力してください。"
    if role not in STAFF_ROLES:
        errors["role"] = "役割を選んでください（営業・サポート・経理・管理者）。"
    if len(password or "") < MIN_PASSWORD_LENGTH:
        errors["password"] = f"パスワードは{MIN_PASSWORD_LENGTH}文字以上で入力してください。"
    if errors:
        raise ValidationFailed(errors)


def find_staff_by_login(session: Session, email: str) -> StaffUser | None:
    """The staff user whose email matches `email` case-insensitively, in the caller's session."""
    return _find_user_by_login(session, normalise_login(email))


def provision_demo_staff(email: str, display_name: str, role: str, password: str,
                         totp_secret: str) -> StaffUser:
    """Create a demo staff account, already MFA-enrolled with `totp_secret` (seeding only).

    Idempotent by email: an existing account is returned unchanged, except that a TOTP secret
    an older version stored in plain text is encrypted. Writes the user (secret encrypted)
    and one "staff.create" audit entry by the system actor.
    """
    email = normalise_login(email)
    display_name = (display_name or "").strip()
    validate_staff_fields(email, display_name, role, password)
    secret = (totp_secret or "").strip().replace(" ", "").upper()
    try:
        if len(secret) > 64:
            raise ValueError("too long")
        pyotp.TOTP(secret).byte_secret()  # base32, at least 112 bits
    except ValueError as exc:  # includes binascii.Error (not base32)
        raise ValidationFailed({"totp_secret": "TOTPの秘密鍵が正しくありません（Base32）。"}) from exc
    with read_session() as session:
        existing = _find_user_by_login(session, email)
    if existing is not None:
        return _encrypt_plaintext_secret(existing.id)
    password_hash = hash_password(password)
    now = clock()
    with write_session() as session:
        existing = _find_user_by_login(session, email)
        if existing is not None:
            return existing
        user = StaffUser(email=email, display_name=display_name, role=role,
                         password_hash=password_hash, totp_secret=encrypt(secret), mfa_enrolled_at=now,
                         created_at=now)
        session.add(user)
        session.flush()
        record(session, SYSTEM, "staff.create", user, reason="デモ用アカウントの準備",
               exclude=USER_SECRET_FIELDS)
    return user


def _encrypt_plaintext_secret(staff_user_id: int) -> StaffUser:
    """Encrypt a base32 TOTP secret left in plain text by a version before encryption at rest."""
    with write_session() as session:
        user = session.get(StaffUser, staff_user_id)
        stored = user.totp_secret
        if stored and len(stored) <= 64 and re.fullmatch(r"[A-Z2-7]+=*", stored):
            user.totp_secret = encrypt(stored)
            session.add(user)
    return user
