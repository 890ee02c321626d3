"""`masreg report`: the study's outcome tables from the registry (issue 3 item 8)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Connection

from registry.cli import db_option, handled, main, open_engine
from registry.outcomes.protocol import Protocol, load_protocol
from registry.outcomes.report import build_report
from registry.outcomes.table import render_table

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "json", "csv", "markdown", "html")
READY = ("table", "json")


class NotYet(click.ClickException):
    """A report format that is accepted but not implemented yet (bad usage: exit 2)."""

    exit_code = 2


def output_options(func: F) -> F:
    """The shared `--format` and `--out` options of `report` and `demo`."""
    func = click.option(
        "--out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Write the report to this file instead of stdout.",
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="table (terminal) or json (the stable JSON report); csv, markdown, html: not yet.",
    )(func)


def check_format(fmt: str) -> None:
    """Refuse the formats a later release renders."""
    if fmt not in READY:
        raise NotYet(f"--format {fmt} is not available yet; use --format table or json")


def compute(conn: Connection, protocol: Protocol, sites: tuple[str, ...]) -> dict[str, Any]:
    """Build the report in one read transaction."""
    with conn.begin():
        return build_report(conn, protocol, sites=sites)


def emit(report: dict[str, Any], fmt: str, out: Path | None) -> None:
    """Render the report and write it to stdout or `--out`."""
    text = render_table(report) if fmt == "table" else json.dumps(report, indent=1) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
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
def report_command(
    db_url: str, fmt: str, out: Path | None, protocol_file: Path | None, sites: tuple[str, ...]
) -> None:
    """Compute the study report: response, remission, labs, steroids, infections, safety."""
    check_format(fmt)
    with handled():
        protocol = load_protocol(protocol_file)
        with open_engine(db_url) as engine, engine.connect() as conn:
            report = compute(conn, protocol, sites)
    emit(report, fmt, out)
