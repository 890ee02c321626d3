"""The registry's tables as typed Core `Table` objects, for the Core statements on hot paths.

`Model.__table__` is typed as a generic FromClause; these constants are the same objects typed as
`Table`, so Core inserts, updates and deletes type-check without casts at every call site.
"""

from __future__ import annotations

from sqlalchemy import Table

from registry import models
from registry.db import Base


def table_of(model: type[Base]) -> Table:
    """Return a model's Table."""
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - declarative models always have one
        raise TypeError(f"{model.__name__} has no Table")
    return table


SOURCE_RECORD = table_of(models.SourceRecord)
HISTORY = table_of(models.SourceRecordHistory)
INGEST_RUN = table_of(models.IngestRun)
QUARANTINE = table_of(models.Quarantine)
PATIENT = table_of(models.Patient)
CONDITION = table_of(models.Condition)
ENCOUNTER = table_of(models.Encounter)
DIAGNOSTIC_REPORT = table_of(models.DiagnosticReport)
GROUP_MEMBER = table_of(models.GroupMember)
OBSERVATION = table_of(models.Observation)
MEDICATION = table_of(models.Medication)
MEDICATION_ADMINISTRATION = table_of(models.MedicationAdministration)
MEDICATION_ORDER = table_of(models.MedicationOrder)
MEDICATION_ORDER_DOSE = table_of(models.MedicationOrderDose)
ADVERSE_EVENT = table_of(models.AdverseEvent)
ADVERSE_EVENT_CRITERION = table_of(models.AdverseEventCriterion)
