"""Per-installation secrets: generated once, owner-only, never a published default; webhooks need them."""

from __future__ import annotations

import json
import stat

import pytest

from services.integrations.http import sign
from services.platform import installation_secrets
from services.platform.installation_secrets import InsecureConfiguration
from services.workflow import webhooks


@pytest.fixture()
def secrets_path(tmp_path, monkeypatch):
    path = tmp_path / "data" / "secrets.json"
    monkeypatch.setenv("TELECOM_SECRETS_FILE", str(path))
    for name in installation_secrets.SECRET_NAMES:
        monkeypatch.delenv(installation_secrets.env_name(name), raising=False)
    installation_secrets.reload()
    yield path
    installation_secrets.reload()


def test_first_start_generates_every_secret_in_an_owner_only_file(secrets_path):
    created = installation_secrets.ensure()

    assert created == list(installation_secrets.SECRET_NAMES)
    assert stat.S_IMODE(secrets_path.stat().st_mode) == 0o600
    stored = json.loads(secrets_path.read_text())
    assert len(set(stored.values())) == len(installation_secrets.SECRET_NAMES)  # one secret per provider
    assert all(len(value) >= installation_secrets.MIN_LENGTH for value in stored.values())
    installation_secrets.require_all()  # nothing to complain about


def test_a_second_start_keeps_the_secrets_the_sandbox_already_uses(secrets_path):
    installation_secrets.ensure()
    first = json.loads(secrets_path.read_text())

    assert installation_secrets.ensure() == []
    assert json.loads(secrets_path.read_text()) == first


def test_two_installations_never_share_a_secret(tmp_path):
    installation_secrets.ensure(tmp_path / "a.json")
    installation_secrets.ensure(tmp_path / "b.json")

    a, b = (json.loads((tmp_path / name).read_text()) for name in ("a.json", "b.json"))
    assert not set(a.values()) & set(b.values())


def test_start_is_refused_naming_each_missing_secret(secrets_path):
    with pytest.raises(InsecureConfiguration) as refused:
        installation_secrets.require_all()

    for name in installation_secrets.SECRET_NAMES:
        assert installation_secrets.env_name(name) in str(refused.value)
    assert "TELECOM_WEBHOOK_SECRET_CARRIER" in str(refused.value)


def test_start_is_refused_for_the_old_published_default_and_for_a_short_secret(secrets_path, monkeypatch):
    installation_secrets.ensure()
    monkeypatch.setenv("TELECOM_WEBHOOK_SECRET_PAYMENT", "sandbox-dev-webhook-secret")
    monkeypatch.setenv("TELECOM_LINE_CHANNEL_TOKEN", "short-token")

    found = installation_secrets.problems()

    assert len(found) == 2
    assert "TELECOM_WEBHOOK_SECRET_PAYMENT" in found[0] and "既定値" in found[0]
    assert "TELECOM_LINE_CHANNEL_TOKEN" in found[1] and "短すぎます" in found[1]


def test_an_environment_variable_overrides_the_file(secrets_path, monkeypatch):
    installation_secrets.ensure()
    monkeypatch.setenv("TELECOM_WEBHOOK_SECRET_BANK", "b" * 40)

    assert installation_secrets.webhook_secret("bank") == "b" * 40
    assert installation_secrets.webhook_secret("carrier") == json.loads(secrets_path.read_text())["webhook_carrier"]


def test_a_webhook_signed_with_another_providers_secret_or_the_old_default_is_refused(engine, monkeypatch):
    monkeypatch.setattr(webhooks, "_enqueue", lambda row_id: None)
    body = json.dumps({"id": "evt_forged", "type": "line.operation.completed", "data": {}}).encode()

    assert webhooks.accept("carrier", body, sign(body, "sandbox-dev-webhook-secret"))[0] == 401
    assert webhooks.accept("carrier", body, sign(body, installation_secrets.webhook_secret("payment")))[0] == 401
    assert webhooks.accept("carrier", body, sign(body, ""))[0] == 401
    assert webhooks.accept("carrier", body, sign(body, installation_secrets.webhook_secret("carrier")))[0] == 200
