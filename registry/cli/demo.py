"""`masreg demo`: the nine-patient fixture into a fresh SQLite registry, then its report."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from registry import migrate
from registry.cli import handled, main
from registry.cli.report import check_output, compute, emit, output_options
from registry.db import make_engine
from registry.errors import RegistryError
from registry.ingest import ImportOptions, import_paths
from registry.outcomes.protocol import load_protocol

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "nine_patients"


@main.command("demo")
@output_options
def demo_command(fmt: str, out: str | None, compact: bool) -> None:
    """Import the bundled nine-patient fixture into a new SQLite registry and print the report."""
    check_output(fmt, compact)
    with handled():
        if not FIXTURES.is_dir():
            raise RegistryError(f"the bundled fixtures are not here: {FIXTURES} (run from a clone)")
        with tempfile.TemporaryDirectory(prefix="masreg-demo-") as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'demo.db'}")
            try:
                migrate.upgrade(engine)
                result = import_paths(engine, [FIXTURES], options=ImportOptions(site="local"))
                summary = result.summary()
                click.echo(
                    f"imported {summary['loaded']} resources from {FIXTURES.name} "
                    f"({summary['quarantined']} quarantined) into a new SQLite registry",
                    err=True,
                )
                with engine.connect() as conn:
                    report = compute(conn, load_protocol(), ())
            finally:
                engine.dispose()
    emit(report, fmt, out, compact=compact)
