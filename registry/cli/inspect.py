"""`masreg status` and `masreg quarantine`: what is in the registry and what was refused."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import click

from registry import status
from registry.cli import db_option, handled, main, open_engine


@main.command("status")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print as one JSON object.")
def status_command(db_url: str, as_json: bool) -> None:
    """Show patients per site, rows per table, the last runs and the quarantine."""
    with handled(), open_engine(db_url) as engine, engine.connect() as conn:
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
    if report["missing_indexes"]:
        lines.append(
            "Missing report indexes (set aside by an import still running, or one that did not "
            "finish: `masreg db upgrade` builds them): " + ", ".join(report["missing_indexes"])
        )
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
    with handled(), open_engine(db_url) as engine, engine.connect() as conn:
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
