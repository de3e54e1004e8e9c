"""Customer sign-in: invitations, password + TOTP, recovery codes, throttling, sessions and devices, password
resets — on the customers' own tables, never mixing with staff sign-in."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta

import pyotp
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func
from sqlmodel import SQLModel, select

import services.platform.audit
from services.models import (
    AuditEntry,
    CustomerInvitation,
    CustomerPasswordReset,
    CustomerRecoveryCode,
    CustomerSession,
    CustomerUser,
    CustomerUserLine,
    ExternalOperation,
    SignInAttempt,
)
from services.platform import crypto
from services.platform.config import settings
from services.platform.db import read_session, write_session
from services.platform.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from services.platform.permissions import Role
from services.security import auth, credentials, customer_auth, staff_admin
from tests.unit.conftest import FakeClock

PASSWORD = "blue kettle on a quiet morning"
NEW_PASSWORD = "seven paper boats in the rain"
OFFICE_IP = "203.0.113.10"


@pytest.fixture(autouse=True)
def fast_customer_passwords(monkeypatch):
    """Cheap argon2id parameters for the customers' hasher too (production cost: test_auth.py)."""
    monkeypatch.setattr(customer_auth, "_password_hash",
                        PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)))


@pytest.fixture()
def clock(clock, monkeypatch) -> FakeClock:
    """The staff sign-in clock of conftest, moving the customers' sign-in too."""
    monkeypatch.setattr(customer_auth, "clock", clock)
    return clock


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def totp_code(secret: str, at: datetime, steps: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(at) + steps)


def company(world, name: str = "株式会社サンプル商事") -> int:
    return world.customer(name=name, kana="カブシキガイシャサンプルショウジ")


def invite(customer_id: int, clock: FakeClock, *, email: str = "hanako@example.jp", name: str = "佐藤 花子",
           role: str = "customer_admin", line_ids=(), valid_for: timedelta = timedelta(days=7)) -> str:
    """An invitation as services.ledger.customer_users leaves it (token hashed); returns the link's token."""
    token = secrets.token_urlsafe(32)
    with write_session() as session:
        session.add(CustomerInvitation(
            token_hash=customer_auth.invitation_token_hash(token), customer_id=customer_id, email=email, name=name,
            role=role, line_ids=",".join(str(i) for i in line_ids), created_at=clock.now,
            expires_at=clock.now + valid_for))
    return token


def join(customer_id: int, clock: FakeClock, **invitation) -> tuple[int, str, list[str]]:
    """Accept an invitation and set up the authenticator; returns (customer user id, TOTP secret, recovery
    codes). The clock is then 5 minutes on, so fresh codes are unused."""
    step = customer_auth.accept_invitation(invite(customer_id, clock, **invitation), password=PASSWORD)
    enrollment = customer_auth.start_enrollment(step.challenge_token)
    result = customer_auth.complete_enrollment(step.challenge_token, totp_code(enrollment.secret, clock.now))
    clock.advance(minutes=5)
    with read_session() as session:
        user_id = session.exec(select(CustomerUser.id).where(
            CustomerUser.email == invitation.get("email", "hanako@example.jp"))).one()
    return user_id, enrollment.secret, result.recovery_codes


def sign_in(email: str, secret: str, clock: FakeClock, *, client_ip: str | None = None,
            user_agent: str | None = None) -> str:
    step = customer_auth.begin_sign_in(email, PASSWORD, client_ip=client_ip)
    assert step.stage == "mfa"
    ticket = customer_auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now), client_ip=client_ip)
    return customer_auth.redeem_ticket(ticket, client_ip=client_ip, user_agent=user_agent)


def audit_entries(action: str) -> list[AuditEntry]:
    with read_session() as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all())


def all_audit_ids() -> set[int]:
    with read_session() as session:
        return set(session.exec(select(AuditEntry.id)).all())


def mails() -> list[dict]:
    with read_session() as session:
        ops = session.exec(select(ExternalOperation).where(ExternalOperation.provider == "messaging")).all()
    return [json.loads(op.payload_json) for op in ops]


@pytest.fixture()
def member(world, clock):
    """A 法人管理者 of a company with the authenticator set up: (customer id, user id, secret, codes)."""
    customer_id = company(world)
    user_id, secret, codes = join(customer_id, clock)
    return customer_id, user_id, secret, codes


# --- invitation and enrolment ----------------------------------------------------------------

def test_invited_person_chooses_a_password_sets_up_the_authenticator_and_is_signed_in_as_a_customer(world, clock):
    customer_id = company(world)
    token = invite(customer_id, clock, email="Hanako@Example.jp")

    step = customer_auth.accept_invitation(token, password=PASSWORD, client_ip=OFFICE_IP)
    assert step.stage == "enroll"
    enrollment = customer_auth.start_enrollment(step.challenge_token)
    assert enrollment.issuer == settings.issuer.name
    assert enrollment.provisioning_uri.startswith("otpauth://totp/")
    assert enrollment.secret in enrollment.provisioning_uri
    assert enrollment.qr_svg_data_uri.startswith("data:image/svg+xml")
    assert customer_auth.start_enrollment(step.challenge_token).secret == enrollment.secret  # same secret again

    result = customer_auth.complete_enrollment(step.challenge_token, totp_code(enrollment.secret, clock.now))
    token = customer_auth.redeem_ticket(result.ticket, client_ip=OFFICE_IP, user_agent="Mozilla/5.0 (iPhone)")
    actor = customer_auth.resolve_session(token, request_id="req-7")

    with read_session() as session:
        user = session.exec(select(CustomerUser)).one()
    assert (actor.kind, actor.id, actor.role, actor.customer_id) == (
        "customer", user.id, Role.CUSTOMER_ADMIN, customer_id)
    assert actor.label == "佐藤 花子 <hanako@example.jp>"
    assert actor.session_id is not None and actor.request_id == "req-7"
    assert user.email == "hanako@example.jp" and user.password_hash.startswith("$argon2id$")
    assert crypto.decrypt(user.totp_secret) == enrollment.secret and user.mfa_enrolled_at is not None
    accepted = audit_entries("auth.accept_invitation")
    assert [(e.actor_kind, e.actor_id, e.entity_type, e.customer_id) for e in accepted] == [
        ("customer", user.id, "customer_user", customer_id)]
    assert "password_hash" not in accepted[0].after_json and "totp_secret" not in accepted[0].after_json
    assert [e.actor_kind for e in audit_entries("auth.mfa_enroll")] == ["customer"]
    assert [e.entity_type for e in audit_entries("auth.sign_in")] == ["customer_session"]


def test_recovery_codes_are_shown_once_and_only_their_digests_are_kept(world, clock):
    customer_id = company(world)
    step = customer_auth.accept_invitation(invite(customer_id, clock), password=PASSWORD)
    enrollment = customer_auth.start_enrollment(step.challenge_token)
    result = customer_auth.complete_enrollment(step.challenge_token, totp_code(enrollment.secret, clock.now))

    assert len(result.recovery_codes) == 10 and len(set(result.recovery_codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", c) for c in result.recovery_codes)
    with read_session() as session:
        stored = {row.code_hash for row in session.exec(select(CustomerRecoveryCode)).all()}
    assert stored == {sha256(c.replace("-", "")) for c in result.recovery_codes}
    # The enrolment step is used up: nobody can get the codes (or a new secret) from it again.
    with pytest.raises(customer_auth.AuthenticationFailed):
        customer_auth.complete_enrollment(step.challenge_token, totp_code(enrollment.secret, clock.now))
    with pytest.raises(customer_auth.AuthenticationFailed):
        customer_auth.start_enrollment(step.challenge_token)


def test_a_wrong_code_does_not_finish_the_set_up(world, clock):
    step = customer_auth.accept_invitation(invite(company(world), clock), password=PASSWORD)
    enrollment = customer_auth.start_enrollment(step.challenge_token)
    with pytest.raises(customer_auth.AuthenticationFailed) as err:
        customer_auth.complete_enrollment(step.challenge_token, totp_code(enrollment.secret, clock.now, steps=10))
    assert err.value.message == customer_auth.CODE_INVALID
    assert customer_auth.complete_enrollment(step.challenge_token, totp_code(enrollment.secret, clock.now)).ticket


def test_invitation_page_shows_the_company_the_person_and_a_masked_address(world, clock):
    token = invite(company(world), clock, email="hanako@example.jp", role="user")
    info = customer_auth.invitation(token)
    assert info["company"] == "株式会社サンプル商事" and info["name"] == "佐藤 花子"
    assert info["email"] == "ha****@example.jp"
    assert (info["role"], info["role_label"]) == ("user", "利用者")
    assert info["expires_at"] == "2026/04/08 09:00"  # Tokyo time, 7 days after 2026-04-01 00:00 UTC


def test_an_invitation_is_accepted_once_only(world, clock):
    token = invite(company(world), clock)
    customer_auth.accept_invitation(token, password=PASSWORD)
    with pytest.raises(NotFound) as again:
        customer_auth.accept_invitation(token, password=NEW_PASSWORD)
    with pytest.raises(NotFound):
        customer_auth.invitation(token)
    assert again.value.message == customer_auth.INVITATION_INVALID
    with read_session() as session:
        assert session.exec(select(func.count()).select_from(CustomerUser)).one() == 1
        invitation = session.exec(select(CustomerInvitation)).one()
    assert invitation.accepted_at is not None and invitation.customer_user_id is not None


def test_expired_revoked_and_unknown_invitations_all_say_the_same(world, clock):
    customer_id = company(world)
    expired = invite(customer_id, clock, email="a@example.jp", valid_for=timedelta(hours=1))
    revoked = invite(customer_id, clock, email="b@example.jp")
    with write_session() as session:
        row = session.exec(select(CustomerInvitation).where(CustomerInvitation.email == "b@example.jp")).one()
        row.revoked_at = clock.now
        session.add(row)
    clock.advance(hours=1)

    messages = set()
    for token in (expired, revoked, "no-such-token", ""):
        for call in (lambda t: customer_auth.invitation(t),
                     lambda t: customer_auth.accept_invitation(t, password=PASSWORD)):
            with pytest.raises(NotFound) as err:
                call(token)
            messages.add(err.value.message)
    assert messages == {customer_auth.INVITATION_INVALID}
    with read_session() as session:
        assert session.exec(select(func.count()).select_from(CustomerUser)).one() == 0


def test_an_address_already_registered_cannot_accept_a_second_invitation(member, clock):
    customer_id = member[0]
    with pytest.raises(Conflict) as err:
        customer_auth.accept_invitation(invite(customer_id, clock, email="HANAKO@example.jp"), password=PASSWORD)
    assert err.value.message == customer_auth.EMAIL_TAKEN


def test_a_customer_user_sees_only_the_invited_lines_of_its_own_company(world, clock):
    customer_id = company(world)
    own_a, own_b = world.line(world.contract(customer_id)), world.line(world.contract(customer_id))
    someone_elses = world.line()  # a line of another customer, slipped into the invitation
    token = invite(customer_id, clock, email="taro@example.jp", role="user",
                   line_ids=(own_a.id, someone_elses.id, 999999))

    customer_auth.accept_invitation(token, password=PASSWORD)

    with read_session() as session:
        user = session.exec(select(CustomerUser)).one()
        lines = session.exec(select(CustomerUserLine.line_id).where(CustomerUserLine.customer_user_id == user.id)).all()
    assert user.role == "user" and not user.can_view_bills and not user.can_request
    assert lines == [own_a.id]
    assert own_b.id not in lines and someone_elses.id not in lines
    assert json.loads(audit_entries("auth.accept_invitation")[0].after_json)["line_ids"] == [own_a.id]


def test_an_administrator_invitation_gets_no_line_rows_it_sees_every_line(world, clock):
    customer_id = company(world)
    line = world.line(world.contract(customer_id))
    customer_auth.accept_invitation(invite(customer_id, clock, line_ids=(line.id,)), password=PASSWORD)
    with read_session() as session:
        assert session.exec(select(func.count()).select_from(CustomerUserLine)).one() == 0


# --- password rules --------------------------------------------------------------------------

@pytest.mark.parametrize(("password", "email", "problem"), [
    ("short1", "", "10文字以上"),
    ("x" * 129, "", "128文字以内"),
    ("password123", "", "よく使われている"),
    ("PassWord123", "", "よく使われている"),  # case does not matter
    ("qwertyuiop", "", "よく使われている"),
    ("yamada.taro@example.jp", "Yamada.Taro@example.jp", "メールアドレスと同じ"),
])
def test_passwords_that_are_short_long_common_or_the_address_are_refused(password, email, problem):
    problems = customer_auth.password_problems(password, email=email)
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("password", [
    PASSWORD,
    "あおいそらとしろいくも",  # Japanese, 11 characters
    "abcdefghij" * 12 + "abcdefgh",  # exactly 128
    "alllowercasenodigits",  # no composition rules
])
def test_long_passphrases_are_accepted_without_composition_rules(password):
    assert customer_auth.password_problems(password, email="hanako@example.jp") == []


def test_a_bad_password_refuses_the_invitation_and_leaves_it_open(world, clock):
    token = invite(company(world), clock)
    with pytest.raises(ValidationFailed) as err:
        customer_auth.accept_invitation(token, password="password123")
    assert "よく使われている" in err.value.fields["password"]
    assert customer_auth.invitation(token)["name"] == "佐藤 花子"
    assert customer_auth.accept_invitation(token, password=PASSWORD).stage == "enroll"


# --- signing in ------------------------------------------------------------------------------

def test_sign_in_with_password_and_totp_opens_a_session(member, clock):
    _, user_id, secret, _ = member
    token = sign_in("  HANAKO@example.jp ", secret, clock)
    assert customer_auth.resolve_session(token).id == user_id
    with read_session() as session:
        stored = session.exec(select(CustomerSession)).one()
    assert stored.token_hash == sha256(token) and token not in stored.token_hash


def test_the_same_totp_code_is_refused_the_second_time(member, clock):
    _, _, secret, _ = member
    sign_in("hanako@example.jp", secret, clock)

    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    with pytest.raises(customer_auth.AuthenticationFailed) as replay:
        customer_auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))
    assert replay.value.message == customer_auth.CODE_INVALID

    clock.advance(seconds=30)
    assert customer_auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))


def test_a_recovery_code_signs_in_once_only(member, clock):
    _, user_id, _, codes = member
    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    typed = codes[3].upper().replace("-", " ")  # as someone might type it
    ticket = customer_auth.verify_mfa(step.challenge_token, typed)
    assert customer_auth.resolve_session(customer_auth.redeem_ticket(ticket)).id == user_id

    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    with pytest.raises(customer_auth.AuthenticationFailed):
        customer_auth.verify_mfa(step.challenge_token, codes[3])
    used = audit_entries("auth.recovery_code_use")
    assert len(used) == 1 and used[0].actor_kind == "customer"
    assert json.loads(used[0].after_json)["remaining_codes"] == 9


def test_wrong_password_unknown_address_and_disabled_person_get_one_message(member, clock):
    _, user_id, _, _ = member
    with write_session() as session:
        session.add(CustomerUser(customer_id=member[0], email="gone@example.jp", name="退職 済",
                                 password_hash=customer_auth._password_hash.hash(PASSWORD), is_active=False,
                                 disabled_at=clock.now))
    messages = set()
    for email, password in (("hanako@example.jp", "not the password"), ("nobody@example.jp", PASSWORD),
                            ("gone@example.jp", PASSWORD), ("", "")):
        with pytest.raises(customer_auth.AuthenticationFailed) as err:
            customer_auth.begin_sign_in(email, password)
        assert not isinstance(err.value, customer_auth.AccountLocked)
        messages.add(err.value.message)
    assert messages == {credentials.SIGN_IN_FAILED}


def test_an_address_is_locked_after_repeated_failures_with_a_message_saying_until_when(member, clock, caplog):
    _, _, secret, _ = member
    for _ in range(settings.sign_in_max_failures - 1):
        with pytest.raises(customer_auth.AuthenticationFailed) as err:
            customer_auth.begin_sign_in("hanako@example.jp", "wrong password", client_ip=OFFICE_IP)
        assert not isinstance(err.value, customer_auth.AccountLocked)
    with pytest.raises(customer_auth.AccountLocked) as last:  # the failure that reaches the limit says so
        customer_auth.begin_sign_in("hanako@example.jp", "wrong password", client_ip=OFFICE_IP)
    with pytest.raises(customer_auth.AccountLocked) as locked:  # even the right password now
        customer_auth.begin_sign_in("hanako@example.jp", PASSWORD, client_ip=OFFICE_IP)

    # the failures were at 09:05:10 Tokyo time; the lock ends 15 minutes later, shown rounded up to the minute
    assert last.value.message == locked.value.message
    assert "ログインの失敗が続いた" in locked.value.message
    assert "2026/04/01 09:21 以降にもう一度お試しください" in locked.value.message
    assert "customer sign-in locked" in caplog.text and "hanako" not in caplog.text

    clock.advance(minutes=settings.sign_in_window_minutes, seconds=1)
    assert sign_in("hanako@example.jp", secret, clock)


def test_an_unknown_address_locks_the_same_way_so_locking_reveals_nothing(engine, clock):
    for _ in range(settings.sign_in_max_failures - 1):
        with pytest.raises(customer_auth.AuthenticationFailed):
            customer_auth.begin_sign_in("nobody@example.jp", "wrong password")
    with pytest.raises(customer_auth.AccountLocked):
        customer_auth.begin_sign_in("nobody@example.jp", "wrong password")


def test_wrong_codes_count_toward_the_lock_and_end_the_sign_in(member, clock):
    _, _, secret, _ = member
    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    for _ in range(settings.sign_in_max_failures - 1):
        with pytest.raises(customer_auth.AuthenticationFailed) as err:
            customer_auth.verify_mfa(step.challenge_token, "000000")
        assert err.value.message == customer_auth.CODE_INVALID
    with pytest.raises(customer_auth.AccountLocked):
        customer_auth.verify_mfa(step.challenge_token, "000000")
    with pytest.raises(customer_auth.AuthenticationFailed):  # the step is dead, even with the right code
        customer_auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))


def test_customer_and_staff_throttles_never_mix(member, admin, clock):
    staff_admin.create_staff_user(actor=admin, email="hanako@example.jp", display_name="佐藤 花子", role="support",
                                  password=PASSWORD)
    for _ in range(settings.sign_in_max_failures):
        with pytest.raises(customer_auth.AuthenticationFailed):
            customer_auth.begin_sign_in("hanako@example.jp", "wrong password")
    with pytest.raises(customer_auth.AccountLocked):
        customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)

    assert auth.begin_sign_in("hanako@example.jp", PASSWORD).stage == "enroll"  # the staff account is not locked
    with read_session() as session:
        keys = set(session.exec(select(SignInAttempt.login_key)).all())
    assert keys == {"my:hanako@example.jp", "hanako@example.jp"}


def test_one_network_trying_many_addresses_is_refused_with_a_message_and_staff_from_it_are_not(member, admin, clock):
    _, _, secret, _ = member
    staff_admin.create_staff_user(actor=admin, email="tanaka@example.jp", display_name="田中 一郎", role="support",
                                  password=PASSWORD)
    for n in range(settings.sign_in_max_failures_per_network):  # each address once: no lock per address
        with pytest.raises(customer_auth.AuthenticationFailed) as err:
            customer_auth.begin_sign_in(f"guess{n}@example.jp", "wrong password", client_ip="198.51.100.7")
        assert not isinstance(err.value, customer_auth.NetworkThrottled)

    with pytest.raises(customer_auth.NetworkThrottled) as refused:
        customer_auth.begin_sign_in("hanako@example.jp", PASSWORD, client_ip="198.51.100.7")
    assert "このネットワークからのログインの失敗が続いたため" in refused.value.message
    assert f"{settings.sign_in_window_minutes}分" in refused.value.message
    assert [e.actor_kind for e in audit_entries("auth.network_throttled")] == ["system"]

    assert sign_in("hanako@example.jp", secret, clock, client_ip="192.0.2.44")  # another network
    assert auth.begin_sign_in("tanaka@example.jp", PASSWORD, client_ip="198.51.100.7").stage == "enroll"
    clock.advance(minutes=settings.sign_in_window_minutes, seconds=1)
    assert customer_auth.begin_sign_in("hanako@example.jp", PASSWORD, client_ip="198.51.100.7").stage == "mfa"


def test_a_ticket_works_once_and_for_a_minute_only(member, clock):
    _, _, secret, _ = member
    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    ticket = customer_auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))
    customer_auth.redeem_ticket(ticket)
    with pytest.raises(customer_auth.AuthenticationFailed):
        customer_auth.redeem_ticket(ticket)

    clock.advance(seconds=30)
    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    late = customer_auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))
    clock.advance(seconds=61)
    with pytest.raises(customer_auth.AuthenticationFailed):
        customer_auth.redeem_ticket(late)


# --- sessions --------------------------------------------------------------------------------

def test_a_staff_session_never_resolves_as_a_customer_and_a_customer_session_never_as_staff(member, admin, clock):
    _, _, secret, _ = member
    customer_token = sign_in("hanako@example.jp", secret, clock)
    staff_admin.create_staff_user(actor=admin, email="tanaka@example.jp", display_name="田中 一郎", role="admin",
                                  password=PASSWORD)
    step = auth.begin_sign_in("tanaka@example.jp", PASSWORD)
    enrollment = auth.start_enrollment(step.challenge_token)
    staff_token = auth.redeem_ticket(auth.complete_enrollment(
        step.challenge_token, totp_code(enrollment.secret, clock.now)).ticket)

    assert auth.resolve_session(staff_token).kind == "staff"
    assert customer_auth.resolve_session(customer_token).kind == "customer"
    with pytest.raises(NotAuthenticated):
        customer_auth.resolve_session(staff_token)
    with pytest.raises(NotAuthenticated):
        auth.resolve_session(customer_token)
    customer_auth.sign_out(staff_token)  # a staff token means nothing to the customers' sign-out
    assert auth.resolve_session(staff_token).kind == "staff"


def test_a_customer_ticket_or_challenge_is_nothing_to_staff_sign_in(member, clock):
    _, _, secret, _ = member
    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    with pytest.raises(auth.AuthenticationFailed):
        auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))
    ticket = customer_auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))
    with pytest.raises(auth.AuthenticationFailed):
        auth.redeem_ticket(ticket)


def test_a_session_ends_when_idle_and_at_its_absolute_limit_however_busy(member, clock):
    _, _, secret, _ = member
    idle = sign_in("hanako@example.jp", secret, clock)
    clock.advance(minutes=settings.customer_session_idle_minutes, seconds=1)
    with pytest.raises(NotAuthenticated):
        customer_auth.resolve_session(idle)

    busy = sign_in("hanako@example.jp", secret, clock)
    started = clock.now
    while clock.now + timedelta(minutes=50) < started + timedelta(hours=settings.customer_session_absolute_hours):
        clock.advance(minutes=50)  # each use slides the idle limit
        customer_auth.resolve_session(busy)
    clock.now = started + timedelta(hours=settings.customer_session_absolute_hours)
    with pytest.raises(NotAuthenticated):
        customer_auth.resolve_session(busy)


def test_sign_out_ends_the_session_once_and_is_audited(member, clock):
    _, user_id, secret, _ = member
    token = sign_in("hanako@example.jp", secret, clock)
    customer_auth.sign_out(token)
    customer_auth.sign_out(token)
    customer_auth.sign_out(None)
    with pytest.raises(NotAuthenticated):
        customer_auth.resolve_session(token)
    entries = audit_entries("auth.sign_out")
    assert [(e.actor_kind, e.actor_id, e.entity_type) for e in entries] == [("customer", user_id, "customer_session")]
    assert "token_hash" not in entries[0].after_json


def test_a_disabled_person_is_signed_out_everywhere(member, clock):
    _, user_id, secret, _ = member
    token = sign_in("hanako@example.jp", secret, clock)
    with write_session() as session:
        user = session.get(CustomerUser, user_id)
        user.is_active, user.disabled_at = False, clock.now
        session.add(user)
    with pytest.raises(NotAuthenticated):
        customer_auth.resolve_session(token)


def test_a_customer_user_signs_in_as_a_customer_user_of_its_company(world, clock):
    customer_id = company(world)
    user_id, secret, _ = join(customer_id, clock, email="taro@example.jp", name="利用 太郎", role="user")
    actor = customer_auth.resolve_session(sign_in("taro@example.jp", secret, clock))
    assert (actor.id, actor.role, actor.customer_id, actor.label) == (
        user_id, Role.CUSTOMER_USER, customer_id, "利用 太郎 <taro@example.jp>")


# --- devices ---------------------------------------------------------------------------------

def test_devices_list_marks_this_one_and_signing_out_the_others_keeps_it(member, clock):
    _, user_id, secret, _ = member
    phone = sign_in("hanako@example.jp", secret, clock, client_ip="192.0.2.1", user_agent="iPhone Safari")
    clock.advance(seconds=30)
    laptop = sign_in("hanako@example.jp", secret, clock, client_ip="192.0.2.2", user_agent="Windows Edge")
    clock.advance(minutes=2)
    me = customer_auth.resolve_session(laptop)

    devices = customer_auth.signed_in_devices(actor=me)
    assert [(d["user_agent"], d["client_ip"], d["current"]) for d in devices] == [
        ("Windows Edge", "192.0.2.2", True), ("iPhone Safari", "192.0.2.1", False)]
    assert devices[0]["created_at"] == "2026/04/01 09:05" and devices[0]["last_seen_at"] == "2026/04/01 09:07"

    assert customer_auth.sign_out_other_devices(actor=me) == 1
    with pytest.raises(NotAuthenticated):
        customer_auth.resolve_session(phone)
    assert customer_auth.resolve_session(laptop).id == user_id
    assert [d["current"] for d in customer_auth.signed_in_devices(actor=me)] == [True]
    assert customer_auth.sign_out_other_devices(actor=me) == 0
    entries = audit_entries("auth.sign_out_others")
    assert [(e.actor_kind, e.actor_id, e.entity_type, e.entity_id) for e in entries] == [
        ("customer", user_id, "customer_user", user_id)]
    assert json.loads(entries[0].after_json)["kept_session_id"] == me.session_id


def test_devices_are_the_customers_own_business(member, admin, nobody):
    for actor in (admin, nobody):
        with pytest.raises(PermissionDenied):
            customer_auth.signed_in_devices(actor=actor)
        with pytest.raises(PermissionDenied):
            customer_auth.sign_out_other_devices(actor=actor)


# --- password reset --------------------------------------------------------------------------

def reset_link_token(payload: dict) -> str:
    match = re.search(r"/go/password_reset/([A-Za-z0-9_\-]+)", payload["text"])
    assert match, payload["text"]
    return match.group(1)


def test_a_reset_request_says_the_same_and_queues_nothing_for_an_unknown_address(member, clock):
    known = customer_auth.request_password_reset("hanako@example.jp", client_ip=OFFICE_IP)
    unknown = customer_auth.request_password_reset("nobody@example.jp", client_ip=OFFICE_IP)
    assert known == unknown == customer_auth.RESET_REQUESTED
    sent = mails()
    assert [m["to"] for m in sent] == ["hanako@example.jp"]
    with read_session() as session:
        assert session.exec(select(func.count()).select_from(CustomerPasswordReset)).one() == 1


def test_the_reset_mail_goes_to_the_person_with_a_one_hour_link(member, clock):
    customer_id, user_id, _, _ = member
    customer_auth.request_password_reset("Hanako@Example.jp")
    (payload,) = mails()
    token = reset_link_token(payload)
    assert payload["to"] == "hanako@example.jp" and payload["subject"] == customer_auth.RESET_MAIL_SUBJECT
    assert f"{settings.app_url.rstrip('/')}/go/password_reset/{token}" in payload["text"]
    with read_session() as session:
        reset = session.exec(select(CustomerPasswordReset)).one()
        op = session.exec(select(ExternalOperation)).one()
    assert reset.token_hash == sha256(token) and reset.expires_at == clock.now + timedelta(hours=1)
    assert (op.operation, op.customer_id) == ("mail", customer_id)
    (entry,) = audit_entries("auth.password_reset_request")
    assert entry.entity_type == "customer_password_reset" and token not in entry.after_json

    clock.advance(hours=1)
    with pytest.raises(NotFound) as expired:
        customer_auth.reset_password(token, NEW_PASSWORD)
    assert expired.value.message == customer_auth.RESET_LINK_INVALID


def test_reset_sets_the_password_signs_out_every_device_and_works_once(member, clock):
    _, user_id, secret, _ = member
    first = sign_in("hanako@example.jp", secret, clock)
    clock.advance(seconds=30)
    second = sign_in("hanako@example.jp", secret, clock)
    customer_auth.request_password_reset("hanako@example.jp")
    token = reset_link_token(mails()[0])

    with pytest.raises(ValidationFailed):
        customer_auth.reset_password(token, "hanako@example.jp")
    customer_auth.reset_password(token, NEW_PASSWORD)

    for old in (first, second):
        with pytest.raises(NotAuthenticated):
            customer_auth.resolve_session(old)
    with pytest.raises(NotFound):
        customer_auth.reset_password(token, "another fine passphrase")
    with pytest.raises(customer_auth.AuthenticationFailed):
        customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    assert customer_auth.begin_sign_in("hanako@example.jp", NEW_PASSWORD).stage == "mfa"  # the authenticator stays
    (entry,) = audit_entries("auth.password_reset")
    assert (entry.actor_kind, entry.actor_id, entry.entity_type) == ("customer", user_id, "customer_user")
    assert json.loads(entry.after_json)["sessions_ended"] == 2 and "password_hash" not in entry.after_json


def test_reset_mails_are_limited_per_address_and_a_busy_network_is_told_to_wait(member, clock):
    for _ in range(customer_auth.RESET_MAX_PER_ADDRESS + 2):
        assert customer_auth.request_password_reset("hanako@example.jp") == customer_auth.RESET_REQUESTED
    assert len(mails()) == customer_auth.RESET_MAX_PER_ADDRESS

    for n in range(customer_auth.RESET_MAX_PER_NETWORK):
        customer_auth.request_password_reset(f"guess{n}@example.jp", client_ip="198.51.100.8")
    with pytest.raises(DomainError) as refused:
        customer_auth.request_password_reset("hanako@example.jp", client_ip="198.51.100.8")
    assert "パスワード再設定のお申し込みが続いた" in refused.value.message
    assert f"{settings.sign_in_window_minutes}分" in refused.value.message


# --- the audit contract of the customers' changes --------------------------------------------

def _enrolment(world, clock):
    step = customer_auth.accept_invitation(invite(company(world), clock), password=PASSWORD)
    secret = customer_auth.start_enrollment(step.challenge_token).secret
    return lambda: customer_auth.complete_enrollment(step.challenge_token, totp_code(secret, clock.now))


def _recovery(world, clock):
    _, _, codes = join(company(world), clock)
    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    return lambda: customer_auth.verify_mfa(step.challenge_token, codes[0])


def _redeem(world, clock):
    _, secret, _ = join(company(world), clock)
    step = customer_auth.begin_sign_in("hanako@example.jp", PASSWORD)
    ticket = customer_auth.verify_mfa(step.challenge_token, totp_code(secret, clock.now))
    return lambda: customer_auth.redeem_ticket(ticket, user_agent="Firefox")


def _signed_in(world, clock) -> str:
    _, secret, _ = join(company(world), clock)
    return sign_in("hanako@example.jp", secret, clock)


def _other_devices(world, clock):
    _, secret, _ = join(company(world), clock)
    sign_in("hanako@example.jp", secret, clock)
    clock.advance(seconds=30)
    me = customer_auth.resolve_session(sign_in("hanako@example.jp", secret, clock))
    return lambda: customer_auth.sign_out_other_devices(actor=me)


def _reset(world, clock):
    join(company(world), clock)
    customer_auth.request_password_reset("hanako@example.jp")
    token = reset_link_token(mails()[0])
    return lambda: customer_auth.reset_password(token, NEW_PASSWORD)


def _reset_request(world, clock):
    join(company(world), clock)
    return lambda: customer_auth.request_password_reset("hanako@example.jp")


def _accept(world, clock):
    token = invite(company(world), clock)
    return lambda: customer_auth.accept_invitation(token, password=PASSWORD)


def _sign_out(world, clock):
    token = _signed_in(world, clock)
    return lambda: customer_auth.sign_out(token)


CHANGES = {  # every change of customer_auth -> (how to make one, the audit action it writes)
    "accept_invitation": (_accept, "auth.accept_invitation"),
    "complete_enrollment": (_enrolment, "auth.mfa_enroll"),
    "verify_mfa (recovery code)": (_recovery, "auth.recovery_code_use"),
    "redeem_ticket": (_redeem, "auth.sign_in"),
    "sign_out": (_sign_out, "auth.sign_out"),
    "sign_out_other_devices": (_other_devices, "auth.sign_out_others"),
    "request_password_reset": (_reset_request, "auth.password_reset_request"),
    "reset_password": (_reset, "auth.password_reset"),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_each_customer_change_writes_exactly_one_audit_entry(name, world, clock):
    prepare, action = CHANGES[name]
    call = prepare(world, clock)
    before = all_audit_ids()
    call()
    new = [e for e in audit_entries(action) if e.id not in before]
    assert len(all_audit_ids() - before) == 1 and len(new) == 1


def ledger_contents(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
                for table in SQLModel.metadata.sorted_tables}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_failure_after_the_audit_entry_leaves_nothing_written(name, world, clock, engine, monkeypatch):
    call = CHANGES[name][0](world, clock)
    real_record = services.platform.audit.record

    def failing_record(*args, **kwargs):
        real_record(*args, **kwargs)
        raise RuntimeError("simulated failure after the audit entry was written")

    monkeypatch.setattr(customer_auth, "record", failing_record)
    before = ledger_contents(engine)
    with pytest.raises(RuntimeError, match="simulated failure"):
        call()
    assert ledger_contents(engine) == before


# --- demo ------------------------------------------------------------------------------------

def test_a_demo_customer_user_is_enrolled_with_the_given_secret_and_provisioned_once(world, clock):
    customer_id = company(world)
    secret = pyotp.random_base32()
    first = customer_auth.provision_demo_customer_user(customer_id, "demo@customer.example", "デモ 管理者",
                                                       "customer_admin", PASSWORD, secret)
    again = customer_auth.provision_demo_customer_user(customer_id, "demo@customer.example", "デモ 管理者",
                                                       "customer_admin", PASSWORD, secret)
    assert first.id == again.id
    assert [(e.actor_kind, e.entity_type) for e in audit_entries("customer_user.create")] == [
        ("system", "customer_user")]
    assert customer_auth.resolve_session(sign_in("demo@customer.example", secret, clock)).role == Role.CUSTOMER_ADMIN
