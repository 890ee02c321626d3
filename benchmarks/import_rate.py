"""End-to-end import rate into SQLite and PostgreSQL, beside plain orjson parsing (issue 2).

Usage (``make benchmark`` runs it with the defaults)::

    .venv/bin/python benchmarks/import_rate.py [--resources 200000] [--databases sqlite,postgresql]
        [--memory-sizes 50000,500000] [--no-memory] [--validation-sample 5000] [--no-write-alone]

It writes deterministic synthetic NDJSON (`synth.py`) to a temporary folder and measures, in
this one run:

* plain parsing: ``orjson.loads`` of every line of the same file (best of three passes);
* a minimal pipeline of the kind the issue's target comes from: parse, pick seven fields,
  executemany into one narrow SQLite table in 10,000-row transactions (no lineage, raw
  resource, index or decisions);
* the real import path, ``registry.ingest.import_paths`` (read, sampled validation, map, load
  with lineage and raw resources, post-load checks), into a new SQLite file and into a new
  PostgreSQL database (created on 127.0.0.1:5432 as user postgres, dropped afterwards), each in
  a subprocess of its own, with the rate as a ratio of the parsing rate;
* the cost of ``--validate full``: an import with it (on fewer resources) and fhir.resources
  validation alone, resources per second;
* the registry's write alone: the rows the SQLite import stored, read back and written into a
  new registry by the import's own writer (`registry.bulkwrite`, the same batches, the report
  indexes set aside as the import sets them), with no reading, parsing or mapping: the ceiling
  that the database and the registry's schema put on any import;
* peak memory: the import of N and 10 N resources into SQLite, each in a fresh subprocess
  (``resource.getrusage``), main process and worker processes apart.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from synth import write_ndjson  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def parse_rate(path: Path, passes: int = 3) -> float:
    """Plain orjson parsing of every line of the file, resources per second (best pass)."""
    best = float("inf")
    lines = 0
    for _ in range(passes):
        started = time.perf_counter()
        lines = 0
        with path.open("rb") as stream:
            for line in stream:
                orjson.loads(line)
                lines += 1
        best = min(best, time.perf_counter() - started)
    return lines / best


def minimal_rate(path: Path, database: Path, batch: int = 10_000) -> float:
    """A minimal pipeline of the kind the issue cites: parse, pick seven fields, executemany.

    One narrow table without lineage, raw resource, index or decisions, 10,000 rows a
    transaction: what the issue measured at about 0.25x of parsing on this machine type. Shown
    beside the import so the distance between the two can be read in one run.
    """
    import sqlite3

    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE minimal (resource_type TEXT, id TEXT, subject TEXT, code TEXT, "
        "value REAL, unit TEXT, effective TEXT)"
    )
    insert = "INSERT INTO minimal VALUES (?, ?, ?, ?, ?, ?, ?)"
    started = time.perf_counter()
    rows: list[tuple[Any, ...]] = []
    count = 0
    with path.open("rb") as stream:
        for line in stream:
            resource = orjson.loads(line)
            codings = (resource.get("code") or {}).get("coding") or [{}]
            quantity = resource.get("valueQuantity") or {}
            rows.append(
                (
                    resource.get("resourceType"),
                    resource.get("id"),
                    (resource.get("subject") or {}).get("reference"),
                    codings[0].get("code"),
                    quantity.get("value"),
                    quantity.get("unit"),
                    resource.get("effectiveDateTime"),
                )
            )
            if len(rows) >= batch:
                conn.execute("BEGIN")
                conn.executemany(insert, rows)
                conn.execute("COMMIT")
                count += len(rows)
                rows = []
    conn.execute("BEGIN")
    conn.executemany(insert, rows)
    conn.execute("COMMIT")
    count += len(rows)
    seconds = time.perf_counter() - started
    conn.close()
    return count / seconds


def child_import(url: str, path: Path, validate: str) -> dict[str, Any]:
    """Migrate a new registry at `url`, import the file, report the rate and peak memory."""
    from registry import migrate
    from registry.db import make_engine
    from registry.ingest import ImportOptions, import_paths

    engine = make_engine(url)
    migrate.upgrade(engine)
    cpu = _cpu_seconds()
    started = time.perf_counter()
    result = import_paths(engine, [path], options=ImportOptions(validate=validate))
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    engine.dispose()
    counts = result.counts
    return {
        "read": counts.read,
        "loaded": counts.total("loaded"),
        "quarantined": counts.total("quarantined"),
        "seconds": seconds,
        "rate": counts.read / seconds,
        "cpu_us": cpu / counts.read * 1e6,
        "rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_workers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def child_write(url: str, stored: Path, batch: int = 5000) -> dict[str, Any]:
    """Write the rows of the registry at `stored` (SQLite) into a new registry at `url`.

    Batches of `batch` source records with their concept rows, one transaction each, as the
    import writes them: value tuples by executemany on SQLite, COPY text lines (encoded before
    the clock starts, as the import's workers encode them) on PostgreSQL; report indexes set
    aside and built after, as a large import does.
    """
    import sqlite3

    from registry import bulkwrite, copytext, migrate, reportindexes, rowsql, tables
    from registry.db import make_engine

    source = sqlite3.connect(stored)
    runs = _read_rows(source, tables.INGEST_RUN.name)
    sr_columns, records = _read_rows(source, tables.SOURCE_RECORD.name, order="id")
    concept = {
        table.name: _read_rows(source, table.name, order=rowsql.LINK_COLUMN.get(table.name, "id"))
        for table in rowsql.INSERT_ORDER
    }
    source.close()
    batches = _batches(records, concept, batch)
    engine = make_engine(url)
    migrate.upgrade(engine)
    if engine.dialect.name == "postgresql":
        batches = [
            (
                [copytext.line(row) + b"\n" for row in chunk],
                {name: [copytext.line(r) + b"\n" for r in rows] for name, rows in rows_of.items()},
            )
            for chunk, rows_of in batches
        ]
    with engine.begin() as conn:
        bulkwrite.insert_rows(conn, tables.INGEST_RUN.name, *runs)
    started = time.perf_counter()
    with reportindexes.deferred(engine, True):
        for chunk, rows_of in batches:
            with engine.begin() as conn:
                bulkwrite.insert_rows(conn, tables.SOURCE_RECORD.name, sr_columns, chunk)
                for name, rows in rows_of.items():
                    bulkwrite.insert_rows(conn, name, concept[name][0], rows)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"read": len(records), "seconds": seconds, "rate": len(records) / seconds}


def _batches(
    records: list[tuple[Any, ...]],
    concept: dict[str, tuple[list[str], list[tuple[Any, ...]]]],
    size: int,
) -> list[tuple[list[Any], dict[str, list[Any]]]]:
    """Source records `size` at a time, each batch with the concept rows linked to them."""
    from registry import rowsql

    cursors = dict.fromkeys(concept, 0)
    out: list[tuple[list[Any], dict[str, list[Any]]]] = []
    for first in range(0, len(records), size):
        chunk = records[first : first + size]
        last_id = chunk[-1][0]
        rows_of: dict[str, list[Any]] = {}
        for name, (names, rows) in concept.items():
            link = names.index(rowsql.LINK_COLUMN.get(name, "id"))
            start = end = cursors[name]
            while end < len(rows) and rows[end][link] <= last_id:
                end += 1
            rows_of[name] = rows[start:end]
            cursors[name] = end
        out.append((list(chunk), rows_of))
    return out


def _read_rows(
    conn: Any, table: str, order: str | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """A table's column names and rows (ordered by `order`)."""
    cursor = conn.execute(f"SELECT * FROM {table}" + (f" ORDER BY {order}" if order else ""))
    names = [column[0] for column in cursor.description]
    return names, cursor.fetchall()


def run_write(url: str, stored: Path) -> dict[str, Any]:
    """Run `child_write` in a fresh interpreter; return its report."""
    command = [sys.executable, __file__, "--write-child", url, str(stored)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the write into {url} failed:\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the import's worker processes)."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_child(url: str, path: Path, validate: str) -> dict[str, Any]:
    """Run `child_import` in a fresh interpreter (its own peak RSS); return its report."""
    command = [sys.executable, __file__, "--child", url, str(path), "--validate", validate]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the import into {url} failed:\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


class PostgresDatabase:
    """A PostgreSQL database of its own for one benchmark run, dropped on exit."""

    def __init__(self) -> None:
        self.name = f"masreg_bench_{uuid.uuid4().hex[:10]}"
        self.url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.name}"

    def _admin(self, sql: str) -> None:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(sql))
        engine.dispose()

    def __enter__(self) -> PostgresDatabase:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def __exit__(self, *_exc: object) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def validation_rate(path: Path, count: int) -> float:
    """fhir.resources validation alone (what ``--validate full`` adds), resources per second."""
    from adapter.jsontext import parse_json
    from adapter.validation import Validator

    resources = []
    with path.open("rb") as stream:
        for line in stream:
            resources.append(parse_json(line))
            if len(resources) >= count:
                break
    validator = Validator("full")
    validator.validate(resources[0], "R4")  # model classes are built on first use
    started = time.perf_counter()
    for item in resources:
        validator.validate(item, "R4")
    return len(resources) / (time.perf_counter() - started)


def _row(label: str, rate: float, parsed: float, report: dict[str, Any] | None = None) -> None:
    seconds = f"{report['seconds']:.1f}" if report else ""
    rss = f"{report['rss_main_mb']:.0f} MB" if report else ""
    cpu = f"{report['cpu_us']:.0f}" if report else f"{1e6 / rate:.1f}"
    print(f"{label:<48} {rate:>12,.0f} {rate / parsed:>8.3f} {seconds:>8} {cpu:>9} {rss:>9}")


def measure_rates(args: argparse.Namespace, folder: Path) -> None:
    """Generate the file, then measure parsing, the imports and validation."""
    path = folder / "bench.ndjson"
    written = write_ndjson(path, args.resources)
    size = path.stat().st_size / 1e6
    print(f"synthetic NDJSON: {written:,} resources, {size:,.0f} MB")
    parsed = parse_rate(path)
    print()
    print(
        f"{'what':<48} {'resources/s':>12} {'x parse':>8} {'seconds':>8} {'CPU µs/r':>9} "
        f"{'peak RSS':>9}"
    )
    _row("orjson.loads of each line (plain parsing)", parsed, parsed)
    _row(
        "minimal parse-map-insert into sqlite (reference)",
        minimal_rate(path, folder / "m.db"),
        parsed,
    )
    for database in args.databases:
        report = _import(database, folder, path, args.validate)
        if report["read"] != written:
            raise RuntimeError(f"{database}: read {report['read']} of {written} resources")
        _row(f"import into {database} (--validate {args.validate})", report["rate"], parsed, report)
    if "sqlite" in args.databases and args.write_alone:
        for database in args.databases:
            if database == "sqlite":
                report = run_write(f"sqlite:///{folder / 'write.db'}", folder / "bench.db")
            else:
                with PostgresDatabase() as pg:
                    report = run_write(pg.url, folder / "bench.db")
            _row(f"its stored rows written alone into {database}", report["rate"], parsed)
    if args.full_validation_resources:
        small = folder / "full.ndjson"
        write_ndjson(small, args.full_validation_resources)
        report = _import("sqlite", folder, small, "full", name="full.db")
        _row("import into sqlite (--validate full)", report["rate"], parsed, report)
    if args.validation_sample:
        rate = validation_rate(path, args.validation_sample)
        _row("fhir.resources validation alone", rate, parsed)


def _import(
    database: str, folder: Path, path: Path, validate: str, name: str = "bench.db"
) -> dict[str, Any]:
    """Import `path` into a new registry on `database` (sqlite | postgresql), in a subprocess."""
    if database == "sqlite":
        return run_child(f"sqlite:///{folder / name}", path, validate)
    if database != "postgresql":
        raise ValueError(f"unknown database {database!r}: sqlite or postgresql")
    with PostgresDatabase() as pg:
        return run_child(pg.url, path, validate)


def measure_memory(args: argparse.Namespace, folder: Path) -> None:
    """Import N and 10 N resources into SQLite in fresh processes; compare peak RSS."""
    print()
    print(f"{'resources':>10} {'seconds':>8} {'peak RSS main':>14} {'peak RSS worker':>16}")
    first: float | None = None
    for size in args.memory_sizes:
        path = folder / f"mem-{size}.ndjson"
        write_ndjson(path, size)
        report = run_child(f"sqlite:///{folder / f'mem-{size}.db'}", path, args.validate)
        path.unlink()
        peak = max(report["rss_main_mb"], report["rss_workers_mb"])
        growth = "" if first is None else f"  ({(peak / first - 1) * 100:+.0f}% vs first)"
        first = peak if first is None else first
        print(
            f"{size:>10,} {report['seconds']:>8.1f} {report['rss_main_mb']:>11.0f} MB "
            f"{report['rss_workers_mb']:>13.0f} MB{growth}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=200_000)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--validate", default="sample:100")
    parser.add_argument("--full-validation-resources", type=int, default=20_000)
    parser.add_argument("--validation-sample", type=int, default=5000)
    parser.add_argument("--memory-sizes", default="50000,500000")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument(
        "--no-write-alone",
        dest="write_alone",
        action="store_false",
        help="skip writing the stored rows alone (the database's ceiling)",
    )
    parser.add_argument("--child", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--write-child", nargs=2, metavar=("URL", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        report = child_import(args.child[0], Path(args.child[1]), args.validate)
        print(json.dumps(report))
        return
    if args.write_child:
        print(json.dumps(child_write(args.write_child[0], Path(args.write_child[1]))))
        return
    args.databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    args.memory_sizes = [int(s) for s in args.memory_sizes.split(",") if s.strip()]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {_load()}")
    with tempfile.TemporaryDirectory(prefix="masreg-bench-") as tmp:
        measure_rates(args, Path(tmp))
        if not args.no_memory:
            measure_memory(args, Path(tmp))
    print(f"\nload average at the end: {_load()} (other processes slow every figure alike)")


def _load() -> str:
    """The 1-minute load average, which says how busy the machine was."""
    return f"{os.getloadavg()[0]:.2f}"


if __name__ == "__main__":
    main()
