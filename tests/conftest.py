"""Shared fixtures: a fresh SQLite ledger per test and actors of every role."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlmodel import SQLModel

import services.models  # noqa: F401  (registers every table)
import services.registry  # noqa: F401  (providers, handlers and report sources, as the app and the worker have them)
from services.platform import installation_secrets
from services.platform.db import make_engine, use_engine
from services.platform.permissions import Actor, Role


def pytest_configure(config):
    """The test run and every server it starts share secrets of their own, never data/secrets.json."""
    path = Path(tempfile.mkdtemp(prefix="tsm-secrets-")) / "secrets.json"
    os.environ["TELECOM_SECRETS_FILE"] = str(path)
    installation_secrets.ensure(path)


@pytest.fixture(autouse=True, scope="session")
def encryption_keys(tmp_path_factory):
    """Tests encrypt with a throwaway key file, never the developer's data/encryption.keys."""
    from services.platform import crypto

    os.environ["TELECOM_KEY_FILE"] = str(tmp_path_factory.mktemp("keys") / "encryption.keys")
    crypto.reload_keys()
    yield
    crypto.reload_keys()


@pytest.fixture()
def engine(tmp_path):
    """A new file-backed SQLite ledger (WAL, foreign keys on), used by every service call."""
    eng = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    SQLModel.metadata.create_all(eng)
    use_engine(eng)
    yield eng
    use_engine(None)
    eng.dispose()


def make_actor(role: Role | None, actor_id: int | None = None, label: str | None = None) -> Actor:
    """A staff actor of `role` (None = a signed-in person with no role at all)."""
    return Actor(kind="staff", id=actor_id, role=role, label=label or f"{role or 'nobody'}@test",
                 request_id=uuid.uuid4().hex)


@pytest.fixture()
def admin() -> Actor:
    return make_actor(Role.ADMIN, None, "admin@test")


@pytest.fixture()
def sales() -> Actor:
    return make_actor(Role.SALES, None, "sales@test")


@pytest.fixture()
def support() -> Actor:
    return make_actor(Role.SUPPORT, None, "support@test")


@pytest.fixture()
def accounting() -> Actor:
    return make_actor(Role.ACCOUNTING, None, "accounting@test")


@pytest.fixture()
def nobody() -> Actor:
    return make_actor(None, None, "nobody@test")
