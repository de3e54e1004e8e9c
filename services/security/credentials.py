"""What every sign-in needs, whoever signs in: passwords, tokens, TOTP codes, recovery codes, throttling.

Staff sign-in (services.security.auth) and customer sign-in (services.security.customer_auth) keep their
own tables, flows and actors; this module holds the pieces that know no audience:

- passwords: argon2id through pwdlib; an unknown login verifies a dummy hash, so a wrong address takes
  as long as a wrong password. The hasher is passed in, so each audience (and its tests) chooses the cost.
- tokens: 256-bit URL-safe random tokens; only their SHA-256 (`digest`) is ever stored.
- TOTP: the 30-second step a 6-digit code belongs to (±1 step), refused when not newer than the last used
  step (replay).
- recovery codes: 12 symbols of an alphabet without look-alikes (60 bits), shown as abcd-efgh-ijkl,
  compared in canonical form (no spaces or dashes, lower case).
- throttling on SignInAttempt rows: failures per login key and per network (an IPv4 address, an IPv6 /64)
  within settings.sign_in_window_minutes. Customer login keys start with CUSTOMER_KEY_PREFIX ("my:"), and
  each audience counts only its own keys, so staff and customer throttles never mix.
- password rules: length, not a common password (zxcvbn's list), not the e-mail address; no composition rules.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from functools import lru_cache

import pyotp
import segno
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pyotp.exceptions import OTPVerificationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from services.models import SignInAttempt
from services.platform.audit import record
from services.platform.config import settings
from services.platform.errors import DomainError
from services.platform.permissions import SYSTEM

SIGN_IN_FAILED = "メールアドレスまたはパスワードが正しくありません。"
NETWORK_THROTTLED = ("このネットワークからのログインの失敗が続いたため、しばらくログインを受け付けません。"
                     "{minutes}分ほど待ってからもう一度お試しください。")

CUSTOMER_KEY_PREFIX = "my:"  # the login keys (SignInAttempt.login_key) of customers' sign-ins
LOGIN_KEY_MAX = 254  # SignInAttempt.login_key's column size

TOTP_VALID_WINDOW = 1  # accept the previous and the next 30-second step (clock drift)
RECOVERY_CODE_COUNT = 10
RECOVERY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # 32 symbols, no l/o/0/1: 60 bits per code
_RECOVERY_CODE = re.compile(rf"^[{RECOVERY_ALPHABET}]{{12}}$")
_TOTP_CODE = re.compile(r"^\d{6}$")

log = logging.getLogger(__name__)

# argon2id with the library's recommended cost; each audience keeps a reference it may swap (tests do).
DEFAULT_PASSWORD_HASH = PasswordHash((Argon2Hasher(),))


class AuthenticationFailed(DomainError):
    """Sign-in did not succeed; the message never says which part was wrong."""

    def __init__(self, message: str = SIGN_IN_FAILED):
        super().__init__(message)


class NetworkThrottled(AuthenticationFailed):
    """Too many failed sign-ins from one network: every attempt from it waits for the window to pass."""

    def __init__(self) -> None:
        super().__init__(NETWORK_THROTTLED.format(minutes=settings.sign_in_window_minutes))


# --- passwords -------------------------------------------------------------------------------

def hash_password(password: str, hasher: PasswordHash = DEFAULT_PASSWORD_HASH) -> str:
    """Hash a password with argon2id (pwdlib); the result carries its own salt and cost."""
    return hasher.hash(password)


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHash) -> str:
    """A hash of a random password with the hasher's cost, verified for unknown logins."""
    return hasher.hash(secrets.token_urlsafe(16))


def verify_password(password: str, stored_hash: str | None,
                    hasher: PasswordHash = DEFAULT_PASSWORD_HASH) -> tuple[bool, str | None]:
    """(matches, new hash if the cost settings changed). No stored hash (an unknown login) or one of an
    unknown scheme verifies a dummy hash, so the answer takes as long as for a real account."""
    try:
        if stored_hash is None:
            hasher.verify(password or "", _dummy_hash(hasher))
            return False, None
        return hasher.verify_and_update(password or "", stored_hash)
    except UnknownHashError:
        hasher.verify(password or "", _dummy_hash(hasher))
        return False, None


# --- tokens ----------------------------------------------------------------------------------

def digest(value: str) -> str:
    """The SHA-256 (hex) stored in place of a token or a recovery code."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A new random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


# --- TOTP ------------------------------------------------------------------------------------

def totp_step(secret: str, code: str, now: datetime, after_step: int | None) -> int | None:
    """The time step `code` belongs to (within ±1 step of now), if it is newer than `after_step`."""
    if not _TOTP_CODE.match(code or ""):
        return None
    try:
        step = pyotp.TOTP(secret).verify_and_get_timecode(code, for_time=now, valid_window=TOTP_VALID_WINDOW)
    except OTPVerificationError:
        return None
    if after_step is not None and step <= after_step:
        return None  # this code (or an older one) was already used: replay
    return step


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """A QR code of `uri` as an SVG data URI (for an <img>)."""
    return segno.make(uri, error="m").svg_data_uri(scale=4, border=2)


# --- recovery codes --------------------------------------------------------------------------

def canonical_recovery_code(code: str) -> str:
    """A typed recovery code as stored (digested): without spaces and dashes, lower case."""
    return re.sub(r"[\s\-]", "", code or "").lower()


def looks_like_recovery_code(canonical: str) -> bool:
    """True if a canonical code has the shape of a recovery code (12 symbols of the alphabet)."""
    return bool(_RECOVERY_CODE.match(canonical))


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[tuple[str, str]]:
    """`count` new codes as (canonical form to digest and store, form shown once: abcd-efgh-ijkl)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(12))
        codes.append((raw, f"{raw[0:4]}-{raw[4:8]}-{raw[8:12]}"))
    return codes


# --- throttling ------------------------------------------------------------------------------

def normalise_login(email: str) -> str:
    """The stored form of a login name: stripped and lower-cased."""
    return (email or "").strip().lower()[:LOGIN_KEY_MAX]


def customer_login_key(email: str) -> str:
    """The throttling key of a customer's sign-in: "my:" + the normalised address."""
    return (CUSTOMER_KEY_PREFIX + normalise_login(email))[:LOGIN_KEY_MAX]


def is_customer_key(login_key: str) -> bool:
    """True for the login keys of customers' sign-ins."""
    return login_key.startswith(CUSTOMER_KEY_PREFIX)


def client_network(client_ip: str | None) -> str | None:
    """The network an address belongs to for throttling: the IPv4 address itself, or its IPv6 /64."""
    try:
        address = ipaddress.ip_address((client_ip or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 32 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def window_start(now: datetime) -> datetime:
    """The start of the throttling window that ends at `now`."""
    return now - timedelta(minutes=settings.sign_in_window_minutes)


def _same_audience(login_key: str):
    """SQL condition: the attempt's key belongs to the audience of `login_key` (customers or staff)."""
    customers = col(SignInAttempt.login_key).startswith(CUSTOMER_KEY_PREFIX, autoescape=True)
    return customers if is_customer_key(login_key) else ~customers


def recent_failures(session: Session, login_key: str, now: datetime) -> int:
    """Failed attempts for `login_key` within the window."""
    return session.exec(select(func.count()).select_from(SignInAttempt).where(
        SignInAttempt.login_key == login_key,
        SignInAttempt.succeeded == False,  # noqa: E712  (SQL expression)
        SignInAttempt.attempted_at >= window_start(now),
    )).one()


def failure_times(session: Session, login_key: str, now: datetime) -> list[datetime]:
    """When the failed attempts for `login_key` within the window happened, newest first."""
    return list(session.exec(select(SignInAttempt.attempted_at).where(
        SignInAttempt.login_key == login_key,
        SignInAttempt.succeeded == False,  # noqa: E712  (SQL expression)
        SignInAttempt.attempted_at >= window_start(now),
    ).order_by(col(SignInAttempt.attempted_at).desc())).all())


def network_failures(session: Session, network: str | None, now: datetime, login_key: str = "") -> int:
    """Failed attempts from `network` within the window, of the audience `login_key` belongs to."""
    if network is None:
        return 0
    return session.exec(select(func.count()).select_from(SignInAttempt).where(
        SignInAttempt.client_network == network,
        SignInAttempt.succeeded == False,  # noqa: E712  (SQL expression)
        SignInAttempt.attempted_at >= window_start(now),
        _same_audience(login_key),
    )).one()


def record_attempt(session: Session, login_key: str, succeeded: bool, now: datetime,
                   client_ip: str | None = None) -> SignInAttempt:
    """Write one SignInAttempt (the caller's transaction)."""
    attempt = SignInAttempt(login_key=login_key[:LOGIN_KEY_MAX], client_ip=(client_ip or None) and client_ip[:64],
                            client_network=client_network(client_ip), succeeded=succeeded, attempted_at=now)
    session.add(attempt)
    return attempt


def network_throttled(session: Session, login_key: str, client_ip: str | None, now: datetime) -> bool:
    """True (with the refused attempt recorded, logged, and audited once per window) when the network of
    `client_ip` is over its limit for the audience of `login_key`; the caller raises NetworkThrottled after
    its transaction commits."""
    network = client_network(client_ip)
    failures = network_failures(session, network, now, login_key)
    if failures < settings.sign_in_max_failures_per_network:
        return False
    attempt = record_attempt(session, login_key, False, now, client_ip)
    audience = "customer" if is_customer_key(login_key) else "staff"
    log.warning("%s sign-in refused: %s failed attempts from network %s in %s minutes",
                audience, failures, network, settings.sign_in_window_minutes)
    if failures == settings.sign_in_max_failures_per_network:  # the first refusal of this window
        record(session, SYSTEM, "auth.network_throttled", attempt,
               after={"client_network": network, "failures": failures,
                      "window_minutes": settings.sign_in_window_minutes},
               reason="同じネットワークからのログイン失敗が上限を超えたため、受け付けを一時停止しました。")
    return True


# --- password rules --------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's frequency list, lower case."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def _folded(text: str) -> str:
    """`text` compared loosely: full-width letters as ASCII (NFKC), lower case, without outer spaces."""
    return unicodedata.normalize("NFKC", text or "").strip().lower()


def password_problems(password: str, *, email: str = "", min_length: int = MIN_PASSWORD_LENGTH,
                      max_length: int = MAX_PASSWORD_LENGTH) -> list[str]:
    """What is wrong with a new password, in Japanese (empty when it may be used).

    Length (in characters), not a common password (zxcvbn's list of the most used ones, case-insensitive),
    not the person's e-mail address. No composition rules: a long passphrase is better than "P@ssw0rd!".
    """
    password = password or ""
    problems = []
    if len(password) < min_length:
        problems.append(f"パスワードは{min_length}文字以上にしてください。")
    if len(password) > max_length:
        problems.append(f"パスワードは{max_length}文字以内にしてください。")
    if _folded(password) in _common_passwords():
        problems.append("よく使われているパスワードのため使えません。人が推測しにくい言葉を組み合わせてください。")
    if email and _folded(password) == _folded(email):
        problems.append("メールアドレスと同じパスワードは使えません。")
    return problems
