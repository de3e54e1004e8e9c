"""Real servers on loopback for integration tests: PostgreSQL, Redis, and the sandbox providers a module names."""

from __future__ import annotations

import os

import pytest

from sandbox.testing import SandboxProcess, WebhookReceiver
from tests.stack import PostgresServer, RedisServer, ServerError, free_port


def _started(server_class):
    """Start a throwaway server for the session; a missing install fails the test with its reason."""
    try:
        server = server_class().start()
    except ServerError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """PostgreSQL 15 on a free loopback port for this test session."""
    yield from _started(PostgresServer)


@pytest.fixture()
def postgres_url(postgres_server):
    """A new empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"t_{os.getpid()}_{free_port()}")


@pytest.fixture(scope="session")
def redis_server():
    """A throwaway Redis server (no persistence) on a free loopback port for this session."""
    yield from _started(RedisServer)


@pytest.fixture(scope="session")
def redis_url(redis_server):
    """The session Redis server's broker URL."""
    return redis_server.url


@pytest.fixture(scope="module")
def receiver():
    """A webhook receiver for the module's sandbox."""
    with WebhookReceiver() as r:
        yield r


@pytest.fixture(scope="module")
def sandbox(request, receiver):
    """The sandbox providers the test module names in PROVIDERS, signing webhooks with its SECRET."""
    with SandboxProcess(only=list(request.module.PROVIDERS), webhook_base=receiver.url("/hooks"),
                        env={"SANDBOX_WEBHOOK_SECRET": request.module.SECRET}) as s:
        yield s
