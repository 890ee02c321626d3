"""Row types: what the mappers produce, one frozen dataclass per registry table.

Rows carry no provenance: the loader attaches each to the source record (site, origin, resource
type, id, version, hash, run) of the resource it came from. Times are UTC-aware datetimes; a
value known only to the day, month or year is stored at midnight UTC of its first day with the
precision beside it, and is read back as a *floating* local date (see `adapter.fhir.FhirTime`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class PatientRow:
    """Patient: the demographics the study needs, nothing identifying."""

    sex: str | None
    birth_date: date | None
    birth_date_precision: str | None
    deceased: bool | None
    deceased_at: datetime | None
    deceased_precision: str | None


@dataclass(frozen=True, slots=True)
class ConditionRow:
    """Condition: underlying disease, MAS/HLH, infection or other (CLINICAL-SPEC 6.5, 6.6)."""

    patient_id: str
    category: str  # underlying_disease | mas_hlh | infection | other
    concept: str | None  # AOSD, SLE, MAS, HLH, CMV, EBV, ...; None when no code list matched
    match_path: str | None  # snomed | icd10 | local | text
    code_system: str | None
    code: str | None
    code_display: str | None
    code_text: str | None
    clinical_status: str | None
    verification_status: str | None
    onset_at: datetime | None
    onset_precision: str | None
    abatement_at: datetime | None
    abatement_precision: str | None
    recorded_at: datetime | None
    exclusion: str | None  # entered-in-error | refuted | None


@dataclass(frozen=True, slots=True)
class ObservationRow:
    """One observed value: the main value or one component (CLINICAL-SPEC 6.1-6.4)."""

    patient_id: str
    component_index: int | None  # None for Observation.value[x]; i for component[i]
    analyte: str | None  # canonical analyte key; None when the code is not a study analyte
    analyte_match: str | None  # loinc | local | text (text matches are flagged)
    code_system: str | None
    code: str | None
    code_display: str | None
    code_text: str | None
    category: str | None
    status: str
    value: float | None  # in `unit`, the canonical unit of the analyte
    unit: str | None
    value_original: str | None  # the number as written in the source (decimal string)
    unit_original: str | None  # valueQuantity.unit
    unit_code_original: str | None  # valueQuantity.code
    unit_system_original: str | None
    comparator: str | None  # < <= >= > ad
    conversion: str | None  # e.g. "mg/dL->mmol/L x 1129/100000"; None when no conversion
    value_string: str | None
    value_code_system: str | None
    value_code: str | None
    value_code_display: str | None
    interpretation: str | None  # interpretation codes, comma-joined
    reference_low: float | None  # canonical unit
    reference_high: float | None
    reference_text: str | None
    specimen: str | None  # specimen type code or text, or the Specimen reference
    effective_at: datetime | None
    effective_precision: str | None
    effective_end_at: datetime | None
    issued_at: datetime | None
    exclusion: str | None  # entered-in-error | cancelled | None


@dataclass(frozen=True, slots=True)
class GroupMemberRow:
    """Membership of an atomic result in a panel (hasMember) or DiagnosticReport (result)."""

    member_type: str
    member_id: str


@dataclass(frozen=True, slots=True)
class DiagnosticReportRow:
    """DiagnosticReport: kept for grouping results by specimen (ANC derivation, 6.4)."""

    patient_id: str
    status: str
    code_system: str | None
    code: str | None
    code_text: str | None
    effective_at: datetime | None
    effective_precision: str | None
    issued_at: datetime | None
    exclusion: str | None


@dataclass(frozen=True, slots=True)
class EncounterRow:
    """Encounter: its period bounds the end of follow-up (CLINICAL-SPEC 2)."""

    patient_id: str
    status: str | None
    class_code: str | None
    period_start: datetime | None
    period_start_precision: str | None
    period_end: datetime | None
    period_end_precision: str | None
    exclusion: str | None


@dataclass(frozen=True, slots=True)
class DrugMatch:
    """How a medication was identified (CLINICAL-SPEC 4.4, the path that matched recorded)."""

    ingredient: str | None
    match_path: str | None  # rxnorm_in | rxnorm_table | atc | name
    drug_class: str  # emapalumab | glucocorticoid | other_mas_therapy | other
    code_system: str | None
    code: str | None
    text: str | None


@dataclass(frozen=True, slots=True)
class MedicationRow:
    """Medication resource, so administrations and orders that reference it can be resolved."""

    drug: DrugMatch
    strength_mg_per_unit: float | None  # e.g. 5 for "5 mg tablet", when stated
    form: str | None


@dataclass(frozen=True, slots=True)
class MedicationAdministrationRow:
    """One administration; glucocorticoids get a prednisone-equivalent dose (4.2-4.3)."""

    patient_id: str
    status: str
    drug: DrugMatch
    medication_source: str  # concept | contained | bundle | reference
    medication_ref: str | None  # "Medication/<id>" still to resolve after load
    dose_value_original: str | None
    dose_unit_original: str | None
    dose_mg: float | None  # None for mg/kg doses until body weight is applied, or no dose
    dose_mg_per_kg: float | None
    route_code: str | None
    route_text: str | None
    route_class: str  # systemic | local | intra-articular | excluded | unspecified
    effective_at: datetime | None
    effective_precision: str | None
    effective_end_at: datetime | None
    prednisone_factor: str | None  # exact fraction, e.g. "20/3"; None if not a glucocorticoid
    exclusion: str | None  # entered-in-error | not-done | None


@dataclass(frozen=True, slots=True)
class MedicationOrderDoseRow:
    """One dosage instruction of a MedicationRequest/Statement (a taper has several)."""

    sequence: int
    text: str | None
    dose_value_original: str | None
    dose_unit_original: str | None
    dose_mg: float | None
    dose_mg_per_kg: float | None
    frequency: int | None
    period: float | None
    period_unit: str | None
    per_day: str | None  # administrations per day as an exact fraction, e.g. "2" or "1/2"
    daily_dose_mg: float | None  # dose_mg x per_day; None when not computable
    as_needed: bool
    bounds_start: datetime | None
    bounds_end: datetime | None
    route_code: str | None
    route_text: str | None
    route_class: str


@dataclass(frozen=True, slots=True)
class MedicationOrderRow:
    """MedicationRequest (kind=request) or MedicationStatement (kind=statement), 4.3."""

    patient_id: str
    kind: str  # request | statement
    status: str
    intent: str | None
    drug: DrugMatch
    medication_source: str
    medication_ref: str | None
    authored_at: datetime | None
    effective_start: datetime | None
    effective_end: datetime | None
    effective_precision: str | None
    prednisone_factor: str | None
    doses: tuple[MedicationOrderDoseRow, ...]
    exclusion: str | None


@dataclass(frozen=True, slots=True)
class AdverseEventRow:
    """AdverseEvent in R4 or R5 shape (CLINICAL-SPEC 5.2-5.4)."""

    patient_id: str
    actuality: str  # actual | potential
    status: str | None  # R5 only
    term_system: str | None
    term_code: str | None
    term_display: str | None
    term_text: str | None
    infection_organism: str | None  # CMV | EBV | ... (6.6); None when not an infection
    seriousness_code: str | None  # as written
    is_serious: bool | None  # None when seriousness is not stated
    seriousness_criteria: tuple[str, ...]  # death, life-threatening, hospitalization, ...
    severity: str | None  # mild | moderate | severe
    ctcae_grade: int | None
    outcome: str | None
    occurred_at: datetime | None
    occurred_precision: str | None
    detected_at: datetime | None
    recorded_at: datetime | None
    resulting_conditions: tuple[str, ...]  # "Condition/<id>" references
    exclusion: str | None


Row = (
    PatientRow
    | ConditionRow
    | ObservationRow
    | GroupMemberRow
    | DiagnosticReportRow
    | EncounterRow
    | MedicationRow
    | MedicationAdministrationRow
    | MedicationOrderRow
    | AdverseEventRow
)
