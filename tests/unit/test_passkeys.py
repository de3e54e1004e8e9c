"""Customer passkeys (services.security.passkeys): a real WebAuthn registration and sign-in with a software
authenticator (EC P-256, attestation "none") verified by the webauthn library, never mocked."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlmodel import SQLModel, select

from services.models import AuditEntry, CustomerPasskey, CustomerWebAuthnChallenge, SignInAttempt
from services.platform.config import settings
from services.platform.db import read_session
from services.platform.errors import DomainError, NotFound, PermissionDenied
from services.security import customer_auth, passkeys
from services.security.credentials import AuthenticationFailed
from tests.unit import customer_builders as people
from tests.unit.conftest import FakeClock
from tests.unit.webauthn_authenticator import SoftwareAuthenticator

PHONE_IP = "198.51.100.7"


@pytest.fixture()
def clock(clock, monkeypatch) -> FakeClock:
    """One moving clock for passkeys and the customers' sign-in (tickets, sessions)."""
    monkeypatch.setattr(passkeys, "clock", clock)
    monkeypatch.setattr(customer_auth, "clock", clock)
    return clock


@pytest.fixture()
def person(world, clock):
    """A 法人管理者 of a company, signed in: their customer actor."""
    customer_id = world.customer(name="株式会社サンプル商事", kana="カブシキガイシャサンプルショウジ")
    return people.customer_actor(people.company_user(customer_id, "hanako@example.jp", role="customer_admin",
                                                     name="佐藤 花子"))


def origin() -> str:
    return passkeys.relying_party().origin


def registered(actor, phone: SoftwareAuthenticator | None = None, name: str = "iPhone") -> SoftwareAuthenticator:
    phone = phone or SoftwareAuthenticator()
    handle, options = passkeys.registration_options(actor=actor)
    passkeys.register(handle, phone.create(options, origin()), actor=actor, name=name)
    return phone


def passkey_row(phone: SoftwareAuthenticator) -> CustomerPasskey | None:
    with read_session() as session:
        return session.exec(select(CustomerPasskey).where(CustomerPasskey.credential_id == phone.id)).first()


def entries(action: str) -> list[AuditEntry]:
    with read_session() as session:
        return list(session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def ledger(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {t.name: sorted((tuple(r) for r in conn.execute(select(t))), key=repr)
                for t in SQLModel.metadata.sorted_tables}


def test_registered_passkey_alone_signs_the_person_in_through_the_usual_ticket(person, clock):
    phone = registered(person, name="  仕事用の  iPhone ")

    mine = passkeys.my_passkeys(actor=person)
    assert [(p["name"], p["transports"], p["last_used_at"]) for p in mine] == [("仕事用の iPhone", "internal,hybrid", "")]
    [entry] = entries("auth.passkey_register")
    assert (entry.actor_kind, entry.actor_id, entry.entity_type) == ("customer", person.id, "customer_passkey")

    clock.advance(minutes=1)
    handle, options = passkeys.sign_in_options()
    assert json.loads(options).get("allowCredentials", []) == []  # discoverable: the phone offers its passkeys
    assert json.loads(options)["userVerification"] == "required"
    ticket = passkeys.sign_in(handle, phone.get(options, origin()), client_ip=PHONE_IP)
    token = customer_auth.redeem_ticket(ticket, client_ip=PHONE_IP, user_agent="iPhone Safari")

    signed_in = customer_auth.resolve_session(token)
    assert (signed_in.kind, signed_in.id, signed_in.customer_id) == ("customer", person.id, person.customer_id)
    row = passkey_row(phone)
    assert row.sign_count == 1 and row.last_used_at is not None
    assert passkeys.my_passkeys(actor=person)[0]["last_used_at"] != ""
    with read_session() as session:
        attempts = session.exec(select(SignInAttempt)).all()
    assert [(a.login_key, a.succeeded) for a in attempts] == [(f"my:passkey:{phone.id[:32]}", True)]


def test_registration_options_name_the_operator_and_exclude_the_passkeys_already_there(person):
    phone = registered(person)

    _, options = passkeys.registration_options(actor=person)

    opts = json.loads(options)
    assert opts["rp"] == {"id": passkeys.relying_party().id, "name": "通信サービス管理"}
    assert opts["user"]["name"] == "hanako@example.jp" and opts["user"]["displayName"] == "佐藤 花子"
    assert [c["id"] for c in opts["excludeCredentials"]] == [phone.id]
    assert opts["authenticatorSelection"]["residentKey"] == "preferred"
    assert opts["authenticatorSelection"]["userVerification"] == "preferred"
    assert opts["attestation"] == "none"


def test_a_registration_challenge_is_used_once(person):
    phone = SoftwareAuthenticator()
    handle, options = passkeys.registration_options(actor=person)
    answer = phone.create(options, origin())
    passkeys.register(handle, answer, actor=person, name="iPhone")

    with pytest.raises(AuthenticationFailed, match="有効期限が切れたか、すでに使われました"):
        passkeys.register(handle, SoftwareAuthenticator().create(options, origin()), actor=person, name="iPad")
    assert len(passkeys.my_passkeys(actor=person)) == 1


def test_a_sign_in_answer_replayed_is_refused(person):
    phone = registered(person)
    handle, options = passkeys.sign_in_options()
    answer = phone.get(options, origin())
    passkeys.sign_in(handle, answer)

    with pytest.raises(AuthenticationFailed):
        passkeys.sign_in(handle, answer)


def test_an_answer_made_for_another_origin_is_refused(person):
    phone = SoftwareAuthenticator()
    handle, options = passkeys.registration_options(actor=person)
    with pytest.raises(DomainError, match="パスキーを登録できませんでした"):
        passkeys.register(handle, phone.create(options, "https://evil.example"), actor=person, name="iPhone")
    assert passkey_row(phone) is None and entries("auth.passkey_register") == []

    registered(person, phone)
    handle, options = passkeys.sign_in_options()
    with pytest.raises(AuthenticationFailed, match="パスキーでログインできませんでした"):
        passkeys.sign_in(handle, phone.get(options, "https://evil.example"))
    handle, options = passkeys.sign_in_options()
    with pytest.raises(AuthenticationFailed):  # the right origin but the other site's RP id
        passkeys.sign_in(handle, phone.get(options, origin(), rp_id="evil.example"))


def test_a_signature_counter_that_goes_back_is_refused_as_a_cloned_passkey(person):
    phone = registered(person)
    handle, options = passkeys.sign_in_options()
    passkeys.sign_in(handle, phone.get(options, origin(), sign_count=5))

    handle, options = passkeys.sign_in_options()
    with pytest.raises(AuthenticationFailed):
        passkeys.sign_in(handle, phone.get(options, origin(), sign_count=3))
    assert passkey_row(phone).sign_count == 5


def test_a_passkey_without_user_verification_does_not_sign_in(person):
    phone = registered(person)
    handle, options = passkeys.sign_in_options()
    with pytest.raises(AuthenticationFailed):
        passkeys.sign_in(handle, phone.get(options, origin(), user_verified=False))


def test_unknown_and_removed_passkeys_are_refused_in_japanese(person):
    handle, options = passkeys.sign_in_options()
    with pytest.raises(AuthenticationFailed, match="パスキーでログインできませんでした"):
        passkeys.sign_in(handle, SoftwareAuthenticator().get(options, origin()))

    phone = registered(person)
    passkeys.remove_passkey(passkey_row(phone).id, actor=person)
    assert passkeys.my_passkeys(actor=person) == []
    [entry] = entries("auth.passkey_remove")
    assert entry.actor_id == person.id
    handle, options = passkeys.sign_in_options()
    with pytest.raises(AuthenticationFailed, match="パスキーでログインできませんでした"):
        passkeys.sign_in(handle, phone.get(options, origin()))


def test_a_sign_in_challenge_expires_after_five_minutes(person, clock):
    phone = registered(person)
    handle, options = passkeys.sign_in_options()
    clock.advance(minutes=5, seconds=1)
    with pytest.raises(AuthenticationFailed, match="有効期限"):
        passkeys.sign_in(handle, phone.get(options, origin()))


def test_repeated_failures_lock_the_passkey_for_the_window(person, clock):
    phone = registered(person)
    for _ in range(settings.sign_in_max_failures):
        handle, options = passkeys.sign_in_options()
        with pytest.raises(AuthenticationFailed):
            passkeys.sign_in(handle, phone.get(options, "https://evil.example"))

    handle, options = passkeys.sign_in_options()
    with pytest.raises(customer_auth.AccountLocked):
        passkeys.sign_in(handle, phone.get(options, origin()))
    clock.advance(minutes=settings.sign_in_window_minutes, seconds=1)
    handle, options = passkeys.sign_in_options()
    assert passkeys.sign_in(handle, phone.get(options, origin()))


def test_removing_another_persons_passkey_is_not_found_and_writes_nothing(person, world, engine):
    other = people.customer_actor(people.company_user(person.customer_id, "taro@example.jp", name="鈴木 太郎"))
    phone = registered(other)
    passkey_id = passkey_row(phone).id
    before = ledger(engine)

    with pytest.raises(NotFound, match="パスキーが見つかりません"):
        passkeys.remove_passkey(passkey_id, actor=person)

    assert ledger(engine) == before
    assert len(passkeys.my_passkeys(actor=other)) == 1 and passkeys.my_passkeys(actor=person) == []


def test_only_a_signed_in_customer_registers_or_lists_passkeys(person, admin):
    with pytest.raises(PermissionDenied):
        passkeys.registration_options(actor=admin)
    with pytest.raises(PermissionDenied):
        passkeys.my_passkeys(actor=admin)
    handle, options = passkeys.registration_options(actor=person)
    with pytest.raises(PermissionDenied):
        passkeys.register(handle, SoftwareAuthenticator().create(options, origin()), actor=admin, name="x")


def test_someone_elses_registration_ceremony_cannot_be_finished(person):
    other = people.customer_actor(people.company_user(person.customer_id, "taro@example.jp", name="鈴木 太郎"))
    handle, options = passkeys.registration_options(actor=other)
    with pytest.raises(AuthenticationFailed):
        passkeys.register(handle, SoftwareAuthenticator().create(options, origin()), actor=person, name="iPhone")
    assert passkeys.my_passkeys(actor=person) == [] and passkeys.my_passkeys(actor=other) == []


def test_expired_ceremonies_are_cleared_when_new_ones_start(person, clock):
    passkeys.sign_in_options()
    clock.advance(minutes=6)
    passkeys.sign_in_options()
    with read_session() as session:
        assert len(session.exec(select(CustomerWebAuthnChallenge)).all()) == 1


def test_the_relying_party_follows_a_loopback_page_only_on_a_loopback_installation(monkeypatch):
    monkeypatch.setattr(passkeys, "settings", dataclasses.replace(settings, app_url="http://localhost:3000"))
    assert passkeys.relying_party() == passkeys.RelyingParty("localhost", "http://localhost:3000")
    assert passkeys.relying_party("http://127.0.0.1:41234") == passkeys.RelyingParty("127.0.0.1",
                                                                                      "http://127.0.0.1:41234")
    assert passkeys.relying_party("https://evil.example") == passkeys.RelyingParty("localhost",
                                                                                   "http://localhost:3000")

    monkeypatch.setattr(passkeys, "settings", dataclasses.replace(settings, app_url="https://my.telecom.example:443/"))
    expected = passkeys.RelyingParty("my.telecom.example", "https://my.telecom.example")
    assert passkeys.relying_party() == expected
    assert passkeys.relying_party("http://localhost:3000") == expected
    assert passkeys.relying_party("https://evil.example") == expected


def test_a_ceremony_lives_five_minutes():
    assert passkeys.CHALLENGE_LIFETIME == timedelta(minutes=5)
