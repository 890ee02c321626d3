"""The whole study report as a JSON-ready dict (issue 3 item 10).

The shape is documented in `registry/schemas/report.schema.json`; it is computed from the
registry with one protocol.

Call `build_report(conn, protocol, sites=...)` inside the caller's transaction. Every number
names the protocol, rule set, baseline rule and window rule that produced it, and every
per-patient verdict carries the registry rows and source resource versions behind it.

The per-patient work (`_part`) may be shared with helper processes reading the same snapshot
(`workers`); the cohort tables are computed once from every share (`_assemble`), so the report
is the same whatever the number of processes.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select

from adapter.terminology import Terminology
from registry import tables
from registry.gcpolicy import no_cycle_collection
from registry.outcomes import (
    fever,
    index_sql,
    infection_rows,
    infections,
    labs,
    rawtime,
    response,
    safety,
    scores,
    stats,
    steroid_rows,
    steroids,
    timeline,
)
from registry.outcomes import parts as parts_
from registry.outcomes import workers as workers_
from registry.outcomes.protocol import Protocol
from registry.outcomes.ranges import Ranges
from registry.outcomes.report_patients import lab_points, observations, patient_entry
from registry.outcomes.values import Citations, IndexEvent, PatientValues, Source

REPORT_VERSION = "2.0"
COND = tables.CONDITION
SR = tables.SOURCE_RECORD
Key = tuple[str, str]


def _software_version() -> str:
    try:
        return version("mas-registry")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _diseases(conn: Connection, sites: Sequence[str]) -> dict[Key, str]:
    """Underlying disease per patient (AOSD, SLE; several joined with '+'; 6.5)."""
    stmt = select(COND.c.site, COND.c.patient_source_id, COND.c.concept).where(
        COND.c.category == "underlying_disease",
        COND.c.concept.is_not(None),
        COND.c.exclusion.is_(None),
        COND.c.verification_status.is_(None)
        | COND.c.verification_status.not_in(["refuted", "entered-in-error"]),
        *([COND.c.site.in_(list(sites))] if sites else []),
    )
    found: dict[Key, set[str]] = defaultdict(set)
    for site, pid, concept in conn.execute(stmt):
        found[(site, pid)].add(concept)
    return {key: "+".join(sorted(names)) for key, names in found.items()}


def _lineage(conn: Connection, ids: set[int]) -> dict[int, Source]:
    """Source resource versions of source-record ids.

    Read by id ranges (a course's records are mostly consecutive: one range query reads
    thousands), the times untyped; ids in a range that were not asked for are skipped.
    """
    out: dict[int, Source] = {}
    stmt = select(
        SR.c.id,
        SR.c.resource_type,
        SR.c.resource_id,
        SR.c.version_id,
        rawtime.untyped(SR.c.last_updated),
    ).where(SR.c.id.between(bindparam("low"), bindparam("high")))
    for low, high in _ranges(sorted(ids)):
        for rid, rtype, res_id, vid, updated in conn.execute(stmt, {"low": low, "high": high}):
            if rid in ids:
                out[rid] = Source(rtype, res_id, vid, rawtime.iso_instant(updated), rid)
    return out


def _ranges(ordered: Sequence[int], size: int = 2000) -> Iterator[tuple[int, int]]:
    """(low, high) id ranges covering `ordered`.

    Each holds at most `size` asked ids and spans at most 4 x `size` ids (sparse ids get more,
    narrower ranges).
    """
    start = 0
    while start < len(ordered):
        end = min(start + size, len(ordered))
        while end - start > 1 and ordered[end - 1] - ordered[start] >= 4 * size:
            end = start + max(1, (end - start) // 2)
        yield ordered[start], ordered[end - 1]
        start = end


def _steroids(
    conn: Connection,
    protocol: Protocol,
    sites: Sequence[str],
    cohort: Sequence[IndexEvent],
    within: Table,
) -> tuple[dict[Key, steroids.SteroidCourse], dict[int, Source]]:
    """Every patient's steroid course, and the lineage of every record behind its days."""
    given = steroid_rows.load_given(conn, protocol, sites, within=within)
    orders = steroid_rows.load_instructions(conn, protocol, sites, within=within)
    weights = steroid_rows.load_weights(conn, protocol, sites, within=within)
    courses = {
        ie.key: steroids.course(
            protocol, ie, given.get(ie.key, []), orders.get(ie.key, []), weights.get(ie.key, [])
        )
        for ie in cohort
    }
    wanted = {
        i for c in courses.values() for day in c.runs for _drug, _kind, ids in day.sources
        for i in ids
    }  # fmt: skip
    return courses, _lineage(conn, wanted)


def _infections(
    conn: Connection,
    protocol: Protocol,
    sites: Sequence[str],
    cohort: Sequence[IndexEvent],
    within: Table,
) -> dict[Key, dict[str, infections.Infection]]:
    """Every patient's infection status per configured organism."""
    cfg = protocol.section("infections")
    analytes: dict[str, tuple[str, str]] = {}
    drugs: dict[str, str] = {}
    for organism, spec in cfg["lab"].items():
        analytes.update({a: (organism, "dna") for a in spec.get("dna_analytes", [])})
        if spec.get("igg_analyte"):
            analytes[spec["igg_analyte"]] = (organism, "igg")
        drugs.update({d: organism for d in spec.get("treatment_ingredients", [])})
    events: dict[Key, list[infection_rows.Event]] = defaultdict(list)
    for found in (
        infection_rows.load_results(conn, protocol, sites, analytes, within=within),
        infection_rows.load_coded(conn, sites, cfg["organisms"], within=within),
        infection_rows.load_treatments(conn, sites, drugs, within=within),
    ):
        for key, items in found.items():
            events[key].extend(items)
    return {
        ie.key: {
            o: infections.classify(ie, o, events.get(ie.key, []), cfg) for o in cfg["organisms"]
        }
        for ie in cohort
    }


def _canonical(protocol: Protocol) -> dict[str, str]:
    term = Terminology.from_mapping(protocol.settings.get("terminology", {}))
    return {k: a.canonical_unit for k, a in term.analytes.items() if a.canonical_unit}


def _tune(conn: Connection) -> None:
    """Session settings for the report's few large queries (this transaction only).

    PostgreSQL: no JIT compilation (it costs seconds per statement and saves less here) and
    enough memory to hash the per-patient groups without spilling to disk.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")


def build_report(
    conn: Connection,
    protocol: Protocol,
    *,
    sites: Sequence[str] = (),
    workers: int | None = None,
) -> dict[str, Any]:
    """Compute every outcome of the protocol and assemble the report.

    `workers`: processes sharing the per-patient work (`registry.outcomes.workers`); None: two
    on a machine with two CPUs for a registry of 2,000 patients or more, else one. The report
    is the same whatever the number.
    """
    with no_cycle_collection():
        task = functools.partial(_helper_share, protocol, tuple(sites))
        with workers_.team(conn, workers, task) as team:
            _tune(conn)
            with index_sql.patient_timeline(conn, protocol, sites) as table:
                cohort = timeline.load_index_events(conn, table)
                mine = cohort
                if team.helpers:  # hand out the patients; keep this process's share
                    rows = team.hand_out(index_sql.timeline_rows(conn, table))
                    index_sql.keep_patients(conn, table, rows)
                    kept = {(row[1], row[2]) for row in rows}  # (site, pid)
                    mine = [ie for ie in cohort if ie.key in kept]
                part, diseases = _part(conn, protocol, sites, table, mine)
            parts = [part]
            for rows, payload in team.results():
                if payload is None:  # its helper could not start: computed here instead
                    parts.append(_rows_part(conn, protocol, sites, rows))
                else:
                    parts.append(parts_.decode(payload))
        return _assemble(conn, protocol, sites, cohort, diseases, parts)


def _helper_share(
    protocol: Protocol, sites: Sequence[str], conn: Connection, rows: list[tuple[Any, ...]]
) -> bytes:
    """A helper process's share of the report (its patients' timeline rows), for the pipe."""
    with no_cycle_collection():
        _tune(conn)
        return parts_.encode(_rows_part(conn, protocol, sites, rows))


def _rows_part(
    conn: Connection, protocol: Protocol, sites: Sequence[str], rows: list[tuple[Any, ...]]
) -> parts_.Part:
    """The share of the patients of these timeline rows."""
    with index_sql.given_timeline(conn, rows) as table:
        return _part(conn, protocol, sites, table, timeline.load_index_events(conn, table))[0]


def _part(
    conn: Connection,
    protocol: Protocol,
    sites: Sequence[str],
    table: Table,
    cohort: Sequence[IndexEvent],
) -> tuple[parts_.Part, dict[Key, str]]:
    """The patients of a timeline table: their listing entries and what the cohort tables need.

    Also returns the underlying diseases of every patient (the cohort table counts them).
    """
    analytes = response.needed_analytes(protocol) | set(protocol.section("labs")["analytes"])
    values = timeline.select_values(conn, protocol, table, analytes)
    fever.select_fever(conn, protocol, table, response.fever_hours(protocol), values)
    verdicts = _verdicts(protocol, cohort, values)
    diseases = _diseases(conn, sites)
    courses, lineage = _steroids(conn, protocol, sites, cohort, table)
    infected = _infections(conn, protocol, sites, cohort, table)
    cite = Citations()
    primary = protocol.rule_set
    remission_rule = str(protocol.section("response")["remission_rule_set"])
    slots = ["baseline", *(t.name for t in protocol.timepoints), timeline.EOF_SLOT]
    lab_analytes = list(protocol.section("labs")["analytes"])
    empty = PatientValues()
    entries = {
        ie.key: {
            **patient_entry(
                ie,
                diseases.get(ie.key, "unknown"),
                {name: by_patient[ie.key] for name, by_patient in verdicts.items()},
                primary,
                remission_rule,
                courses[ie.key],
                lineage,
                infected[ie.key],
                cite,
            ),
            "observations": observations(values.get(ie.key), cite),
            "labs": lab_points(values.get(ie.key), lab_analytes, slots),
            "scores": _scores(values.get(ie.key, empty), courses[ie.key]),
        }
        for ie in cohort
    }
    part = parts_.Part(
        entries=entries,
        sources=cite.as_json(),
        statuses=parts_.statuses(verdicts),
        points=labs.collect(protocol, cohort, values),
        courses={key: parts_.light_course(c) for key, c in courses.items()},
        infected=infected,
    )
    return part, diseases


def _verdicts(
    protocol: Protocol, cohort: Sequence[IndexEvent], values: Mapping[Key, PatientValues]
) -> dict[str, dict[Key, list[response.Assessment]]]:
    """Every patient's verdicts under every rule set in use."""
    canonical = _canonical(protocol)
    empty = PatientValues()
    by_sex = {sex: Ranges(protocol, sex, canonical) for sex in {ie.sex for ie in cohort}}
    names = response.rule_sets_used(protocol)
    verdicts: dict[str, dict[Key, list[response.Assessment]]] = {name: {} for name in names}
    for ie in cohort:
        mine, ranges = values.get(ie.key, empty), by_sex[ie.sex]
        with ranges.remembering():  # the patient's values, judged once for every rule set
            for name in names:
                verdicts[name][ie.key] = response.assess_patient(
                    protocol, name, ie, mine, canonical, ranges
                )
    return verdicts


def _assemble(
    conn: Connection,
    protocol: Protocol,
    sites: Sequence[str],
    cohort: Sequence[IndexEvent],
    diseases: Mapping[Key, str],
    parts: Sequence[parts_.Part],
) -> dict[str, Any]:
    """The report from the shares of every process, in cohort order."""
    whole = parts_.merged(parts)
    verdicts = parts_.assessments(whole.statuses)
    report = _cohort_tables(protocol, cohort, diseases, verdicts, whole.points)
    report["steroids"] = _steroid_tables(protocol, [whole.courses[ie.key] for ie in cohort])
    report["infections"] = infections.cohort_table(
        protocol.section("infections")["organisms"],
        [whole.infected[ie.key] for ie in cohort],
        len(cohort),
    )
    cite = Citations()
    report.update(
        safety.summarise(
            cohort,
            safety.load_adverse_events(conn, sites),
            protocol.section("adverse_events"),
            cite,
        )
    )
    report["patients"] = [whole.entries[ie.key] for ie in cohort]
    report["cohort"]["scores"] = _score_summary(report["patients"])
    report["sources"] = parts_.sorted_sources([whole.sources, cite.as_json()])
    return report


def _scores(values: PatientValues, course: steroids.SteroidCourse) -> dict[str, Any]:
    """Baseline HScore and MAS 2016 of one patient (cohort description, CLINICAL-SPEC 3.6)."""
    hot = [v.value for k, v in values.fever.items() if k.startswith("baseline@") and v.value]
    before = any(d.study_day < 0 and d.mg > 0 for d in course.runs)
    return scores.baseline_scores(values.baseline, max(hot) if hot else None, before)


def _score_summary(patients: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """HScore median and patients >= 169; patients classified MAS by the 2016 criteria."""
    values = [float(p["scores"]["hscore"]["value"]) for p in patients]
    n = len(patients)
    return {
        "hscore": stats.describe(values, "1"),
        "hscore_at_or_above_169": stats.proportion(
            sum(v >= scores.HSCORE_CUTOFF for v in values), n
        ),
        "mas_2016": stats.proportion(
            sum(bool(p["scores"]["mas_2016"]["value"]) for p in patients), n
        ),
    }


def _cohort_tables(
    protocol: Protocol,
    cohort: Sequence[IndexEvent],
    diseases: Mapping[Key, str],
    verdicts: Mapping[str, Mapping[Key, Sequence[response.Assessment]]],
    points: labs.LabPoints,
) -> dict[str, Any]:
    """Protocol, cohort, response, remission, alternatives and laboratory trajectories."""
    n = len(cohort)
    primary = protocol.rule_set
    remission_rule = str(protocol.section("response")["remission_rule_set"])
    by_disease = Counter(diseases.get(ie.key, "unknown") for ie in cohort)
    return {
        "report_version": REPORT_VERSION,
        "software_version": _software_version(),
        "protocol": protocol.describe(),
        "sites": sorted({ie.site for ie in cohort}),
        "cohort": {
            "n": n,
            "denominator": "patients with at least one emapalumab dose (T0)",
            "by_underlying_disease": dict(sorted(by_disease.items())),
            "index_from_order": sum(1 for ie in cohort if ie.t0_kind == "order"),
            "deceased": sum(1 for ie in cohort if ie.deceased_at is not None),
            "median_follow_up_days": stats.describe([float(ie.eof_day) for ie in cohort], "0.1"),
        },
        "response": response.response_table(protocol, list(verdicts[primary].values()), n),
        "remission_end_of_follow_up": response.remission(
            list(verdicts[remission_rule].values()), n, remission_rule
        ),
        "best_response": _best(protocol, verdicts[primary], n),
        "alternative_rule_sets": [
            {
                "rule_set": name,
                "version": str(protocol.rule_params(name)["version"]),
                "response": response.response_table(protocol, list(by_patient.values()), n),
                "end_of_follow_up": response.remission(list(by_patient.values()), n, name),
            }
            for name, by_patient in verdicts.items()
            if name != primary
        ],
        "labs": labs.tables(protocol, points, n),
    }


def _best(
    protocol: Protocol, by_patient: Mapping[Key, Sequence[response.Assessment]], n: int
) -> list[dict[str, Any]]:
    """Best response to date per time point: patients with CR/PR (or HI) so far."""
    best = [response.best_to_date(items) for items in by_patient.values()]
    return [
        {
            "timepoint": t.name,
            "responders": stats.proportion(
                sum(1 for b in best if b.get(t.name) in ("CR", "PR", "HI")), n
            ),
        }
        for t in protocol.timepoints
    ]


def _steroid_tables(
    protocol: Protocol, courses: Sequence[steroids.SteroidCourse]
) -> dict[str, Any]:
    """Cohort steroid statistics (both labelled) and weekly medians."""
    summary = steroids.cohort_summary(courses)
    summary["weeks_median_mg"] = {
        t.name: stats.describe(
            [float(mg) for c in courses if (mg := c.weeks.get(t.name)) is not None]
        )
        for t in protocol.timepoints
    }
    summary["patients_with_pulse_days"] = sum(1 for c in courses if c.pulse_day_count)
    summary["n"] = len(courses)
    return summary
