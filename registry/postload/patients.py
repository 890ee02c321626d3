"""Resources whose subject Patient is not in the registry are quarantined until it arrives."""

from __future__ import annotations

from sqlalchemy import Connection, Table, and_, select

from registry import tables
from registry.postload.common import entries_for, replace_open
from registry.quarantine import QuarantineEntry

PATIENT = tables.PATIENT

# Patient-scoped tables and the column that leads back to the source record.
_SCOPED: tuple[tuple[Table, str], ...] = (
    (tables.OBSERVATION, "source_record_id"),
    (tables.CONDITION, "id"),
    (tables.ENCOUNTER, "id"),
    (tables.DIAGNOSTIC_REPORT, "id"),
    (tables.MEDICATION_ADMINISTRATION, "id"),
    (tables.MEDICATION_ORDER, "id"),
    (tables.ADVERSE_EVENT, "id"),
)


def flag_missing_patients(
    conn: Connection, *, site: str, run_id: int, flagged: dict[int, QuarantineEntry]
) -> None:
    """Quarantine (reason `missing-patient`) every record whose Patient is absent."""
    reasons: dict[int, str] = {}
    for table, link in _SCOPED:
        stmt = (
            select(table.c[link], table.c.patient_source_id)
            .distinct()
            .select_from(
                table.outerjoin(
                    PATIENT,
                    and_(
                        PATIENT.c.site == table.c.site,
                        PATIENT.c.source_id == table.c.patient_source_id,
                    ),
                )
            )
            .where(table.c.site == site, PATIENT.c.id.is_(None))
        )
        for record_id, patient in conn.execute(stmt):
            reasons[record_id] = (
                f"its subject Patient/{patient} is not in the registry for site {site!r}; "
                "it is kept but excluded from outcomes until that Patient is imported"
            )
    entries = entries_for(conn, reasons, "missing-patient", reasons, "{type}.subject")
    replace_open(
        conn, entries, site=site, run_id=run_id, reason_code="missing-patient", flagged=flagged
    )
