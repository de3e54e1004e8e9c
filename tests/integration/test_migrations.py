"""Migrations build the same schema as the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import services.models  # noqa: F401
from alembic import command
from services.platform.config import PROJECT_ROOT
from services.platform.db import make_engine


def _upgrade(url: str) -> None:
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def _differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(ctx, SQLModel.metadata)
    finally:
        engine.dispose()


def _assert_schema_matches(url: str) -> None:
    _upgrade(url)
    assert _differences(url) == []
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(SQLModel.metadata.tables) <= tables


def test_upgrade_head_on_fresh_sqlite_matches_models(tmp_path):
    _assert_schema_matches(f"sqlite:///{tmp_path / 'fresh.db'}")


@pytest.mark.integration
def test_upgrade_head_on_fresh_postgresql_matches_models(postgres_url):
    _assert_schema_matches(postgres_url)


@pytest.mark.integration
def test_postgresql_enforces_unique_msisdn_and_status_checks(postgres_url):
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    _upgrade(postgres_url)
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO customer (kind, name, name_kana, kyc_status, created_at, updated_at) "
                              "VALUES ('individual', '山田', 'ヤマダ', 'not_started', now(), now())"))
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("INSERT INTO customer (kind, name, name_kana, kyc_status, created_at, updated_at) "
                              "VALUES ('alien', '山田', 'ヤマダ', 'not_started', now(), now())"))
    finally:
        engine.dispose()
