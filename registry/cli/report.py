"""`masreg report`: the study's outcome tables from the registry (issue 3 item 8)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Connection

from registry import reportindexes
from registry.cli import db_option, handled, main, open_engine
from registry.outcomes.protocol import Protocol, load_protocol
from registry.outcomes.report import build_report
from registry.render import TEXT_FORMATS, render, render_json

F = TypeVar("F", bound=Callable[..., Any])


def output_options(func: F) -> F:
    """The shared `--format`, `--out` and `--compact` options of `report` and `demo`."""
    func = click.option(
        "--compact",
        is_flag=True,
        help="With --format json: the JSON on one line, about half the size of the indented.",
    )(func)
    func = click.option(
        "--out",
        type=click.Path(path_type=str),
        default=None,
        help="Write the report to this file instead of stdout, gzip-compressed when its name ends "
        "in .gz; with --format csv, a folder (existing, or ending in /) gets one CSV file per "
        "table.",
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(TEXT_FORMATS),
        default="table",
        show_default=True,
        help="table (terminal), json (the stable JSON report), csv (the tables), markdown "
        "(GitHub tables) or html (one self-contained file with the plots).",
    )(func)


def compute(
    conn: Connection, protocol: Protocol, sites: tuple[str, ...], workers: int | None = None
) -> dict[str, Any]:
    """Build the report in one read transaction (on one snapshot, however many processes)."""
    with conn.begin():
        return build_report(conn, protocol, sites=sites, workers=workers)


def _is_folder(out: str) -> bool:
    return out.endswith("/") or Path(out).is_dir()


def check_output(fmt: str, compact: bool) -> None:
    """Refuse option combinations that mean nothing, before the report is computed."""
    if compact and fmt != "json":
        raise click.UsageError("--compact is for --format json")


def emit(report: dict[str, Any], fmt: str, out: str | None, *, compact: bool = False) -> None:
    """Render the report and write it to stdout, `--out FILE` or (CSV) `--out FOLDER`.

    JSON goes out as the encoder's bytes (a large report is hundreds of MB: no text copy). A file
    named *.gz is written gzip-compressed, with no name or time in its header, so the same report
    gives the same bytes.
    """
    if out is None:
        data = render_json(report, compact=compact) if fmt == "json" else render(report, fmt)
        click.echo(data, nl=False)
        return
    try:
        if _is_folder(out):
            if fmt != "csv":
                raise click.UsageError(f"--out {out} is a folder; only --format csv writes to one")
            from registry.render.csv import write_csv_folder

            written = write_csv_folder(report, Path(out))
            click.echo(f"report written to {len(written)} CSV files in {out}", err=True)
            return
        if fmt == "json":
            data = render_json(report, compact=compact)
        else:
            data = render(report, fmt).encode("utf-8")
        if out.lower().endswith(".gz"):
            data = gzip.compress(data, compresslevel=6, mtime=0)
        Path(out).write_bytes(data)
    except OSError as exc:
        raise click.UsageError(f"cannot write --out {out}: {exc.strerror or exc}") from exc
    click.echo(f"report written to {out}", err=True)


@main.command("report")
@db_option
@output_options
@click.option(
    "--protocol",
    "protocol_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A study protocol TOML read over the default emapalumab-mas protocol.",
)
@click.option("--site", "sites", multiple=True, help="Only this site (repeatable).")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes sharing the per-patient work, on one snapshot of the registry (default: two "
    "on a machine with two or more CPUs for a registry of 2,000 patients or more, else one). "
    "The report is the same whatever the number.",
)
def report_command(
    db_url: str,
    fmt: str,
    out: str | None,
    protocol_file: Path | None,
    sites: tuple[str, ...],
    workers: int | None,
    compact: bool,
) -> None:
    """Compute the study report: response, remission, labs, steroids, infections, safety."""
    check_output(fmt, compact)
    with handled():
        protocol = load_protocol(protocol_file)
        with open_engine(db_url) as engine, engine.connect() as conn:
            absent = reportindexes.missing(conn)
            conn.rollback()  # the report opens its own read transaction
            if absent:
                click.echo(
                    f"warning: the registry lacks the report's indexes ({', '.join(absent)}), "
                    "set aside by an import that is still running or did not finish; the report "
                    "is right but slow. `masreg db upgrade` builds them.",
                    err=True,
                )
            report = compute(conn, protocol, sites, workers)
    emit(report, fmt, out, compact=compact)
