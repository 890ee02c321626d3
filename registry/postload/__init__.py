"""Post-load checks: what can only be decided from the registry as a whole, after a run's batches.

Each check is global for the site and idempotent (it recomputes its state from the registry), so a
run interrupted before this step is completed by the next run, and a repeated run changes
nothing. Resources a check quarantines are moved to `quarantined` in this run's counts when this
run read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, select, text

from adapter.mappers import MappingContext
from registry import tables
from registry.counts import RunCounts
from registry.postload.derived import derive_anc
from registry.postload.duplicates import flag_duplicates
from registry.postload.medications import apply_body_weights, resolve_medications
from registry.postload.patients import flag_missing_patients
from registry.quarantine import QuarantineEntry

SR = tables.SOURCE_RECORD
_ANALYZED = (
    "source_record",
    "observation",
    "group_member",
    "patient",
    "condition",
    "encounter",
    "diagnostic_report",
    "medication",
    "medication_administration",
    "medication_order",
    "medication_order_dose",
    "adverse_event",
)


@dataclass(slots=True)
class PostloadReport:
    """What the post-load checks did, for the run record and the summary."""

    medications_resolved: int = 0
    doses_weighed: int = 0
    derived_anc: int = 0
    flagged: dict[str, int] = field(default_factory=dict)


def run_postload(
    conn: Connection, *, site: str, run_id: int, context: MappingContext, counts: RunCounts
) -> PostloadReport:
    """Run every post-load check for a site inside the caller's transaction."""
    if conn.dialect.name == "postgresql":
        # Fresh planner statistics: right after a bulk load they still describe the tables as
        # they were, and the checks' joins get nested-loop plans over hundreds of thousands of
        # rows. ANALYZE samples a fixed number of rows, so it costs little at any size.
        conn.execute(text(f"ANALYZE {', '.join(_ANALYZED)}"))
    report = PostloadReport()
    flagged: dict[int, QuarantineEntry] = {}
    report.medications_resolved = resolve_medications(
        conn, site=site, run_id=run_id, context=context, flagged=flagged
    )
    report.doses_weighed = apply_body_weights(conn, site=site, run_id=run_id, flagged=flagged)
    flag_missing_patients(conn, site=site, run_id=run_id, flagged=flagged)
    flag_duplicates(conn, site=site, run_id=run_id, flagged=flagged)
    report.derived_anc = derive_anc(conn, site=site)
    for entry in flagged.values():
        report.flagged[entry.reason_code] = report.flagged.get(entry.reason_code, 0) + 1
    _account(conn, flagged, run_id=run_id, counts=counts)
    return report


def _account(
    conn: Connection, flagged: dict[int, QuarantineEntry], *, run_id: int, counts: RunCounts
) -> None:
    """Move flagged resources this run read from their bucket to `quarantined`."""
    ids = list(flagged)
    for start in range(0, len(ids), 500):
        stmt = select(SR.c.resource_type, SR.c.last_outcome).where(
            SR.c.id.in_(ids[start : start + 500]), SR.c.last_seen_run_id == run_id
        )
        for row in conn.execute(stmt):
            counts.move(row.resource_type, row.last_outcome, "quarantined")
