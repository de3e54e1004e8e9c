"""Database engine and transactions.

SQLite runs in WAL mode with foreign keys on; a write transaction takes the write lock at
BEGIN (BEGIN IMMEDIATE) so concurrent writers queue instead of failing half-way.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from services.platform.config import settings


def make_engine(url: str) -> Engine:
    """Create an engine for `url` with the ledger's connection settings."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_engine_override: Engine | None = None


@lru_cache(maxsize=1)
def _default_engine() -> Engine:
    return make_engine(settings.database_url)


def get_engine() -> Engine:
    """The process-wide engine (tests may replace it with `use_engine`)."""
    return _engine_override or _default_engine()


def use_engine(engine: Engine | None) -> None:
    """Point the service layer at another engine (tests, benchmarks); None restores the default."""
    global _engine_override
    _engine_override = engine


_ambient: contextvars.ContextVar[Session | None] = contextvars.ContextVar("ambient_session", default=None)


@contextmanager
def write_session() -> Iterator[Session]:
    """One write transaction: commits if the block finishes, rolls back on any exception.

    Called inside another write_session (an approved operation executing inside its approval),
    it joins the outer transaction, so both commit or roll back together.
    """
    outer = _ambient.get()
    if outer is not None:
        yield outer
        outer.flush()
        return
    with get_engine().connect() as conn:
        conn = conn.execution_options(sqlite_immediate=True)
        with conn.begin():
            session = Session(bind=conn, expire_on_commit=False)
            token = _ambient.set(session)
            try:
                yield session
                session.flush()
            finally:
                _ambient.reset(token)
                session.close()


@contextmanager
def read_session() -> Iterator[Session]:
    """A read-only session for queries."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session
