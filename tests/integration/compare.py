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
REPORT_LINEAGE = frozenset({"record_ids", "row_id", "adverse_event_id", "last_updated"})


def without_lineage(value: Any) -> Any:
    """A `masreg report --format json` document without its lineage fields."""
    if isinstance(value, dict):
        return {k: without_lineage(v) for k, v in value.items() if k not in REPORT_LINEAGE}
    if isinstance(value, list):
        return [without_lineage(item) for item in value]
    return value
