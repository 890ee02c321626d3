"""Compare registries by their clinical content, whatever the source and run numbering.

A pulled resource carries the server's `meta` (SEKMET rewrites versionId and lastUpdated), so the
lineage tables differ from an import of the same files by construction; every concept table,
and the quarantine by resource and reason, must not.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from tests.registry.snapshot import snapshot

LINEAGE = ("source_record", "source_record_history")
_QUARANTINE_KEYS = ("resource_type", "resource_id", "reason_code", "field_path", "status")


def clinical_snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """`tests.registry.snapshot` without lineage, quarantine reduced to resource and reason."""
    tables = snapshot(engine)
    for name in LINEAGE:
        tables.pop(name, None)
    tables["quarantine"] = sorted(
        tuple(pair for pair in row if pair[0] in _QUARANTINE_KEYS) for row in tables["quarantine"]
    )
    return tables


def differences(expected: dict[str, list[Any]], actual: dict[str, list[Any]]) -> dict[str, Any]:
    """Per table: rows only in `expected` and only in `actual` (counts), empty when equal."""
    out = {}
    for table in sorted(set(expected) | set(actual)):
        left, right = set(expected.get(table, [])), set(actual.get(table, []))
        if left != right or len(expected.get(table, [])) != len(actual.get(table, [])):
            out[table] = {"missing": len(left - right), "extra": len(right - left)}
    return out


# Report fields that point into the lineage (row ids, source record ids and their lastUpdated):
# they differ between a pull and an import by construction.
REPORT_LINEAGE = frozenset({"row_id", "adverse_event_id", "last_updated"})


def without_lineage(report: dict[str, Any]) -> dict[str, Any]:
    """A `masreg report --format json` document (format 2) with its ids resolved and dropped.

    Source record ids become the versioned references they cite (`sources`), observation ids
    the selected values they name (each patient's `observations`), so two registries of the
    same data compare equal whatever their row numbering.
    """
    cited = {int(k): v["reference"] for k, v in report["sources"].items()}
    out = {k: v for k, v in report.items() if k not in ("sources", "patients")}
    out = _resolve(out, cited, {})
    out["sources"] = sorted(cited.values())
    out["patients"] = [_patient(p, cited) for p in report["patients"]]
    return out


def _patient(patient: dict[str, Any], cited: dict[int, str]) -> dict[str, Any]:
    values = {int(k): _resolve(v, cited, {}) for k, v in patient["observations"].items()}
    rest = {k: v for k, v in patient.items() if k not in ("observations", "labs")}
    out = _resolve(rest, cited, values)
    out["observations"] = sorted(values.values(), key=lambda v: (v["analyte"], v["effective"]))
    out["labs"] = {
        analyte: {slot: values[i] for slot, i in points.items()}
        for analyte, points in patient["labs"].items()
    }
    return out


def _resolve(value: Any, cited: dict[int, str], values: dict[int, Any], key: str = "") -> Any:
    if isinstance(value, dict):
        return {
            k: _resolve(v, cited, values, k) for k, v in value.items() if k not in REPORT_LINEAGE
        }
    if isinstance(value, list):
        if key in ("record_ids", "derived_from"):
            return sorted(cited.get(i, i) for i in value)
        return [_resolve(item, cited, values) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        if key == "source":
            return cited.get(value, value)
        if key in ("baseline", "value") and values:
            return values.get(value, value)
    return value
