"""Real servers on loopback for integration tests: a throwaway PostgreSQL cluster and Redis server."""

from __future__ import annotations

import os

import pytest

from tests.stack import PostgresServer, RedisServer, ServerError, free_port


@pytest.fixture(scope="session")
def postgres_server():
    """Start PostgreSQL 15 on a free loopback port for this test session; stop it afterwards."""
    try:
        server = PostgresServer().start()
    except ServerError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def postgres_url(postgres_server):
    """A new empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"t_{os.getpid()}_{free_port()}")


@pytest.fixture(scope="session")
def redis_server():
    """A throwaway Redis server (no persistence) on a free loopback port for this session."""
    try:
        server = RedisServer().start()
    except ServerError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server):
    """The session Redis server's broker URL."""
    return redis_server.url
