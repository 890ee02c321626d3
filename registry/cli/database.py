"""`masreg db`: create or migrate the schema, show the revision."""

from __future__ import annotations

import click

from registry import migrate
from registry.cli import db_option, handled, main, shown
from registry.db import make_engine


@main.group()
def db() -> None:
    """Database schema: upgrade to the current version, show the revision."""


@db.command("upgrade")
@db_option
def db_upgrade(db_url: str) -> None:
    """Create the registry or migrate it to this software's schema."""
    with handled():
        engine = make_engine(db_url)
        migrate.upgrade(engine)
        click.echo(f"{shown(db_url)} is at revision {migrate.current_revision(engine)}", err=True)
        engine.dispose()


@db.command("current")
@db_option
def db_current(db_url: str) -> None:
    """Print the database's schema revision and this software's head."""
    with handled():
        engine = make_engine(db_url)
        current = migrate.current_revision(engine)
        engine.dispose()
    head = migrate.head_revision()
    click.echo(
        f"current {current or 'none'}  head {head}"
        + ("" if current == head else "  (run `masreg db upgrade`)")
    )
