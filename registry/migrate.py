"""Schema migrations from code: upgrade, current revision, and the at-head guard."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, inspect

from alembic import command
from registry import reportindexes
from registry.db import migrations_dir
from registry.errors import SchemaOutOfDate


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic Config pointing at this tree's migrations (URL passed via the connection)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def head_revision() -> str:
    """The newest migration of this software."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise SchemaOutOfDate("this installation has no migrations")
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision (None for an empty or unmigrated database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def is_empty(engine: Engine) -> bool:
    """True when the database has no tables at all (a brand-new registry)."""
    return not inspect(engine).get_table_names()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision` (default: the head).

    At the head, report indexes that a killed import left set aside are built again
    (`registry.reportindexes`).
    """
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    if revision == "head":
        reportindexes.restore(engine)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to `revision` (used by migration tests)."""
    config = alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def require_head(engine: Engine) -> None:
    """Refuse a database that is not at the head, saying what to run.

    Raises:
        SchemaOutOfDate: the database is empty, older, or newer than this software.
    """
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    url = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise SchemaOutOfDate(
            f"{url} is not a mas-registry database (no schema); run `masreg db upgrade` first"
        )
    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        known = scripts.get_revision(current) is not None
    except CommandError:
        known = False
    if not known:
        raise SchemaOutOfDate(
            f"{url} is at revision {current}, which this version of mas-registry does not know "
            "(it was migrated by a newer version); upgrade mas-registry"
        )
    raise SchemaOutOfDate(
        f"{url} is at revision {current}, this software needs {head}; run `masreg db upgrade`"
    )
