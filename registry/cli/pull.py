"""`masreg pull`: a cohort from a FHIR server (REST search or Bulk Data) into the registry."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from adapter.config import AUTH_KINDS
from adapter.terminology import Terminology
from registry.cli import (
    clear_progress,
    db_option,
    handled,
    load_terminology,
    load_timezone,
    main,
    open_engine,
)
from registry.cli.importing import _summary_text
from registry.pull.config import build_settings, read_toml
from registry.pull.run import PullHooks, PullProgress, pull


def _on_retry(status: int | None, delay: float, attempt: int) -> None:
    what = (
        f"server busy ({status})" if status in (429, 503) else f"retrying ({status or 'network'})"
    )
    clear_progress()
    click.echo(f"{what}, waiting {delay:.0f} s (retry {attempt})", err=True)


def progress_line(progress: PullProgress, width: int = 200) -> str:
    """One line: resources fetched (the largest types first), pages, requests, retries.

    >>> progress_line(PullProgress({"Observation": 1200, "Patient": 9}, 14, 31, 2, 4.0))
    'fetched 1,209 (Observation 1,200, Patient 9) | pages 14 | requests 31 | retries 2 (4 s waited)'
    """
    total = sum(progress.fetched.values())
    types = sorted(progress.fetched.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{name} {n:,}" for name, n in types)
    retries = f"retries {progress.retries}"
    if progress.retries:
        retries += f" ({progress.waited_seconds:.0f} s waited)"
    line = (
        f"fetched {total:,} ({shown}) | pages {progress.pages:,} | "
        f"requests {progress.requests:,} | {retries}"
    )
    return line if len(line) <= width else line[: width - 1] + "…"


def _on_progress() -> Callable[[PullProgress], None]:
    """On a terminal, a line redrawn in place; otherwise (cron, a log file) a line a minute."""
    if sys.stderr.isatty():

        def redraw(progress: PullProgress) -> None:
            columns = shutil.get_terminal_size((100, 20)).columns
            line = progress_line(progress, max(columns - 1, 40))
            sys.stderr.write("\r" + line.ljust(columns - 1))
            sys.stderr.flush()

        return redraw
    last = [float("-inf")]

    def log(progress: PullProgress) -> None:
        now = time.monotonic()
        if now - last[0] >= 60:
            last[0] = now
            click.echo(progress_line(progress), err=True)

    return log


def _on_phase(step: str) -> None:
    """A step after the import's last batch (no progress of its own), on a line of its own."""
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    click.echo(f"{step}...", err=True)


def _on_export(progress: str | None, delay: float) -> None:
    click.echo(
        f"export in progress ({progress or 'no progress given'}), next check in {delay:.0f} s",
        err=True,
    )


@main.command("pull")
@click.option("--server", "url", help="FHIR base URL; env MASREG_SERVER.")
@click.option("--site", help="Site name the data belongs to (default: local).")
@click.option("--auth", type=click.Choice(AUTH_KINDS), help="none, bearer, basic or smart.")
@click.option("--client-id", help="SMART Backend Services client id.")
@click.option("--key", type=click.Path(path_type=Path), help="SMART private key (JWK/JWKS/PEM).")
@click.option("--key-id", help="The kid of the SMART key (needed for PEM keys).")
@click.option("--token-file", type=click.Path(path_type=Path), help="Bearer token file.")
@click.option("--basic-user", help="HTTP Basic user; password from MASREG_BASIC_PASSWORD(_FILE).")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help="SMART scope to ask for instead of per-type scopes (repeatable).",
)
@click.option("--cohort", help="conditions (default), administrations, group:ID or ids:FILE.")
@click.option("--bulk/--no-bulk", default=None, help="Use Bulk Data $export.")
@click.option("--since", help="auto (since the last completed pull) or a FHIR date/instant.")
@click.option("--concurrency", type=click.IntRange(1, 64), help="Parallel requests (default 4).")
@click.option(
    "--type-filter",
    "type_filters",
    multiple=True,
    help="Bulk Data _typeFilter query, Type?param=value (repeatable).",
)
@click.option(
    "--accept-incomplete/--no-accept-incomplete",
    default=None,
    help="Exit 0 even when the pull is incomplete.",
)
@click.option(
    "--allow-insecure-http/--no-allow-insecure-http",
    default=None,
    help="Allow http:// to hosts other than this machine.",
)
@click.option("--export-dir", type=click.Path(path_type=Path), help="Bulk export files go here.")
@click.option("--batch-size", type=click.IntRange(1), help="Resources per committed batch.")
@click.option("--timezone", help="IANA zone for times the server writes without an offset.")
@click.option(
    "--terminology",
    "terminology_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="TOML with site-local codes and code-list overrides (over the config's [terminology]).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, path_type=Path),
    help="Site TOML file ([server], [pull], [terminology]).",
)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def pull_command(
    config_file: Path | None,
    terminology_file: Path | None,
    db_url: str,
    as_json: bool,
    **flags: Any,
) -> None:
    """Pull the study cohort from a FHIR server into the registry."""
    flags["scopes"] = flags["scopes"] or None
    flags["type_filters"] = flags["type_filters"] or None
    # urllib3 logs every URL with its query string at DEBUG: queries hold patient ids. The retry
    # warnings of adapter.http quote the server's OperationOutcome text, which can echo them;
    # retries are shown by _on_retry (status and wait only) and counted in the run record.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, logging.getLogger().level))
    logging.getLogger("adapter.http").setLevel(logging.ERROR)
    with handled():
        toml = read_toml(config_file) if config_file else {}
        base = config_file.parent if config_file else None
        settings = build_settings(flags, dict(os.environ), toml, base_dir=base)
        terminology = load_terminology(terminology_file) or (
            Terminology.from_mapping(toml["terminology"]) if "terminology" in toml else None
        )
        hooks = PullHooks(
            on_retry=_on_retry,
            on_export=_on_export,
            on_progress=_on_progress(),
            on_phase=_on_phase,
        )
        zone = load_timezone(settings.timezone)
        with open_engine(db_url, create=True) as engine:
            result = pull(engine, settings, terminology=terminology, assume_tz=zone, hooks=hooks)
    clear_progress()
    summary = result.summary()
    click.echo(json.dumps(summary, sort_keys=True) if as_json else _text(summary))
    for line in summary["notes"]:
        click.echo(f"note: {line}", err=True)
    if result.status == "incomplete":
        for line in summary["incomplete_reasons"]:
            click.echo(f"incomplete: {line}", err=True)
        if not settings.accept_incomplete:
            click.echo(
                "the pull is incomplete (see above); --accept-incomplete to accept it", err=True
            )
            sys.exit(1)


def _text(summary: dict[str, Any]) -> str:
    http = summary["http"]
    head = (
        f"Pulled {summary['cohort_size']} patients ({summary['status']}): "
        f"{http['requests']} requests, {http['retries']} retries, "
        f"{summary['dropped_other_patients']} resources of other patients dropped"
    )
    return head + "\n" + _summary_text(summary)
