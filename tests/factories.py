"""Small builders of FHIR R4 resources for tests (synthetic data only)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def meta(version: str = "1", updated: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    return {"versionId": version, "lastUpdated": updated}


def patient(pid: str = "p1", *, gender: str = "female", **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "meta": meta(),
        "gender": gender,
        "birthDate": "1980-05",
    } | extra


def observation(
    oid: str,
    *,
    patient_id: str = "p1",
    loinc: str = "2276-4",
    value: Any = 1200,
    unit: str | None = "ng/mL",
    code: str | None = "ng/mL",
    when: str = "2024-03-01T08:00:00+08:00",
    status: str = "final",
    version: str = "1",
    updated: str = "2024-03-01T09:00:00Z",
    **extra: Any,
) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if unit is not None:
        quantity["unit"] = unit
    if code is not None:
        quantity |= {"system": UCUM, "code": code}
    return {
        "resourceType": "Observation",
        "id": oid,
        "meta": meta(version, updated),
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "valueQuantity": quantity,
    } | extra


def administration(
    aid: str,
    *,
    patient_id: str = "p1",
    medication: dict[str, Any] | None = None,
    dose: dict[str, Any] | None = None,
    route: str = "47625008",
    when: str = "2024-03-01T10:00:00+08:00",
    status: str = "completed",
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": aid,
        "meta": meta(),
        "status": status,
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "dosage": {
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": route}]},
            "dose": dose or {"value": 40, "unit": "mg", "system": UCUM, "code": "mg"},
        },
    }
    if medication is None:
        medication = {
            "medicationCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "6902",
                        "display": "methylprednisolone",
                    }
                ]
            }
        }
    return resource | medication | extra


def write_ndjson(path: Path, resources: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in resources), encoding="utf-8"
    )
    return path
