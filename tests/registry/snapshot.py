"""Compare registries by content: every table, with run ids and row ids replaced by source keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from registry import models, rowsql
from registry.db import Base

_VOLATILE = {
    "ingest_run_id",
    "last_seen_run_id",
    "last_outcome",
    "archived_run_id",
    "first_run_id",
    "last_run_id",
    "resolved_run_id",
    "times_seen",
    "created_at",
    "updated_at",
    "deleted_at",
    "origin",
    "locator",
}


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows as sorted tuples, independent of insertion order and run numbering."""
    sr = models.SourceRecord.__table__
    obs = models.Observation.__table__
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        keys = {
            r.id: (r.resource_type, r.resource_id)
            for r in conn.execute(select(sr.c.id, sr.c.resource_type, sr.c.resource_id))
        }
        obs_keys = {
            r.id: (keys[r.source_record_id], r.component_index, r.derivation)
            for r in conn.execute(
                select(obs.c.id, obs.c.source_record_id, obs.c.component_index, obs.c.derivation)
            )
        }
        for table in Base.metadata.sorted_tables:
            if table.name == "ingest_run":
                continue
            rows = []
            for row in conn.execute(select(table)):
                data = dict(row._mapping)
                link = rowsql.LINK_COLUMN.get(table.name, "id")
                if table.name in ("source_record", "source_record_history", "quarantine"):
                    data.pop("id")
                elif table.name in ("observation",):
                    data["id"] = obs_keys[data["id"]]
                    data["source_record_id"] = keys[data["source_record_id"]]
                    for col in ("derived_from_id", "derived_from_other_id"):
                        data[col] = obs_keys.get(data[col]) if data[col] else None
                else:
                    if link != "id":
                        data.pop("id", None)
                    data[link] = keys.get(data[link], data[link])
                for col in ("body_weight_observation_id",):
                    if data.get(col):
                        data[col] = obs_keys[data[col]]
                for col in _VOLATILE:
                    data.pop(col, None)
                rows.append(tuple(sorted((k, repr(v)) for k, v in data.items())))
            out[table.name] = sorted(rows)
    return out
