"""Shared fixtures: a migrated registry on SQLite and on PostgreSQL for every database test.

Every test that takes `engine` runs twice, once per database. SQLite tests get a copy of a
migrated template file; PostgreSQL tests share one database created (and dropped) by this test
session, emptied after each test. Set MASREG_REQUIRE_PG=1 (CI does) to fail rather than skip when
PostgreSQL is not answering.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from registry import migrate
from registry.db import Base, make_engine

PG_ADMIN_URL = os.environ.get("MASREG_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parent.parent
# The shared sample data (HL7 examples, Synthea): beside the repository, or where
# MASREG_SHARED_DATA says; tests that need it skip when it is absent.
SHARED_DATA = Path(
    os.environ.get("MASREG_SHARED_DATA")
    or next(
        (
            str(p)
            for p in (REPO.parent / "shared" / "data", Path("/work/shared/data"))
            if p.is_dir()
        ),
        str(REPO.parent / "shared" / "data"),
    )
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite registry migrated to head, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "registry.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


def _pg_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database created for this session, migrated to head, dropped at the end."""
    if not _pg_available():
        if os.environ.get("MASREG_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL is required but not answering at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432")
    name = f"masreg_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_pg(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated registry on each database."""
    if request.param == "sqlite":
        path = tmp_path / "registry.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_url")
    yield url
    engine = make_engine(url)
    if migrate.current_revision(engine) != migrate.head_revision():
        migrate.upgrade(engine)  # a test that migrated down leaves the schema for the next
    _empty_pg(engine)
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on an empty, migrated registry (SQLite and PostgreSQL)."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()
