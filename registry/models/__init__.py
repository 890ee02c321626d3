"""Registry tables, one per concept; importing this package registers them all on Base."""

from __future__ import annotations

from registry.models.clinical import (
    Condition,
    DiagnosticReport,
    Encounter,
    GroupMember,
    Observation,
    Patient,
)
from registry.models.lineage import IngestRun, Quarantine, SourceRecord, SourceRecordHistory
from registry.models.medications import (
    Medication,
    MedicationAdministration,
    MedicationOrder,
    MedicationOrderDose,
)
from registry.models.safety import AdverseEvent, AdverseEventCriterion

__all__ = [
    "AdverseEvent",
    "AdverseEventCriterion",
    "Condition",
    "DiagnosticReport",
    "Encounter",
    "GroupMember",
    "IngestRun",
    "Medication",
    "MedicationAdministration",
    "MedicationOrder",
    "MedicationOrderDose",
    "Observation",
    "Patient",
    "Quarantine",
    "SourceRecord",
    "SourceRecordHistory",
]
