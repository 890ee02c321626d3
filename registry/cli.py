"""The `masreg` command line.

The only module that prints, exits, reads the environment or configures logging. Data goes to
stdout, messages to stderr.

Exit codes: 0 success; 1 finished but with quarantined resources under `--strict` (or an
incomplete pull); 2 bad usage, configuration or input; 3 the database is not at the schema head.
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Engine

from adapter.errors import AdapterError
from registry import migrate, status
from registry.counts import RunCounts
from registry.db import DEFAULT_URL, make_engine
from registry.errors import RegistryError, SchemaOutOfDate
from registry.ingest import ImportOptions, import_paths
from registry.load import DEFAULT_BATCH

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
            click.echo(f"Creating a new registry at {_shown(url)}", err=True)
            migrate.upgrade(engine)
        migrate.require_head(engine)
        yield engine
    finally:
        engine.dispose()


def _shown(url: str) -> str:
    """A URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="mas-registry")
def main(verbose: int) -> None:
    """mas-registry: FHIR data in, a normalized and auditable MAS case registry out."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--site", default="local", show_default=True, help="Site name the data belongs to.")
@db_option
@click.option("--fhir-version", default=None, help="R4, R4B or R5 (default: detect per resource).")
@click.option(
    "--validate",
    default="sample:100",
    show_default=True,
    help="FHIR validation: off, sample:N (1 in N) or full; rejected resources always.",
)
@click.option("--strict", is_flag=True, help="Exit 1 when anything was quarantined.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option("--batch-size", default=DEFAULT_BATCH, show_default=True, type=click.IntRange(1))
def import_command(
    paths: tuple[Path, ...],
    site: str,
    db_url: str,
    fhir_version: str | None,
    validate: str,
    strict: bool,
    as_json: bool,
    batch_size: int,
) -> None:
    """Import FHIR files or directories (JSON, Bundles, NDJSON, .gz) into the registry."""
    options = ImportOptions(
        site=site, fhir_version=fhir_version, validate=validate, batch_size=batch_size
    )
    with _handled(), open_engine(db_url, create=True) as engine:
        result = import_paths(engine, list(paths), options=options, on_batch=_progress())
    _clear_progress()
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
    else:
        click.echo(_summary_text(summary))
    if strict and summary["quarantined"]:
        click.echo(f"{summary['quarantined']} resources quarantined (--strict)", err=True)
        sys.exit(1)


def _progress() -> Callable[[RunCounts], None] | None:
    """A one-line progress display on an interactive stderr, else nothing."""
    if not sys.stderr.isatty():
        return None

    def show(counts: RunCounts) -> None:
        sys.stderr.write(
            f"\rread {counts.read:,}  loaded {counts.total('loaded'):,}  "
            f"updated {counts.total('updated'):,}  quarantined {counts.total('quarantined'):,}  "
        )
        sys.stderr.flush()

    return show


def _clear_progress() -> None:
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 79 + "\r")


def _summary_text(summary: dict[str, Any]) -> str:
    """The human summary of an import: totals, then one line per resource type."""
    buckets = ("loaded", "updated", "unchanged", "quarantined", "skipped")
    lines = [
        f"Run {summary['run_id']}: read {summary['read']} = "
        + " + ".join(f"{summary[b]} {b}" for b in buckets)
    ]
    width = max((len(t) for t in summary["by_type"]), default=8)
    lines.append(f"  {'type':<{width}}  " + "  ".join(f"{b:>11}" for b in ("read", *buckets)))
    for rtype, counts in summary["by_type"].items():
        lines.append(
            f"  {rtype:<{width}}  " + "  ".join(f"{counts[b]:>11}" for b in ("read", *buckets))
        )
    if summary["deletions"]:
        lines.append(
            "  deletions: " + ", ".join(f"{k} {v}" for k, v in summary["deletions"].items())
        )
    if summary["quarantined"]:
        lines.append("  see `masreg quarantine` for what was quarantined and why")
    return "\n".join(lines)


@main.group()
def db() -> None:
    """Database schema: upgrade to the current version, show the revision."""


@db.command("upgrade")
@db_option
def db_upgrade(db_url: str) -> None:
    """Create the registry or migrate it to this software's schema."""
    with _handled():
        engine = make_engine(db_url)
        migrate.upgrade(engine)
        click.echo(f"{_shown(db_url)} is at revision {migrate.current_revision(engine)}", err=True)
        engine.dispose()


@db.command("current")
@db_option
def db_current(db_url: str) -> None:
    """Print the database's schema revision and this software's head."""
    with _handled():
        engine = make_engine(db_url)
        current = migrate.current_revision(engine)
        engine.dispose()
    head = migrate.head_revision()
    click.echo(
        f"current {current or 'none'}  head {head}"
        + ("" if current == head else "  (run `masreg db upgrade`)")
    )


@main.command("status")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print as one JSON object.")
def status_command(db_url: str, as_json: bool) -> None:
    """Show patients per site, rows per table, the last runs and the quarantine."""
    with _handled(), open_engine(db_url) as engine, engine.connect() as conn:
        report = status.status_report(conn)
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
        return
    click.echo(_status_text(report))


def _status_text(report: dict[str, Any]) -> str:
    """Render the status report for a terminal."""
    lines = ["Patients by site:"]
    lines += [f"  {site:<20} {n:>8}" for site, n in report["patients_by_site"].items()] or [
        "  (none)"
    ]
    lines.append("Rows per table:")
    lines += [f"  {name:<28} {n:>10,}" for name, n in report["tables"].items()]
    lines.append("Last runs:")
    for run in report["runs"]:
        lines.append(
            f"  #{run['id']} {run['kind']} {run['site']} {run['status']} {run['started_at']}: "
            f"read {run['read']} = {run['loaded']} loaded + {run['updated']} updated + "
            f"{run['unchanged']} unchanged + {run['quarantined']} quarantined + "
            f"{run['skipped']} skipped"
        )
    lines.append("Quarantine:")
    for state, reasons in report["quarantine"].items():
        lines.append(f"  {state}: " + ", ".join(f"{reason} {n}" for reason, n in reasons.items()))
    if not report["quarantine"]:
        lines.append("  (empty)")
    return "\n".join(lines)


@main.command("quarantine")
@db_option
@click.option(
    "--status",
    "state",
    type=click.Choice(["open", "resolved", "all"]),
    default="open",
    show_default=True,
)
@click.option("--reason", default=None, help="Only this reason code.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@click.option("--raw", is_flag=True, help="Include the raw resource text (json format).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of stdout.",
)
def quarantine_command(
    db_url: str, state: str, reason: str | None, fmt: str, raw: bool, out: Path | None
) -> None:
    """List or export quarantined input: where it was, which field, and why."""
    with _handled(), open_engine(db_url) as engine, engine.connect() as conn:
        entries = list(
            status.iter_quarantine(
                conn, status=None if state == "all" else state, reason=reason, with_raw=raw
            )
        )
    stream = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    try:
        _write_entries(stream, entries, fmt)
    finally:
        if out:
            stream.close()


def _write_entries(stream: Any, entries: list[dict[str, Any]], fmt: str) -> None:
    """Write quarantine entries as a table, CSV (formula-safe) or JSON."""
    if fmt == "json":
        json.dump(entries, stream, indent=1, default=str)
        stream.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(
            stream, fieldnames=list(status.QUARANTINE_COLUMNS), extrasaction="ignore"
        )
        writer.writeheader()
        writer.writerows({k: _csv_safe(v) for k, v in e.items()} for e in entries)
    else:
        for e in entries:
            stream.write(
                f"#{e['id']} [{e['status']}] {e['reason_code']} {e['field_path'] or ''}\n"
                f"    {e['reason']}\n"
            )
        if not entries:
            stream.write("(no quarantine entries)\n")


def _csv_safe(value: Any) -> Any:
    """Neutralise spreadsheet formulas in CSV cells (=, +, -, @)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


@contextmanager
def _handled() -> Iterator[None]:
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
        _clear_progress()
        click.echo(
            "interrupted: the batches already committed are kept; run the same command "
            "again to complete the import",
            err=True,
        )
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=Path(sys.argv[0]).name)
