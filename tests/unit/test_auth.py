"""Staff sign-in: password, MFA (TOTP / recovery codes), throttling, tickets and sessions."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pyotp
import pytest
from sqlmodel import select

from services.models import (
    AuditEntry,
    SignInAttempt,
    SignInChallenge,
    StaffRecoveryCode,
    StaffSession,
    StaffUser,
)
from services.platform import crypto
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import NotAuthenticated, ValidationFailed
from services.platform.permissions import Role
from services.security import auth, staff_admin
from tests.unit.conftest import FakeClock

DEFAULT_PASSWORD_HASH = auth._password_hash  # the production hasher, before tests swap it
PASSWORD = "correct horse battery"



def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def totp_code(secret: str, at: datetime, steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(at) + steps)


def new_user(admin, email="tanaka@example.jp", role="support", password=PASSWORD) -> StaffUser:
    return staff_admin.create_staff_user(actor=admin, email=email, display_name="田中 花子", role=role,
                                         password=password)


def enroll(email: str, clock: FakeClock) -> tuple[str, list[str], str]:
    """Sign in for the first time and set up MFA; returns (secret, recovery codes, ticket)."""
    step = auth.begin_sign_in(email, PASSWORD)
    assert step.stage == "enroll"
    enrollment = auth.start_enrollment(step.challenge_token)
    result = auth.complete_enrollment(step.challenge_token, totp_code(enrollment.secret, clock.now))
    return enrollment.secret, result.recovery_codes, result.ticket


@pytest.fixture()
def enrolled(engine, admin, clock):
    """A support user with MFA set up, 5 minutes after enrollment (so fresh codes are unused)."""
    user = new_user(admin)
    secret, codes, _ = enroll(user.email, clock)
    clock.advance(minutes=5)
    return user, secret, codes


def sign_in(email: str, secret: str, clock: FakeClock) -> str:
    step = auth.begin_sign_in(email, PASSWORD)
    assert step.stage == "mfa"
    return auth.redeem_ticket(auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now)))


def audit_entries(action: str) -> list[AuditEntry]:
    with read_session() as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


# --- passwords -------------------------------------------------------------------------------

def test_password_hash_is_argon2id_with_library_cost():
    hashed = DEFAULT_PASSWORD_HASH.hash(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert DEFAULT_PASSWORD_HASH.verify(PASSWORD, hashed)
    assert auth.hash_password(PASSWORD).startswith("$argon2id$")
    assert auth.hash_password(PASSWORD) != auth.hash_password(PASSWORD)  # salted


def test_new_staff_user_stores_only_a_password_hash(engine, admin):
    user = new_user(admin)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


# --- first sign-in with enrollment -----------------------------------------------------------

def test_first_sign_in_enrolls_mfa_with_qr_and_recovery_codes_then_opens_a_session(engine, admin, clock):
    user = new_user(admin)
    step = auth.begin_sign_in("  Tanaka@Example.JP ", PASSWORD, client_ip="192.0.2.1")
    assert step.stage == "enroll"
    enrollment = auth.start_enrollment(step.challenge_token)
    assert enrollment.issuer == "通信サービス管理"
    assert enrollment.qr_svg_data_uri.startswith("data:image/svg+xml")
    assert enrollment.provisioning_uri.startswith("otpauth://totp/")
    assert enrollment.secret in enrollment.provisioning_uri
    assert len(pyotp.TOTP(enrollment.secret).byte_secret()) >= 20

    result = auth.complete_enrollment(step.challenge_token, totp_code(enrollment.secret, clock.now))
    assert len(result.recovery_codes) == 10
    assert len(set(result.recovery_codes)) == 10
    assert all(len(c) == 14 and c[4] == "-" and c[9] == "-" for c in result.recovery_codes)

    token = auth.redeem_ticket(result.ticket, client_ip="192.0.2.1")
    actor = auth.resolve_session(token, request_id="req-1")
    assert (actor.kind, actor.id, actor.role) == ("staff", user.id, Role.SUPPORT)
    assert actor.request_id == "req-1" and actor.session_id is not None
    assert "tanaka@example.jp" in actor.label

    with read_session() as session:
        stored = session.get(StaffUser, user.id)
        codes = session.exec(select(StaffRecoveryCode)).all()
    assert crypto.decrypt(stored.totp_secret) == enrollment.secret and stored.mfa_enrolled_at is not None
    assert stored.last_totp_step == pyotp.TOTP(enrollment.secret).timecode(clock.now)
    assert {c.code_hash for c in codes} == {sha256(c.replace("-", "")) for c in result.recovery_codes}
    assert [e.actor_id for e in audit_entries("auth.mfa_enroll")] == [user.id]
    assert enrollment.secret not in audit_entries("auth.mfa_enroll")[0].after_json


def test_start_enrollment_twice_returns_the_same_secret(engine, admin, clock):
    new_user(admin)
    step = auth.begin_sign_in("tanaka@example.jp", PASSWORD)
    first = auth.start_enrollment(step.challenge_token)
    second = auth.start_enrollment(step.challenge_token)
    assert first.secret == second.secret


def test_enrollment_with_a_wrong_code_is_refused_and_mfa_stays_off(engine, admin, clock):
    user = new_user(admin)
    step = auth.begin_sign_in(user.email, PASSWORD)
    enrollment = auth.start_enrollment(step.challenge_token)
    wrong = totp_code(enrollment.secret, clock.now, steps=3)
    with pytest.raises(auth.AuthenticationFailed) as err:
        auth.complete_enrollment(step.challenge_token, wrong)
    assert err.value.message == "確認コードが正しくありません。"
    with read_session() as session:
        assert session.get(StaffUser, user.id).mfa_enrolled_at is None


def test_enrolled_user_is_asked_for_mfa_and_cannot_re_enroll(enrolled):
    user, _, _ = enrolled
    step = auth.begin_sign_in(user.email, PASSWORD)
    assert step.stage == "mfa"
    with pytest.raises(auth.AuthenticationFailed):
        auth.start_enrollment(step.challenge_token)


# --- TOTP window and replay ------------------------------------------------------------------

@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_totp_code_within_one_step_is_accepted(enrolled, clock, steps):
    user, secret, _ = enrolled
    step = auth.begin_sign_in(user.email, PASSWORD)
    ticket = auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now, steps))
    assert auth.redeem_ticket(ticket)


@pytest.mark.parametrize("steps", [-2, 2])
def test_totp_code_two_steps_off_is_rejected(enrolled, clock, steps):
    user, secret, _ = enrolled
    step = auth.begin_sign_in(user.email, PASSWORD)
    with pytest.raises(auth.AuthenticationFailed) as err:
        auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now, steps))
    assert err.value.message == "確認コードが正しくありません。"


def test_replayed_totp_code_is_rejected_and_so_is_an_older_one(enrolled, clock):
    user, secret, _ = enrolled
    code = totp_code(secret, clock.now)
    auth.verify_mfa(auth.begin_sign_in(user.email, PASSWORD).challenge_token, code)

    again = auth.begin_sign_in(user.email, PASSWORD)
    with pytest.raises(auth.AuthenticationFailed):
        auth.verify_mfa(again.challenge_token, code)
    with pytest.raises(auth.AuthenticationFailed):
        auth.verify_mfa(again.challenge_token, totp_code(secret, clock.now, -1))
    clock.advance(seconds=30)
    assert auth.verify_mfa(again.challenge_token, totp_code(secret, clock.now))


def test_recovery_code_works_once_only(enrolled, clock):
    user, _, codes = enrolled
    typed = codes[0].replace("-", "").upper()  # people retype codes loosely
    ticket = auth.verify_mfa(auth.begin_sign_in(user.email, PASSWORD).challenge_token, typed)
    assert auth.redeem_ticket(ticket)
    step = auth.begin_sign_in(user.email, PASSWORD)
    with pytest.raises(auth.AuthenticationFailed):
        auth.verify_mfa(step.challenge_token, codes[0])
    assert auth.verify_mfa(step.challenge_token, codes[1])

    entries = audit_entries("auth.recovery_code_use")
    assert [e.actor_id for e in entries] == [user.id, user.id]
    assert json.loads(entries[-1].after_json)["remaining_codes"] == 8
    assert "code_hash" not in entries[-1].after_json


def test_mfa_challenge_is_single_use_and_expires_after_ten_minutes(enrolled, clock):
    user, secret, _ = enrolled
    step = auth.begin_sign_in(user.email, PASSWORD)
    auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))
    clock.advance(seconds=30)
    with pytest.raises(auth.AuthenticationFailed):
        auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))

    late = auth.begin_sign_in(user.email, PASSWORD)
    clock.advance(minutes=10)
    with pytest.raises(auth.AuthenticationFailed):
        auth.verify_mfa(late.challenge_token, totp_code(secret, clock.now))


# --- generic failures and throttling ---------------------------------------------------------

def test_unknown_wrong_password_and_disabled_user_get_identical_answer(engine, admin, clock):
    user = new_user(admin)
    other = new_user(admin, email="sato@example.jp")
    staff_admin.disable_staff_user(other.id, actor=admin, reason="退職")
    messages = set()
    for email, password in [("nobody@example.jp", PASSWORD), (user.email, "wrong password!!"),
                            (other.email, PASSWORD), ("", "")]:
        with pytest.raises(auth.AuthenticationFailed) as err:
            auth.begin_sign_in(email, password)
        messages.add(err.value.message)
    assert messages == {"メールアドレスまたはパスワードが正しくありません。"}


def test_every_password_attempt_is_recorded_with_the_normalised_login(engine, admin, clock):
    new_user(admin)
    auth.begin_sign_in("Tanaka@Example.jp", PASSWORD, client_ip="198.51.100.7")
    with pytest.raises(auth.AuthenticationFailed):
        auth.begin_sign_in(" TANAKA@example.jp ", "nope nope nope")
    with read_session() as session:
        attempts = session.exec(select(SignInAttempt).order_by(SignInAttempt.id)).all()
    assert [(a.login_key, a.succeeded) for a in attempts] == [
        ("tanaka@example.jp", True), ("tanaka@example.jp", False)]
    assert attempts[0].client_ip == "198.51.100.7"


def test_throttled_login_refuses_even_the_right_password_with_the_same_message(engine, admin, clock):
    user = new_user(admin)
    for _ in range(settings.sign_in_max_failures):
        with pytest.raises(auth.AuthenticationFailed):
            auth.begin_sign_in(user.email, "wrong password!!")
    with pytest.raises(auth.AuthenticationFailed) as err:
        auth.begin_sign_in(user.email, PASSWORD)
    assert err.value.message == "メールアドレスまたはパスワードが正しくありません。"

    clock.advance(minutes=settings.sign_in_window_minutes, seconds=1)
    assert auth.begin_sign_in(user.email, PASSWORD).stage == "enroll"


def test_throttling_counts_unknown_logins_too(engine, admin, clock):
    for _ in range(settings.sign_in_max_failures):
        with pytest.raises(auth.AuthenticationFailed):
            auth.begin_sign_in(" Newcomer@Example.jp", PASSWORD)
    with read_session() as session:
        keys = session.exec(select(SignInAttempt.login_key)).all()
    assert set(keys) == {"newcomer@example.jp"}
    # The account appears during the window: the login is still throttled.
    new_user(admin, email="newcomer@example.jp")
    with pytest.raises(auth.AuthenticationFailed):
        auth.begin_sign_in("newcomer@example.jp", PASSWORD)
    # Other logins are unaffected.
    new_user(admin, email="other@example.jp")
    assert auth.begin_sign_in("other@example.jp", PASSWORD).stage == "enroll"


def test_failed_mfa_codes_count_toward_throttling_and_end_the_challenge(enrolled, clock):
    user, secret, _ = enrolled
    step = auth.begin_sign_in(user.email, PASSWORD)
    for _ in range(settings.sign_in_max_failures):
        with pytest.raises(auth.AuthenticationFailed):
            auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now, steps=5))
    with pytest.raises(auth.AuthenticationFailed):
        auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))  # right code, too late
    with pytest.raises(auth.AuthenticationFailed) as err:
        auth.begin_sign_in(user.email, PASSWORD)
    assert err.value.message == "メールアドレスまたはパスワードが正しくありません。"


# --- tickets ---------------------------------------------------------------------------------

def test_sign_in_ticket_works_once(enrolled, clock):
    user, secret, _ = enrolled
    ticket = auth.verify_mfa(auth.begin_sign_in(user.email, PASSWORD).challenge_token,
                             totp_code(secret, clock.now))
    auth.redeem_ticket(ticket)
    with pytest.raises(auth.AuthenticationFailed):
        auth.redeem_ticket(ticket)
    with pytest.raises(auth.AuthenticationFailed):
        auth.redeem_ticket("not-a-ticket")


def test_sign_in_ticket_expires_after_sixty_seconds(enrolled, clock):
    user, secret, _ = enrolled
    ticket = auth.verify_mfa(auth.begin_sign_in(user.email, PASSWORD).challenge_token,
                             totp_code(secret, clock.now))
    clock.advance(seconds=61)
    with pytest.raises(auth.AuthenticationFailed):
        auth.redeem_ticket(ticket)


def test_challenge_token_is_not_a_ticket(enrolled):
    user, _, _ = enrolled
    step = auth.begin_sign_in(user.email, PASSWORD)
    with pytest.raises(auth.AuthenticationFailed):
        auth.redeem_ticket(step.challenge_token)


# --- sessions --------------------------------------------------------------------------------

def test_session_token_has_at_least_128_bits_and_is_stored_only_hashed(enrolled, clock):
    user, secret, _ = enrolled
    token = sign_in(user.email, secret, clock)
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    with read_session() as session:
        stored = session.exec(select(StaffSession)).one()
        challenges = session.exec(select(SignInChallenge)).all()
    assert stored.token_hash == sha256(token)
    assert token not in {stored.token_hash, *(c.token_hash for c in challenges)}
    assert stored.expires_at == clock.now + timedelta(hours=settings.session_absolute_hours)

    entry = audit_entries("auth.sign_in")[-1]
    assert (entry.actor_kind, entry.actor_id, entry.entity_type) == ("staff", user.id, "staff_session")
    assert entry.entity_id == stored.id
    assert "token_hash" not in entry.after_json and stored.token_hash not in entry.after_json


def test_missing_or_unknown_session_token_is_not_authenticated(engine):
    for token in (None, "", "made-up-token"):
        with pytest.raises(NotAuthenticated):
            auth.resolve_session(token)


def test_session_ends_after_thirty_idle_minutes(enrolled, clock):
    user, secret, _ = enrolled
    token = sign_in(user.email, secret, clock)
    clock.advance(minutes=settings.session_idle_minutes)
    auth.resolve_session(token)  # exactly 30 minutes idle: still fine, and touched
    clock.advance(minutes=settings.session_idle_minutes, seconds=1)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(token)


def test_active_session_still_ends_after_twelve_hours(enrolled, clock):
    user, secret, _ = enrolled
    token = sign_in(user.email, secret, clock)
    for _ in range(settings.session_absolute_hours * 60 // 20 - 1):
        clock.advance(minutes=20)
        auth.resolve_session(token)
    clock.advance(minutes=20)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(token)


def test_last_seen_is_written_at_most_once_a_minute(enrolled, clock):
    user, secret, _ = enrolled
    token = sign_in(user.email, secret, clock)
    signed_in_at = clock.now

    def last_seen():
        with read_session() as session:
            return session.exec(select(StaffSession.last_seen_at)).one()

    clock.advance(seconds=59)
    auth.resolve_session(token)
    assert last_seen() == signed_in_at
    clock.advance(seconds=1)
    auth.resolve_session(token)
    assert last_seen() == clock.now


def test_sign_out_revokes_the_session_once(enrolled, clock):
    user, secret, _ = enrolled
    token = sign_in(user.email, secret, clock)
    auth.sign_out(token)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(token)
    auth.sign_out(token)
    auth.sign_out(None)
    auth.sign_out("unknown")
    entries = audit_entries("auth.sign_out")
    assert [(e.actor_id, e.entity_type) for e in entries] == [(user.id, "staff_session")]
    assert "token_hash" not in entries[0].after_json


def test_password_sign_in_is_audited_with_its_method(enrolled, clock):
    user, secret, _ = enrolled
    sign_in(user.email, secret, clock)
    assert json.loads(audit_entries("auth.sign_in")[-1].after_json)["method"] == "password"


# --- TOTP secrets at rest --------------------------------------------------------------------

def raw_column(engine, table: str, column: str) -> list[str | None]:
    """The stored bytes of a column, read with plain SQL (no model, no decryption)."""
    with engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql(f"SELECT {column} FROM {table}")]


def test_totp_secret_is_stored_encrypted_not_as_the_base32_secret(engine, admin, clock):
    user = new_user(admin)
    step = auth.begin_sign_in(user.email, PASSWORD)
    enrollment = auth.start_enrollment(step.challenge_token)

    (pending,) = raw_column(engine, "sign_in_challenge", "pending_totp_secret")
    assert pending and enrollment.secret not in pending and pending.startswith("gAAAAA")  # Fernet token
    assert crypto.decrypt(pending) == enrollment.secret

    auth.complete_enrollment(step.challenge_token, totp_code(enrollment.secret, clock.now))
    (stored,) = raw_column(engine, "staff_user", "totp_secret")
    assert stored and enrollment.secret not in stored and stored.startswith("gAAAAA")
    assert crypto.decrypt(stored) == enrollment.secret
    # The pending copy on the used challenge is dropped once MFA is set up.
    assert raw_column(engine, "sign_in_challenge", "pending_totp_secret")[0] is None


def test_demo_staff_secret_is_stored_encrypted(engine, clock):
    secret = pyotp.random_base32()
    auth.provision_demo_staff("demo-admin@example.jp", "デモ管理者", "admin", PASSWORD, secret)
    (stored,) = raw_column(engine, "staff_user", "totp_secret")
    assert secret not in stored and crypto.decrypt(stored) == secret


def test_demo_staff_secret_left_in_plain_text_is_encrypted_on_the_next_provisioning(engine, clock):
    secret = pyotp.random_base32()
    user = auth.provision_demo_staff("demo-admin@example.jp", "デモ管理者", "admin", PASSWORD, secret)
    with write_session() as session:  # as written by a version before encryption at rest
        session.get(StaffUser, user.id).totp_secret = secret
    auth.provision_demo_staff("demo-admin@example.jp", "デモ管理者", "admin", PASSWORD, secret)
    (stored,) = raw_column(engine, "staff_user", "totp_secret")
    assert stored != secret and crypto.decrypt(stored) == secret
    assert auth.resolve_session(sign_in("demo-admin@example.jp", secret, clock)).id == user.id


def test_sign_in_still_works_after_the_encryption_key_is_rotated(enrolled, engine, clock, tmp_path,
                                                                 monkeypatch):
    user, secret, _ = enrolled
    monkeypatch.setenv("TELECOM_KEY_FILE", str(tmp_path / "own.keys"))  # leave the suite's key alone
    crypto.reload_keys()
    try:
        with write_session() as session:
            session.get(StaffUser, user.id).totp_secret = crypto.encrypt(secret)
        (before,) = raw_column(engine, "staff_user", "totp_secret")
        assert crypto.rotate() == 1
        (after,) = raw_column(engine, "staff_user", "totp_secret")
        assert after != before and secret not in after
        assert auth.resolve_session(sign_in(user.email, secret, clock)).id == user.id
    finally:
        monkeypatch.undo()
        crypto.reload_keys()


# --- demo staff (staff administration is tested in test_staff_admin.py) --------------------

def test_demo_staff_is_enrolled_with_the_given_secret_and_provisioned_once(engine, clock):
    secret = pyotp.random_base32()
    first = auth.provision_demo_staff("demo-admin@example.jp", "デモ管理者", "admin", PASSWORD, secret)
    again = auth.provision_demo_staff("demo-admin@example.jp", "デモ管理者", "admin", PASSWORD, secret)
    assert first.id == again.id
    entries = audit_entries("staff.create")
    assert [(e.actor_kind, e.actor_label) for e in entries] == [("system", "system")]
    token = sign_in("demo-admin@example.jp", secret, clock)
    assert auth.resolve_session(token).role == Role.ADMIN


def test_demo_staff_needs_a_base32_secret(engine):
    with pytest.raises(ValidationFailed):
        auth.provision_demo_staff("demo@example.jp", "デモ", "sales", PASSWORD, "not base32!")


def test_session_of_a_user_disabled_by_other_means_is_refused(enrolled, clock):
    user, secret, _ = enrolled
    token = sign_in(user.email, secret, clock)
    with write_session() as session:  # e.g. an operator fixed the row by hand, sessions left open
        row = session.get(StaffUser, user.id)
        row.is_active = False
        session.add(row)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(token)


# --- throttling per network -------------------------------------------------------------------

def test_many_accounts_tried_from_one_address_are_refused_with_a_clear_message_and_audited(engine, admin, clock):
    new_user(admin)
    for n in range(settings.sign_in_max_failures_per_network):  # each login only once: no per-account limit
        with pytest.raises(auth.AuthenticationFailed) as err:
            auth.begin_sign_in(f"guess{n}@example.jp", "wrong password!!", client_ip="203.0.113.9")
        assert not isinstance(err.value, auth.NetworkThrottled)

    with pytest.raises(auth.NetworkThrottled) as refused:  # even the right password, from that address
        auth.begin_sign_in("tanaka@example.jp", PASSWORD, client_ip="203.0.113.9")
    with pytest.raises(auth.NetworkThrottled):
        auth.begin_sign_in("guess-more@example.jp", "wrong password!!", client_ip="203.0.113.9")

    assert "このネットワークからのログインの失敗が続いたため" in refused.value.message
    assert f"{settings.sign_in_window_minutes}分" in refused.value.message
    assert auth.begin_sign_in("tanaka@example.jp", PASSWORD, client_ip="198.51.100.20").stage == "enroll"
    with read_session() as session:
        audited = session.exec(select(AuditEntry).where(AuditEntry.action == "auth.network_throttled")).all()
        refused_rows = session.exec(select(SignInAttempt).where(SignInAttempt.client_network == "203.0.113.9/32",
                                                                SignInAttempt.succeeded == False)).all()  # noqa: E712
    assert len(audited) == 1  # once per window, not per refused attempt
    assert json.loads(audited[0].after_json)["client_network"] == "203.0.113.9/32"
    assert len(refused_rows) == settings.sign_in_max_failures_per_network + 2

    clock.advance(minutes=settings.sign_in_window_minutes, seconds=1)
    assert auth.begin_sign_in("tanaka@example.jp", PASSWORD, client_ip="203.0.113.9").stage == "enroll"


def test_an_ipv6_network_is_throttled_as_its_64_and_a_mapped_ipv4_as_its_address(engine, admin, clock):
    assert auth.client_network("2001:db8:1:2:aaaa::1") == auth.client_network("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert auth.client_network("::ffff:203.0.113.9") == "203.0.113.9/32"
    assert auth.client_network("not an address") is None
    for n in range(settings.sign_in_max_failures_per_network):
        with pytest.raises(auth.AuthenticationFailed):
            auth.begin_sign_in(f"v6-{n}@example.jp", "wrong password!!", client_ip=f"2001:db8:1:2::{n + 1:x}")
    with pytest.raises(auth.NetworkThrottled):
        auth.begin_sign_in("v6-other@example.jp", "wrong password!!", client_ip="2001:db8:1:2:ffff::9")


def test_wrong_second_factor_codes_count_toward_the_networks_limit(enrolled, clock):
    user, secret, _ = enrolled
    for n in range(settings.sign_in_max_failures_per_network - 1):
        with pytest.raises(auth.AuthenticationFailed):
            auth.begin_sign_in(f"guess{n}@example.jp", "wrong password!!", client_ip="203.0.113.50")
    step = auth.begin_sign_in(user.email, PASSWORD, client_ip="203.0.113.50")
    with pytest.raises(auth.AuthenticationFailed):
        auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now, steps=5), client_ip="203.0.113.50")

    with pytest.raises(auth.NetworkThrottled):
        auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now), client_ip="203.0.113.50")
