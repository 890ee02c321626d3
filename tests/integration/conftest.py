"""Integration fixtures: a SEKMET server with the cohort, a SMART key, reference registries.

The reference registries are built by `masreg import`; `other_db_url` is a second empty registry
of the same database kind.

The server runs as a subprocess on 127.0.0.1 for the whole session and is stopped by the
fixture's finalizer. Nothing here talks to any address but 127.0.0.1.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import create_engine, text

from registry import migrate
from registry.cli import main
from registry.db import make_engine
from tests.conftest import PG_ADMIN_URL, REPO
from tests.integration.compare import clinical_snapshot
from tests.integration.sekmet import Sekmet, read_ndjson

FIXTURES = REPO / "fixtures" / "nine_patients"
SITE = "site-a"
KID = "masreg-integration-key"


@pytest.fixture(scope="session")
def smart_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A fresh RS384 key: (private JWK file for masreg, public JWK for the server)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key))
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    for jwk in (private, public):
        jwk.update({"kid": KID, "alg": "RS384", "use": "sig"})
    path = tmp_path_factory.mktemp("keys") / "masreg.jwk"
    path.write_text(json.dumps(private), encoding="utf-8")
    return path, public


def start_server(directory: Path, public_jwk: dict[str, Any], resources: Any) -> Sekmet:
    server = Sekmet(directory, public_jwk)
    server.start()
    try:
        server.put_all(resources)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def fhir_server(
    tmp_path_factory: pytest.TempPathFactory, smart_key: tuple[Path, dict[str, Any]]
) -> Iterator[Sekmet]:
    """SEKMET with the nine-patient cohort, for the whole session."""
    server = start_server(tmp_path_factory.mktemp("sekmet"), smart_key[1], read_ndjson(FIXTURES))
    yield server
    server.stop()


@pytest.fixture
def make_server(tmp_path: Path, smart_key: tuple[Path, dict[str, Any]]) -> Iterator[Any]:
    """A factory of extra SEKMET servers (own data), stopped after the test."""
    started: list[Sekmet] = []

    def make(resources: list[dict[str, Any]]) -> Sekmet:
        directory = tmp_path / f"sekmet{len(started)}"
        directory.mkdir()
        server = start_server(directory, smart_key[1], resources)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def kind_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


@contextmanager
def scratch_registry(kind: str, directory: Path, template: Path) -> Iterator[str]:
    """An empty, migrated registry of a kind (SQLite file or PostgreSQL database), then gone."""
    if kind == "sqlite":
        path = directory / f"scratch-{uuid.uuid4().hex[:8]}.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    name = f"masreg_it_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def reference_snapshots() -> dict[str, Any]:
    """Clinical snapshots of `masreg import fixtures/nine_patients`, one per database kind."""
    return {}


@pytest.fixture
def reference_for(
    reference_snapshots: dict[str, Any], tmp_path: Path, sqlite_template: Path
) -> Callable[[str], dict[str, Any]]:
    """The clinical snapshot of `masreg import fixtures/nine_patients` on a URL's database kind.

    Built on first use per kind (a scratch registry), so tests skipped early never pay for it.
    """

    def build(url_of_kind: str) -> dict[str, Any]:
        kind = kind_of(url_of_kind)
        if kind not in reference_snapshots:
            with scratch_registry(kind, tmp_path, sqlite_template) as url:
                args = ["import", str(FIXTURES), "--db", url, "--site", SITE]
                result = CliRunner().invoke(main, args)
                assert result.exit_code == 0, result.output
                engine = make_engine(url)
                reference_snapshots[kind] = clinical_snapshot(engine)
                engine.dispose()
        return reference_snapshots[kind]  # type: ignore[no-any-return]

    return build


@pytest.fixture(scope="session")
def reference_report(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Any:
    """`masreg report --format json` of `masreg import fixtures/nine_patients` (SQLite)."""
    directory = tmp_path_factory.mktemp("report")
    with scratch_registry("sqlite", directory, sqlite_template) as url:
        runner = CliRunner()
        imported = runner.invoke(main, ["import", str(FIXTURES), "--db", url, "--site", SITE])
        assert imported.exit_code == 0, imported.output
        out = directory / "report.json"
        result = runner.invoke(main, ["report", "--db", url, "--format", "json", "--out", str(out)])
        assert result.exit_code == 0, result.output
        return json.loads(out.read_text(encoding="utf-8"))


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """An empty registry on SQLite, for tests whose subject does not depend on the database."""
    path = tmp_path / "registry.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def other_db_url(db_url: str, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A second empty registry on the same kind of database as `db_url`."""
    with scratch_registry(kind_of(db_url), tmp_path, sqlite_template) as url:
        yield url
