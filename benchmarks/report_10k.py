"""Benchmark: the full study report on 10,000 synthetic patients x ~200 results (issue 3).

Generates the registry directly (not via FHIR): per patient a Patient, an underlying-disease
Condition, emapalumab and methylprednisolone administrations, a prednisone MedicationRequest
taper, an Encounter, an AdverseEvent, ~200 laboratory results (panels of 12 analytes on 17 draw
days), temperatures and CMV DNA results; rows go in as tuples in one transaction (DBAPI
executemany on SQLite, COPY on PostgreSQL). The SQLite registry is kept in a cache folder keyed by
the parameters, the generator's code and the schema revision, and reused by later runs. Then times
`build_report` on SQLite and on PostgreSQL (a database created on 127.0.0.1:5432 as user postgres
and dropped afterwards), `--repeat` times each, and prints the medians. Target: under 20 s each.
Run: `.venv/bin/python benchmarks/report_10k.py [--patients N] [--repeat 3] [--skip-postgres]`.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import inspect
import json
import os
import random
import sqlite3
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text

from registry import migrate, tables
from registry.db import Base, make_engine
from registry.outcomes.protocol import load_protocol
from registry.outcomes.report import build_report
from registry.types import UTCDateTime

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SITE = "bench"
# analyte -> (unit, baseline, normal value, reference low, reference high)
PANEL = {
    "ferritin": ("ng/mL", 9000.0, 120.0, 13.0, 150.0),
    "sCD25": ("[U]/mL", 6000.0, 500.0, 241.0, 846.0),
    "TG": ("mmol/L", 3.6, 1.1, None, 1.7),
    "fibrinogen": ("g/L", 1.1, 2.8, 2.0, 4.0),
    "WBC": ("10*9/L", 2.0, 6.0, 3.5, 9.5),
    "ANC": ("10*9/L", 0.8, 3.5, 1.8, 6.3),
    "PLT": ("10*9/L", 45.0, 220.0, 125.0, 350.0),
    "Hb": ("g/L", 90.0, 128.0, 115.0, 150.0),
    "ALT": ("U/L", 180.0, 22.0, 7.0, 40.0),
    "AST": ("U/L", 200.0, 20.0, 13.0, 35.0),
    "LDH": ("U/L", 900.0, 180.0, 120.0, 250.0),
    "CRP": ("mg/L", 60.0, 3.0, None, 10.0),
}
DRAW_DAYS = (-3, -1, 0, 2, 4, 6, 7, 8, 13, 14, 15, 26, 28, 30, 52, 56, 90)  # 17 x 12 = 204
SHANGHAI = timedelta(hours=8)
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "masreg-bench"


class Builder:
    """Accumulates rows per table as tuples (columns in first-seen order), with explicit ids."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.columns: dict[str, tuple[str, ...]] = {}
        self.next_id: dict[str, int] = {}
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def put(self, table: str, row: dict[str, Any]) -> None:
        """Append a row (its keys in the same order for every row of a table)."""
        self.columns.setdefault(table, tuple(row))
        self.rows.setdefault(table, []).append(tuple(row.values()))

    def add(self, table: str, row: dict[str, Any]) -> int:
        ident = self.next_id.get(table, 1)
        self.next_id[table] = ident + 1
        self.put(table, {"id": ident, **row})
        return ident

    def record(self, rtype: str, rid: str) -> int:
        return self.add(
            "source_record",
            {
                "site": SITE, "resource_type": rtype, "resource_id": rid, "version_id": "1",
                "last_updated": self.now, "content_hash": f"{len(self.rows):032x}{rid}"[-64:],
                "origin": "bench", "locator": "synthetic", "fhir_version": "R4",
                "ingest_run_id": 1, "raw": None, "is_deleted": False, "deleted_at": None,
                "last_seen_run_id": 1, "last_outcome": "loaded",
            },
        )  # fmt: skip


def _drug(ingredient: str, drug_class: str) -> dict[str, Any]:
    return {
        "ingredient": ingredient, "ingredient_match": "rxnorm_in", "drug_class": drug_class,
        "drug_code_system": None, "drug_code": None, "drug_text": ingredient,
    }  # fmt: skip


def _ma(b: Builder, pid: str, name: str, when: datetime, ingredient: str, cls: str, mg: float,
        factor: str | None) -> None:  # fmt: skip
    rid = b.record("MedicationAdministration", f"{pid}-{name}")
    b.put(
        "medication_administration",
        {
            "id": rid, "site": SITE, "exclusion": None, "patient_source_id": pid,
            "status": "completed", "medication_source": "concept", "medication_ref": None,
            "dose_value_original": str(mg), "dose_unit_original": "mg", "dose_mg": mg,
            "dose_mg_per_kg": None, "body_weight_kg": None, "body_weight_observation_id": None,
            "route_code": "47625008", "route_text": "IV", "route_class": "systemic",
            "effective_at": when, "effective_precision": "second", "effective_end_at": None,
            "prednisone_factor": factor,
            "prednisone_eq_mg": mg * 1.25 if factor else None, **_drug(ingredient, cls),
        }
    )  # fmt: skip


def _obs(b: Builder, record: int, pid: str, analyte: str, value: float, unit: str | None,
         when: datetime, low: float | None = None, high: float | None = None,
         comparator: str | None = None) -> None:  # fmt: skip
    b.add(
        "observation",
        {
            "source_record_id": record, "site": SITE, "patient_source_id": pid,
            "component_index": None, "analyte": analyte, "analyte_match": "loinc",
            "code_system": None, "code": None, "code_display": None, "code_text": None,
            "category": "laboratory", "status": "final", "value": value, "unit": unit,
            "value_original": str(value), "unit_original": unit, "unit_code_original": unit,
            "unit_system_original": None, "comparator": comparator, "conversion": None,
            "value_string": None, "value_code_system": None, "value_code": None,
            "value_code_display": None, "interpretation": None, "reference_low": low,
            "reference_high": high, "reference_text": None, "specimen": None,
            "effective_at": when, "effective_precision": "second", "effective_end_at": None,
            "issued_at": None, "exclusion": None, "derivation": None, "derived_from_id": None,
            "derived_from_other_id": None,
        },
    )  # fmt: skip


def _labs(b: Builder, rng: random.Random, pid: str, t0: datetime) -> None:
    speed = rng.uniform(0.3, 1.5)
    for day in DRAW_DAYS:
        when = t0 + timedelta(days=day, hours=-1.5 if day <= 0 else 1)
        panel = b.record("Observation", f"{pid}-panel-{day}")
        share = min(1.0, max(0.0, day * speed / 28))
        for analyte, (unit, base, normal, low, high) in PANEL.items():
            value = round(base + (normal - base) * share * rng.uniform(0.9, 1.1), 2)
            _obs(b, panel, pid, analyte, value, unit, when, low, high)
    for hour in range(0, 24 * 60, 36):
        rec = b.record("Observation", f"{pid}-temp-{hour}")
        fever = 39.0 if hour < 24 * 5 * speed else 36.8
        _obs(b, rec, pid, "temperature", fever, "Cel", t0 + timedelta(hours=hour - 72))
    for day, value in ((-2, None), (14, 1500.0 if rng.random() < 0.3 else None), (28, None)):
        rec = b.record("Observation", f"{pid}-cmv-{day}")
        _obs(b, rec, pid, "cmv_dna", value or 500.0, "[IU]/mL", t0 + timedelta(days=day, hours=1),
             comparator=None if value else "<")  # fmt: skip


def _clinical(b: Builder, rng: random.Random, pid: str, t0: datetime) -> None:
    rid = b.record("Patient", pid)
    b.put(
        "patient",
        {"id": rid, "site": SITE, "exclusion": None, "source_id": pid,
         "sex": rng.choice(["male", "female"]), "birth_date": None, "birth_date_precision": None,
         "deceased": False, "deceased_at": None, "deceased_precision": None}
    )  # fmt: skip
    cid = b.record("Condition", f"{pid}-dx")
    b.put(
        "condition",
        {"id": cid, "site": SITE, "exclusion": None, "patient_source_id": pid,
         "category": "underlying_disease", "concept": rng.choice(["AOSD", "SLE"]),
         "match_path": "icd10", "code_system": None, "code": None, "code_display": None,
         "code_text": None, "clinical_status": "active", "verification_status": "confirmed",
         "onset_at": t0 - timedelta(days=100), "onset_precision": "day", "abatement_at": None,
         "abatement_precision": None, "recorded_at": None}
    )  # fmt: skip
    eid = b.record("Encounter", f"{pid}-enc")
    b.put(
        "encounter",
        {"id": eid, "site": SITE, "exclusion": None, "patient_source_id": pid,
         "status": "finished", "class_code": "AMB", "period_start": t0 + timedelta(days=119),
         "period_start_precision": "second", "period_end": t0 + timedelta(days=120, hours=1),
         "period_end_precision": "second"}
    )  # fmt: skip
    aid = b.record("AdverseEvent", f"{pid}-ae")
    b.put(
        "adverse_event",
        {"id": aid, "site": SITE, "exclusion": None, "patient_source_id": pid,
         "actuality": "actual", "status": None, "term_system": None, "term_code": None,
         "term_display": rng.choice(["Nausea", "Headache", "Rash"]), "term_text": None,
         "infection_organism": None, "seriousness_code": "non-serious", "is_serious": False,
         "severity": "mild", "ctcae_grade": 1, "outcome": "resolved",
         "occurred_at": t0 + timedelta(days=3), "occurred_precision": "second",
         "detected_at": None, "recorded_at": None, "resulting_conditions": None}
    )  # fmt: skip


def _midnight(day: date) -> datetime:
    """A date-only bound as the registry stores it: 00:00 UTC of the date."""
    return datetime.combine(day, datetime.min.time(), UTC)


def _medications(b: Builder, pid: str, t0: datetime) -> None:
    for dose in range(4):
        _ma(b, pid, f"ema-{dose}", t0 + timedelta(days=3 * dose), "emapalumab", "emapalumab",
            50.0, None)  # fmt: skip
    for day in range(-5, 15):
        _ma(b, pid, f"mp-{day}", t0 + timedelta(days=day, hours=-1), "methylprednisolone",
            "glucocorticoid", 80.0, "5/4")  # fmt: skip
    oid = b.record("MedicationRequest", f"{pid}-taper")
    b.put(
        "medication_order",
        {"id": oid, "site": SITE, "exclusion": None, "patient_source_id": pid, "kind": "request",
         "status": "active", "intent": "order", "medication_source": "concept",
         "medication_ref": None, "authored_at": t0 + timedelta(days=14), "effective_start": None,
         "effective_end": None, "effective_precision": None, "prednisone_factor": "1",
         **_drug("prednisone", "glucocorticoid")}
    )  # fmt: skip
    local = (t0 + SHANGHAI).date()
    for seq, (start, end, mg) in enumerate(((15, 60, 40.0), (61, 200, 10.0))):
        b.add(
            "medication_order_dose",
            {"order_id": oid, "sequence": seq, "text": None, "dose_value_original": str(mg),
             "dose_unit_original": "mg", "dose_mg": mg, "dose_mg_per_kg": None, "frequency": 1,
             "period": 1.0, "period_unit": "d", "per_day": "1", "daily_dose_mg": mg,
             "body_weight_kg": None, "body_weight_observation_id": None, "as_needed": False,
             "bounds_start": _midnight(local + timedelta(days=start)),
             "bounds_end": _midnight(local + timedelta(days=end)),
             "route_code": None, "route_text": "PO", "route_class": "systemic"},
        )  # fmt: skip


def generate(patients: int, seed: int) -> Builder:
    """All rows of a synthetic registry."""
    rng = random.Random(seed)
    b = Builder()
    for n in range(patients):
        pid = f"bench-{n:05d}"
        t0 = datetime(2022, 1, 1, 2, tzinfo=UTC) + timedelta(days=rng.randrange(900))
        _clinical(b, rng, pid, t0)
        _medications(b, pid, t0)
        _labs(b, rng, pid, t0)
    return b


ORDER = (
    "source_record",
    "patient",
    "condition",
    "encounter",
    "adverse_event",
    "medication_administration",
    "medication_order",
    "medication_order_dose",
    "observation",
)


def _sqlite_rows(name: str, b: Builder) -> list[tuple[Any, ...]]:
    """Rows with aware datetimes written as SQLite stores a `UTCDateTime` (naive UTC text)."""
    table = Base.metadata.tables[name]
    cols = b.columns[name]
    stamps = [i for i, c in enumerate(cols) if isinstance(table.c[c].type, UTCDateTime)]

    def stamp(value: datetime | None) -> str | None:
        utc = None if value is None else value.astimezone(UTC).replace(tzinfo=None)
        return None if utc is None else utc.isoformat(" ", "microseconds")

    out = []
    for row in b.rows[name]:
        values = list(row)
        for i in stamps:
            values[i] = stamp(values[i])
        out.append(tuple(values))
    return out


def fill(engine: Engine, b: Builder) -> None:
    """Insert every row in one transaction: DBAPI executemany on SQLite, COPY on PostgreSQL."""
    with engine.begin() as conn:
        conn.execute(
            insert(tables.INGEST_RUN),
            [{"id": 1, "kind": "import", "site": SITE, "source": "benchmark",
              "started_at": b.now, "finished_at": b.now, "status": "completed",
              "software_version": "bench", "details": "{}"}],
        )  # fmt: skip
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for name in ORDER:
            names = ", ".join(b.columns[name])
            if engine.dialect.name == "postgresql":
                with cursor.copy(f"COPY {name} ({names}) FROM STDIN") as copy:
                    for row in b.rows[name]:
                        copy.write_row(row)
                continue
            marks = ", ".join("?" * len(b.columns[name]))
            cursor.executemany(
                f"INSERT INTO {name} ({names}) VALUES ({marks})", _sqlite_rows(name, b)
            )
        cursor.close()
        if engine.dialect.name == "postgresql":  # ids were given: move the sequences past them
            for name in ORDER:
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                         f"(SELECT max(id) FROM {name}))")
                )  # fmt: skip
        conn.execute(text("ANALYZE"))


def time_report(
    engine: Engine, label: str, repeat: int, profile: Path | None, workers: int | None = None
) -> float:
    """Time the report `repeat` times; print each and return the median.

    `workers`: processes of the report (`build_report(workers=...)`; None: its default).
    """
    protocol = load_protocol()
    times = []
    for _ in range(repeat):
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        with engine.connect() as conn:
            if profiler:
                profiler.enable()
            report = build_report(conn, protocol, workers=workers)
            if profiler:
                profiler.disable()
                profiler.dump_stats(str(profile))
        times.append(time.perf_counter() - started)
        size = len(json.dumps(report))
        orr = [row["orr"]["percent"] for row in report["response"]]
        print(f"{label}: report for {report['cohort']['n']} patients in {times[-1]:.1f} s "
              f"(JSON {size / 1e6:.0f} MB; ORR {orr})", flush=True)  # fmt: skip
        del report
    return statistics.median(times)


def cache_key(patients: int, seed: int) -> str:
    """What the synthetic registry depends on: size, seed, generator code and schema head."""
    parts = [str(patients), str(seed), migrate.head_revision(), repr(PANEL), repr(DRAW_DAYS)]
    code = (Builder, _drug, _ma, _obs, _labs, _clinical, _medications, generate, _sqlite_rows, fill)
    parts += [inspect.getsource(f) for f in code]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def sqlite_registry(args: argparse.Namespace, b: list[Builder]) -> Path:
    """The cached SQLite registry for these parameters, built (and kept) when missing."""
    folder = args.cache_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"report-{args.patients}-{args.seed}-{cache_key(args.patients, args.seed)}.db"
    if path.exists():
        print(f"SQLite: cached registry {path}")
        return path
    building = path.with_suffix(".building")
    building.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{building}")
    try:
        _migrate_and_fill(engine, "SQLite", args, b)
    finally:
        engine.dispose()
    with sqlite3.connect(building) as raw:  # fold the WAL in, so the file stands alone
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    building.rename(path)
    return path


def _migrate_and_fill(
    engine: Engine, label: str, args: argparse.Namespace, b: list[Builder]
) -> None:
    """Create the schema and write the synthetic rows, timed."""
    migrate.upgrade(engine)
    started = time.perf_counter()
    fill(engine, _generated(args, b))
    print(f"{label}: filled in {time.perf_counter() - started:.1f} s")


def _generated(args: argparse.Namespace, cache: list[Builder]) -> Builder:
    """The synthetic rows, generated once per run."""
    if not cache:
        started = time.perf_counter()
        cache.append(generate(args.patients, args.seed))
        print(f"generated {args.patients} patients, {len(cache[0].rows['observation'])} "
              f"observation rows in {time.perf_counter() - started:.1f} s")  # fmt: skip
    return cache[0]


def _label(database: str, workers: int | None) -> str:
    return f"{database} ({'default processes' if workers is None else f'{workers} process(es)'})"


def _workers(text: str) -> list[int | None]:
    """`--workers 1,default`: the process counts to time, `default` for the report's own."""
    return [None if w.strip() == "default" else int(w) for w in text.split(",")]


def run_postgres(args: argparse.Namespace, b: list[Builder]) -> dict[int | None, float]:
    """Fill a new PostgreSQL database (dropped afterwards) and time the report."""
    name = f"masreg_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        engine = make_engine(f"postgresql://postgres@127.0.0.1:5432/{name}")
        try:
            _migrate_and_fill(engine, "PostgreSQL", args, b)
            b.clear()
            profile = args.profile.with_suffix(".pg.prof") if args.profile else None
            return {
                count: time_report(engine, _label("PostgreSQL", count), args.repeat, profile, count)
                for count in args.workers
            }
        finally:
            engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1, help="report runs; the median counts")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--cache-dir", type=Path, default=CACHE, help="cached SQLite registries")
    parser.add_argument("--profile", type=Path, help="write cProfile stats (.sqlite/.pg.prof)")
    parser.add_argument(
        "--workers",
        type=_workers,
        default=[None],
        help="report processes to time, comma-separated: numbers or `default` (the target's)",
    )
    args = parser.parse_args()
    built: list[Builder] = []
    results: dict[str, float] = {}
    if not args.skip_sqlite:
        engine = make_engine(f"sqlite:///{sqlite_registry(args, built)}")
        try:
            profile = args.profile.with_suffix(".sqlite.prof") if args.profile else None
            for count in args.workers:
                label = _label("SQLite", count)
                results[label] = time_report(engine, label, args.repeat, profile, count)
        finally:
            engine.dispose()
    if not args.skip_postgres:
        for count, seconds in run_postgres(args, built).items():
            results[_label("PostgreSQL", count)] = seconds
    for label, seconds in results.items():
        verdict = "OK" if seconds < 20 else "SLOWER THAN THE 20 s TARGET"
        print(f"report (median of {args.repeat}), {label}: {seconds:.1f} s -> {verdict}")


if __name__ == "__main__":
    main()
