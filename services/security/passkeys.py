"""Passkeys (WebAuthn) for the customer app: the easier way in on a phone, both factors in one gesture.

A signed-in customer registers the device they hold (`registration_options` -> the browser's
navigator.credentials.create -> `register`); later they sign in with it alone (`sign_in_options` ->
navigator.credentials.get -> `sign_in`), which returns the same one-time ticket as password + TOTP
(customer_auth.verify_mfa), so /api/my/auth/complete makes the session exactly as after a password.
`my_passkeys` lists the person's own passkeys and `remove_passkey` takes one away.

The WebAuthn checks are the `webauthn` library's (py_webauthn): challenge, origin, relying-party id hash,
user presence and verification, the signature, and a signature counter that must go up (a counter that stays
at 0 is allowed: many platform authenticators never count). Only "none" attestation is asked for: the app
trusts the person who is signed in, not the make of their phone.

The relying party (RP) is the installation itself: its id is the host of settings.app_url and the origin the
browser must report is that URL's origin. One exception, for development and the browser tests: when
settings.app_url is itself a loopback address (localhost, 127.0.0.1, ::1), a page served from any loopback
origin (`origin`, the page's origin as the browser sent it) is its own RP: id = that host, origin = that
origin. A production installation (app_url on a real host) never follows the page. Browsers refuse an IP
address as an RP id (Chromium: SecurityError), so passkeys on a development installation need the page opened
as http://localhost:<port>, not as http://127.0.0.1:<port>.

Ceremony challenges live 5 minutes, are single use (a failed answer uses them up too) and only the SHA-256 of
the handle the page holds is stored. Passkey sign-in failures are throttled like passwords: per credential
(login key "my:passkey:<first 32 characters of the credential id>") and per network.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlmodel import Session, col, select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from services.models import CustomerPasskey, CustomerUser, CustomerWebAuthnChallenge
from services.models.base import utcnow
from services.platform.audit import mutating_service, record, snapshot
from services.platform.config import LOCAL_HOSTS, settings
from services.platform.db import read_session, write_session
from services.platform.errors import Conflict, DomainError, NotFound, PermissionDenied
from services.platform.formatting import tokyo_time
from services.platform.permissions import Actor, Role
from services.security import credentials, customer_auth
from services.security.credentials import AuthenticationFailed, NetworkThrottled

__all__ = [
    "RelyingParty", "my_passkeys", "register", "registration_options", "relying_party", "remove_passkey",
    "sign_in", "sign_in_options", "user_handle",
]

RP_NAME = "通信サービス管理"
CHALLENGE_LIFETIME = timedelta(minutes=5)
CEREMONY_TIMEOUT_MS = 120_000  # what the browser is told it may take (a hint)
LOGIN_KEY_PREFIX = credentials.CUSTOMER_KEY_PREFIX + "passkey:"
LOGIN_KEY_ID_CHARS = 32  # characters of the credential id in the throttling key
NAME_MAX = 100
DEFAULT_NAME = "パスキー"

SIGN_IN_FAILED = ("パスキーでログインできませんでした。登録済みのパスキーを選ぶか、"
                  "メールアドレスとパスワードでログインしてください。")
CEREMONY_EXPIRED = "パスキーの確認の有効期限が切れたか、すでに使われました。もう一度お試しください。"
REGISTER_FAILED = "パスキーを登録できませんでした。もう一度お試しください。"
ALREADY_REGISTERED = "このパスキーはすでに登録されています。"
PASSKEY_NOT_FOUND = "パスキーが見つかりません。"

log = logging.getLogger(__name__)

# The time source of this module; tests replace it to move time (challenge expiry).
clock: Callable[[], datetime] = utcnow


@dataclass(frozen=True)
class RelyingParty:
    """Who the browser proves itself to: the RP id (a host name) and the exact origin it must report."""

    id: str
    origin: str


# --- the relying party -----------------------------------------------------------------------

def _parse_origin(url: str | None) -> RelyingParty | None:
    """The RP an http(s) URL stands for (its host; its origin without a default port), or None."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        return None
    shown = f"[{host}]" if ":" in host else host
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        shown += f":{port}"
    return RelyingParty(id=host, origin=f"{scheme}://{shown}")


def relying_party(origin: str | None = None) -> RelyingParty:
    """The RP of this installation for a page at `origin` (see the module docstring for the rule).

    settings.app_url's host and origin; only when app_url is a loopback address and `origin` is a loopback
    http(s) origin too (development, the browser tests on 127.0.0.1:<port>) the page's own host and origin.
    """
    configured = _parse_origin(settings.app_url)
    if configured is None:
        raise DomainError("アプリのURL（TELECOM_APP_URL）が正しくないため、パスキーは使えません。")
    if configured.id in LOCAL_HOSTS:
        page = _parse_origin(origin)
        if page is not None and page.id in LOCAL_HOSTS:
            return page
    return configured


def user_handle(customer_user_id: int) -> bytes:
    """The WebAuthn user id of a customer user: stable bytes from their id (no address, no name)."""
    return f"customer_user:{customer_user_id}".encode()


# --- helpers ---------------------------------------------------------------------------------

def _require_customer(actor: Actor | None) -> Actor:
    if (actor is None or actor.kind != "customer" or actor.id is None
            or actor.role not in (Role.CUSTOMER_ADMIN, Role.CUSTOMER_USER)):
        raise PermissionDenied()
    return actor


def _usable(user: CustomerUser | None) -> bool:
    return user is not None and user.is_active and user.disabled_at is None


def _own_user(session: Session, actor: Actor) -> CustomerUser:
    """The signed-in person's own account, still active and of the actor's company."""
    user = session.get(CustomerUser, actor.id)
    if not _usable(user) or user.customer_id != actor.customer_id:
        raise PermissionDenied()
    return user


def _new_ceremony(session: Session, purpose: str, challenge: bytes, user_id: int | None, now: datetime) -> str:
    """Store a ceremony's challenge under a new handle (hashed); expired ones are cleared on the way."""
    session.exec(delete(CustomerWebAuthnChallenge).where(col(CustomerWebAuthnChallenge.expires_at) < now))
    handle = credentials.new_token()
    session.add(CustomerWebAuthnChallenge(token_hash=credentials.digest(handle), challenge=bytes_to_base64url(challenge),
                                          purpose=purpose, customer_user_id=user_id, created_at=now,
                                          expires_at=now + CHALLENGE_LIFETIME))
    return handle


def _take_ceremony(session: Session, handle: str | None, purpose: str, now: datetime) -> CustomerWebAuthnChallenge:
    """The open ceremony of `purpose` for `handle`, marked used (whatever happens next), or AuthenticationFailed."""
    if not handle or not isinstance(handle, str):
        raise AuthenticationFailed(CEREMONY_EXPIRED)
    row = session.exec(select(CustomerWebAuthnChallenge)
                       .where(CustomerWebAuthnChallenge.token_hash == credentials.digest(handle))
                       .with_for_update()).first()
    if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at <= now:
        raise AuthenticationFailed(CEREMONY_EXPIRED)
    row.used_at = now
    session.add(row)
    return row


def _credential_fields(credential_json: str) -> dict[str, Any]:
    """The browser's answer as a dict (the library checks the details), or {} when it is not JSON."""
    try:
        value = json.loads(credential_json) if isinstance(credential_json, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _transports(fields: dict[str, Any]) -> str:
    known = {t.value for t in AuthenticatorTransport}
    reported = (fields.get("response") or {}).get("transports") if isinstance(fields.get("response"), dict) else None
    return ",".join(t for t in reported if t in known)[:200] if isinstance(reported, list) else ""


def _locked_until(session: Session, login_key: str, now: datetime) -> datetime | None:
    times = credentials.failure_times(session, login_key, now)
    if len(times) < settings.sign_in_max_failures:
        return None
    return times[settings.sign_in_max_failures - 1] + timedelta(minutes=settings.sign_in_window_minutes)


# --- registration ----------------------------------------------------------------------------

def registration_options(*, actor: Actor, origin: str | None = None) -> tuple[str, str]:
    """Start registering a passkey on the signed-in customer's device: (handle, options JSON).

    Customers only (the person themself, for their own account). The options JSON is what
    navigator.credentials.create takes (binary fields base64url): RP = `relying_party(origin)`, RP name
    RP_NAME, user id = `user_handle`, the person's live passkeys excluded (a device registers once), resident
    key and user verification preferred, no attestation. Writes the "register" challenge (5 minutes,
    single use, handle hashed); no audit entry (nothing changed yet).
    """
    actor = _require_customer(actor)
    rp = relying_party(origin)
    now = clock()
    with write_session() as session:
        user = _own_user(session, actor)
        existing = session.exec(select(CustomerPasskey.credential_id).where(
            CustomerPasskey.customer_user_id == user.id, col(CustomerPasskey.revoked_at).is_(None))).all()
        options = generate_registration_options(
            rp_id=rp.id, rp_name=RP_NAME, user_id=user_handle(user.id), user_name=user.email,
            user_display_name=user.name or user.email, timeout=CEREMONY_TIMEOUT_MS,
            attestation=AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in existing])
        handle = _new_ceremony(session, "register", options.challenge, user.id, now)
    return handle, options_to_json(options)


@mutating_service
def register(handle: str, credential_json: str, *, actor: Actor, name: str,
             origin: str | None = None) -> CustomerPasskey:
    """Verify the browser's answer to `registration_options` and keep the passkey.

    Customers only, with the handle of their own "register" ceremony (used once, within 5 minutes; a failed
    answer uses it up). Checks with webauthn.verify_registration_response: challenge, origin and RP id of
    `relying_party(origin)`, user presence. `name` is what the person calls it (at most 100 characters;
    empty: "パスキー"). A credential already registered (to anyone) raises Conflict. Writes the
    CustomerPasskey (credential id and COSE public key base64url, signature counter, transports) and one
    "auth.passkey_register" audit entry by the person.
    """
    actor = _require_customer(actor)
    rp = relying_party(origin)
    label = " ".join((name or "").split())[:NAME_MAX] or DEFAULT_NAME
    fields = _credential_fields(credential_json)
    now = clock()
    failure: DomainError | None = None
    with write_session() as session:
        user = _own_user(session, actor)
        ceremony = _take_ceremony(session, handle, "register", now)
        if ceremony.customer_user_id != user.id:
            raise AuthenticationFailed(CEREMONY_EXPIRED)  # someone else's ceremony: nothing is used up
        try:
            verified = verify_registration_response(
                credential=fields, expected_challenge=base64url_to_bytes(ceremony.challenge),
                expected_rp_id=rp.id, expected_origin=rp.origin, require_user_presence=True)
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            log.info("passkey registration refused for customer user %s: %s", user.id, exc)
            failure = DomainError(REGISTER_FAILED)
        else:
            credential_id = bytes_to_base64url(verified.credential_id)
            if session.exec(select(CustomerPasskey.id).where(CustomerPasskey.credential_id == credential_id)).first():
                failure = Conflict(ALREADY_REGISTERED)
            else:
                passkey = CustomerPasskey(
                    customer_user_id=user.id, credential_id=credential_id,
                    public_key=bytes_to_base64url(verified.credential_public_key), sign_count=verified.sign_count,
                    transports=_transports(fields), name=label, created_at=now)
                session.add(passkey)
                session.flush()
                record(session, actor, "auth.passkey_register", passkey,
                       after=snapshot(passkey) | {"customer_id": user.customer_id, "origin": rp.origin})
    if failure is not None:  # the ceremony stays used up
        raise failure
    return passkey


# --- sign-in ---------------------------------------------------------------------------------

def sign_in_options(*, origin: str | None = None) -> tuple[str, str]:
    """Start signing in with a passkey: (handle, options JSON for navigator.credentials.get).

    Anyone may call it (nobody is signed in yet). Discoverable credentials: no allowCredentials, so the
    device offers the passkeys it holds for this RP (`relying_party(origin)`); user verification required.
    Writes the "sign_in" challenge (5 minutes, single use, handle hashed) and clears expired challenges.
    """
    rp = relying_party(origin)
    now = clock()
    options = generate_authentication_options(rp_id=rp.id, timeout=CEREMONY_TIMEOUT_MS,
                                              user_verification=UserVerificationRequirement.REQUIRED)
    with write_session() as session:
        handle = _new_ceremony(session, "sign_in", options.challenge, None, now)
    return handle, options_to_json(options)


def sign_in(handle: str, credential_json: str, *, client_ip: str | None = None, origin: str | None = None) -> str:
    """Check a passkey's answer to `sign_in_options` and return a 60-second one-time sign-in ticket.

    Anyone may call it with the handle of an open "sign_in" ceremony (used up by this call, success or not).
    The credential must be a live passkey of an active customer user (its userHandle, when sent, must be
    theirs); webauthn.verify_authentication_response checks challenge, origin, RP id, user presence and
    verification, the signature, and that the signature counter went up (a counter going back: a cloned
    authenticator, refused). Unknown, removed or failing passkeys raise AuthenticationFailed (one message).
    Every attempt is a SignInAttempt under "my:passkey:<credential id prefix>"; too many failures lock that
    credential (AccountLocked), too many from one network raise NetworkThrottled. On success writes the new
    counter and last_used_at, and the ticket (customer_auth.issue_ticket) that redeem_ticket turns into a
    session, as after password + TOTP.
    """
    rp = relying_party(origin)
    fields = _credential_fields(credential_json)
    credential_id = fields.get("id") if isinstance(fields.get("id"), str) else ""
    login_key = (LOGIN_KEY_PREFIX + credential_id[:LOGIN_KEY_ID_CHARS])[:credentials.LOGIN_KEY_MAX]
    now = clock()
    failure: AuthenticationFailed | None = None
    ticket = ""
    with write_session() as session:
        ceremony = _take_ceremony(session, handle, "sign_in", now)
        locked_until = _locked_until(session, login_key, now)
        if credentials.network_throttled(session, login_key, client_ip, now):
            failure = NetworkThrottled()
        elif locked_until is not None:
            failure = customer_auth.AccountLocked(locked_until)
        else:
            passkey = session.exec(select(CustomerPasskey).where(
                CustomerPasskey.credential_id == credential_id, col(CustomerPasskey.revoked_at).is_(None))
                .with_for_update()).first() if credential_id else None
            user = session.get(CustomerUser, passkey.customer_user_id) if passkey is not None else None
            sent_handle = (fields.get("response") or {}).get("userHandle") \
                if isinstance(fields.get("response"), dict) else None
            verified = None
            if _usable(user) and (not sent_handle or sent_handle == bytes_to_base64url(user_handle(user.id))):
                try:
                    verified = verify_authentication_response(
                        credential=fields, expected_challenge=base64url_to_bytes(ceremony.challenge),
                        expected_rp_id=rp.id, expected_origin=rp.origin,
                        credential_public_key=base64url_to_bytes(passkey.public_key),
                        credential_current_sign_count=passkey.sign_count, require_user_verification=True)
                except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
                    log.warning("passkey sign-in refused for passkey %s: %s", passkey.id, exc)
            credentials.record_attempt(session, login_key, verified is not None, now, client_ip)
            session.flush()
            if verified is None:
                locked_until = _locked_until(session, login_key, now)
                failure = customer_auth.AccountLocked(locked_until) if locked_until else AuthenticationFailed(SIGN_IN_FAILED)
            else:
                passkey.sign_count, passkey.last_used_at = verified.new_sign_count, now
                session.add(passkey)
                ticket = customer_auth.issue_ticket(session, user, now)
    if failure is not None:
        if isinstance(failure, customer_auth.AccountLocked):
            log.warning("passkey sign-in locked for credential %s until %s",
                        credentials.digest(login_key)[:12], failure.until.isoformat(timespec="seconds"))
        raise failure
    return ticket


# --- the person's passkeys -------------------------------------------------------------------

def my_passkeys(*, actor: Actor) -> list[dict[str, Any]]:
    """The signed-in customer's own live passkeys, newest first (customers only; nothing written).

    Each: id, name, transports, created_at and last_used_at (Tokyo time; "" when never used).
    """
    actor = _require_customer(actor)
    with read_session() as session:
        rows = session.exec(select(CustomerPasskey).where(
            CustomerPasskey.customer_user_id == actor.id, col(CustomerPasskey.revoked_at).is_(None))
            .order_by(col(CustomerPasskey.created_at).desc(), col(CustomerPasskey.id).desc())).all()
    return [{"id": r.id, "name": r.name, "transports": r.transports, "created_at": tokyo_time(r.created_at),
             "last_used_at": tokyo_time(r.last_used_at)} for r in rows]


@mutating_service
def remove_passkey(passkey_id: int, *, actor: Actor) -> None:
    """Remove one of the signed-in customer's own passkeys: it no longer signs anyone in.

    Customers only, their own passkeys only: another person's passkey, an unknown id or one already removed
    raise NotFound and nothing is written. Writes revoked_at and one "auth.passkey_remove" audit entry.
    """
    actor = _require_customer(actor)
    now = clock()
    with write_session() as session:
        user = _own_user(session, actor)
        passkey = session.exec(select(CustomerPasskey).where(
            CustomerPasskey.id == passkey_id, CustomerPasskey.customer_user_id == user.id,
            col(CustomerPasskey.revoked_at).is_(None)).with_for_update()).first() \
            if isinstance(passkey_id, int) and not isinstance(passkey_id, bool) else None
        if passkey is None:
            raise NotFound(PASSKEY_NOT_FOUND)
        before = snapshot(passkey)
        passkey.revoked_at = now
        session.add(passkey)
        record(session, actor, "auth.passkey_remove", passkey, before=before,
               after=snapshot(passkey) | {"customer_id": user.customer_id})
