"""`masreg import`: files and directories of FHIR content into the registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from registry.cli import (
    clear_progress,
    db_option,
    handled,
    load_terminology,
    load_timezone,
    main,
    open_engine,
)
from registry.counts import RunCounts
from registry.ingest import ImportOptions, import_paths
from registry.load import DEFAULT_BATCH


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
@click.option(
    "--terminology",
    "terminology_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="TOML with site-local codes and code-list overrides (see docs/terminology.md).",
)
@click.option(
    "--timezone",
    "timezone_name",
    default=None,
    help="IANA zone (e.g. Asia/Shanghai) for times the source writes without an offset.",
)
def import_command(
    paths: tuple[Path, ...],
    site: str,
    db_url: str,
    fhir_version: str | None,
    validate: str,
    strict: bool,
    as_json: bool,
    batch_size: int,
    terminology_file: Path | None,
    timezone_name: str | None,
) -> None:
    """Import FHIR files or directories (JSON, Bundles, NDJSON, .gz) into the registry."""
    with handled():
        options = ImportOptions(
            site=site,
            fhir_version=fhir_version,
            validate=validate,
            batch_size=batch_size,
            terminology=load_terminology(terminology_file),
            assume_tz=load_timezone(timezone_name),
        )
    progress = _Progress() if sys.stderr.isatty() else None
    with handled(), open_engine(db_url, create=True) as engine:
        result = import_paths(
            engine,
            list(paths),
            options=options,
            on_batch=progress.batch if progress else None,
            on_phase=progress.phase if progress else None,
        )
    clear_progress()
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
    else:
        click.echo(_summary_text(summary))
    if strict and summary["quarantined"]:
        click.echo(f"{summary['quarantined']} resources quarantined (--strict)", err=True)
        sys.exit(1)


class _Progress:
    """A one-line progress display on an interactive stderr: counts, then the closing steps."""

    def __init__(self) -> None:
        self.line = ""

    def batch(self, counts: RunCounts) -> None:
        self.line = (
            f"read {counts.read:,}  loaded {counts.total('loaded'):,}  "
            f"updated {counts.total('updated'):,}  quarantined {counts.total('quarantined'):,}"
        )
        self._show(self.line)

    def phase(self, step: str) -> None:
        self._show(f"{self.line}  ({step}...)" if self.line else f"{step}...")

    @staticmethod
    def _show(text: str) -> None:
        sys.stderr.write(f"\r{text}  \x1b[K")  # the rest of the previous line erased
        sys.stderr.flush()


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
    if summary["ignored_files"]:
        lines.append("  ignored (documentation, not FHIR): " + ", ".join(summary["ignored_files"]))
    if summary["quarantined"]:
        lines.append("  see `masreg quarantine` for what was quarantined and why")
    return "\n".join(lines)
