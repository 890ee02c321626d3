"""The `masreg` command line.

The only module that prints, exits, reads the environment or configures logging. Data goes to
stdout, messages to stderr.

Exit codes: 0 success; 1 finished but with quarantined resources under `--strict` (or an
incomplete pull); 2 bad usage, configuration or input; 3 the database is not at the schema head.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import tzinfo
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from sqlalchemy import Engine

from adapter.errors import AdapterError, ConfigError
from adapter.terminology import Terminology
from registry import migrate
from registry.db import DEFAULT_URL, make_engine
from registry.errors import RegistryError, SchemaOutOfDate

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("masreg")


def db_option(func: F) -> F:
    """The shared `--db` option (flag, then MASREG_DB, then a SQLite file here)."""
    return click.option(
        "--db",
        "db_url",
        envvar="MASREG_DB",
        default=DEFAULT_URL,
        show_default=True,
        help="Database URL (sqlite:///file.db or postgresql://...); env MASREG_DB.",
    )(func)


@contextmanager
def open_engine(url: str, *, create: bool = False) -> Iterator[Engine]:
    """Open the registry, refusing one that is not at the schema head.

    With `create`, a database with no tables at all is initialised first (a new registry).
    """
    engine = make_engine(url)
    try:
        if create and migrate.is_empty(engine):
            click.echo(f"Creating a new registry at {shown(url)}", err=True)
            migrate.upgrade(engine)
        migrate.require_head(engine)
        yield engine
    finally:
        engine.dispose()


def shown(url: str) -> str:
    """A URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def load_terminology(path: Path | None) -> Terminology | None:
    """Read a terminology override TOML (site-local codes, extra LOINC, synonyms, factors).

    Raises:
        ConfigError: unreadable TOML or unknown keys (named).
    """
    if path is None:
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return Terminology.from_mapping(data.get("terminology", data))


def load_timezone(name: str | None) -> tzinfo | None:
    """Resolve an IANA time zone name.

    Raises:
        ConfigError: an unknown zone.
    """
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {name!r}") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="mas-registry")
def main(verbose: int) -> None:
    """mas-registry: FHIR data in, a normalized and auditable MAS case registry out."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # urllib3 logs full URLs (query strings name patients) at debug level: never show them.
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def clear_progress() -> None:
    """Erase the progress line from an interactive stderr."""
    if sys.stderr.isatty():
        columns = shutil.get_terminal_size((80, 20)).columns
        sys.stderr.write("\r" + " " * (columns - 1) + "\r")


@contextmanager
def handled() -> Iterator[None]:
    """Map library errors to one line on stderr and an exit code."""
    try:
        yield
    except SchemaOutOfDate as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except (AdapterError, RegistryError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        clear_progress()
        click.echo(
            "interrupted: the batches already committed are kept; run the same command "
            "again to complete the import",
            err=True,
        )
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=Path(sys.argv[0]).name)


# Subcommands register themselves on `main` when imported.
from registry.cli import database, demo, importing, inspect, pull, report, source  # noqa: E402, F401
