"""Deterministic synthetic FHIR R4 NDJSON for the import benchmark.

The mix follows what a hospital's bulk export of MAS patients looks like: mostly laboratory and
vital-sign Observations (study analytes by LOINC in canonical and convertible units, a few
text-only Chinese codes, panels with components, analytes the registry does not study), some
MedicationAdministrations (RxNorm glucocorticoids and emapalumab, mg and mg/kg doses), a
Condition and a Patient per patient. Patients come first, so the post-load missing-patient check
finds them all. About 1 value in 100 is written with trailing zeros ("2.250"), which the exact
JSON path must keep.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

# (LOINC, display, unit, low, high, digits): study analytes, some in convertible units.
LABS: tuple[tuple[str, str, str, float, float, int], ...] = (
    ("2276-4", "Ferritin [Mass/volume] in Serum or Plasma", "ng/mL", 200, 40000, 0),
    ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 80, 600, 0),
    ("3255-7", "Fibrinogen [Mass/volume] in Platelet poor plasma", "mg/dL", 80, 450, 0),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 20, 400, 0),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 0.5, 20, 2),
    ("770-8", "Neutrophils/100 leukocytes in Blood by Automated count", "%", 20, 95, 1),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 6, 16, 1),
    ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L",
     10, 900, 0),
    ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
     "U/L", 10, 1200, 0),
    ("2532-0", "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma", "U/L",
     150, 3000, 0),
    ("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", 0.5, 250, 1),
    ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 2, 5, 1),
    ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 60, 250, 0),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.4, 3, 2),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 125, 150, 0),
)  # fmt: skip
# Text-only codes (no LOINC), matched by the flagged text path.
TEXT_LABS: tuple[tuple[str, str, float, float], ...] = (
    ("血清铁蛋白", "ng/mL", 200, 40000),
    ("甘油三酯", "mmol/L", 0.8, 8),
    ("Fibrinogen (plasma)", "g/L", 0.8, 4.5),
)
DRUGS: tuple[tuple[str, str, str], ...] = (
    ("6902", "methylprednisolone", "Methylprednisolone sodium succinate for injection"),
    ("8640", "prednisone", "predniSONE 5 MG Oral Tablet"),
    ("3264", "dexamethasone", "Dexamethasone 4 MG/ML Injectable Solution"),
)
ROUTES = (("47625008", "Intravenous route", "IV"), ("26643006", "Oral route", "PO"))


class Synth:
    """Builds the resources of one patient after another from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.start = datetime(2021, 1, 1, tzinfo=UTC)

    def number(self, low: float, high: float, digits: int) -> Any:
        """A value as JSON text would carry it; 1 in 100 with trailing zeros (exact path)."""
        value = round(self.rng.uniform(low, high), digits)
        if digits == 0:
            return int(value)
        if self.rng.random() < 0.01:
            return orjson.Fragment(f"{value:.{digits + 2}f}".encode())
        return value

    def when(self, pid: int, index: int) -> str:
        """A distinct minute per (patient, index), so nothing is a duplicate by accident."""
        moment = self.start + timedelta(days=pid % 300, minutes=index * 37)
        return moment.strftime("%Y-%m-%dT%H:%M:00+08:00")

    def meta(self, moment: str) -> dict[str, Any]:
        return {"versionId": "1", "lastUpdated": moment}

    def patient(self, pid: int) -> dict[str, Any]:
        year = 1950 + pid % 55
        return {
            "resourceType": "Patient",
            "id": f"p{pid}",
            "meta": self.meta("2021-01-01T08:00:00+08:00"),
            "identifier": [{"system": "http://hospital.example.org/mrn", "value": f"MRN{pid:07d}"}],
            "name": [{"use": "anonymous", "text": f"SYN-{pid}"}],
            "gender": ("male", "female")[pid % 2],
            "birthDate": f"{year}-{1 + pid % 12:02d}-{1 + pid % 28:02d}",
        }

    def condition(self, pid: int) -> dict[str, Any]:
        code, text = (("M06.1", "Adult-onset Still's disease"), ("M32.1", "SLE"))[pid % 2]
        return {
            "resourceType": "Condition",
            "id": f"p{pid}-cond",
            "meta": self.meta("2021-01-01T08:00:00+08:00"),
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}],
                "text": text,
            },
            "subject": {"reference": f"Patient/p{pid}"},
            "onsetDateTime": "2020-11-15",
        }

    def observation(self, pid: int, index: int) -> dict[str, Any]:
        moment = self.when(pid, index)
        roll = self.rng.random()
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"p{pid}-obs{index}",
            "meta": self.meta(moment),
            "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": "laboratory"}]}],
            "subject": {"reference": f"Patient/p{pid}"},
            "encounter": {"reference": f"Encounter/p{pid}-enc"},
            "effectiveDateTime": moment,
            "issued": moment,
        }
        if roll < 0.05:
            return resource | self.blood_pressure(resource)
        if roll < 0.10:
            return resource | self.vital(index)
        if roll < 0.13:
            text, unit, low, high = self.rng.choice(TEXT_LABS)
            code = {"text": text}
            quantity = {"value": self.number(low, high, 2), "unit": unit}
            return resource | {"code": code, "valueQuantity": quantity}
        loinc, display, unit, low, high, digits = self.rng.choice(LABS)
        return resource | {
            "code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]},
            "valueQuantity": {
                "value": self.number(low, high, digits),
                "unit": unit,
                "system": UCUM,
                "code": unit,
            },
            "referenceRange": [
                {
                    "low": {"value": low, "unit": unit, "system": UCUM, "code": unit},
                    "high": {"value": high, "unit": unit, "system": UCUM, "code": unit},
                }
            ],
        }

    def vital(self, index: int) -> dict[str, Any]:
        category = [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}]
        if index % 2:
            code, unit, value = ("29463-7", "Body weight"), "kg", self.number(40, 110, 1)
        else:
            code, unit, value = ("8310-5", "Body temperature"), "Cel", self.number(36, 40.5, 1)
        return {
            "category": category,
            "code": {"coding": [{"system": LOINC, "code": code[0], "display": code[1]}]},
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }

    def blood_pressure(self, resource: dict[str, Any]) -> dict[str, Any]:
        def component(code: str, display: str, low: int, high: int) -> dict[str, Any]:
            quantity = {"value": self.rng.randint(low, high), "unit": "mm[Hg]", "system": UCUM}
            return {
                "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
                "valueQuantity": quantity | {"code": "mm[Hg]"},
            }

        return {
            "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}],
            "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure"}]},
            "component": [
                component("8480-6", "Systolic blood pressure", 90, 180),
                component("8462-4", "Diastolic blood pressure", 50, 110),
            ],
        }

    def administration(self, pid: int, index: int) -> dict[str, Any]:
        moment = self.when(pid, index)
        code, display, text = self.rng.choice(DRUGS)
        route_code, route_display, route_text = self.rng.choice(ROUTES)
        per_kg = self.rng.random() < 0.1
        dose = {
            "value": self.number(0.5, 2, 1) if per_kg else self.rng.choice((4, 5, 20, 40, 500)),
            "unit": "mg/kg" if per_kg else "mg",
            "system": UCUM,
            "code": "mg/kg" if per_kg else "mg",
        }
        return {
            "resourceType": "MedicationAdministration",
            "id": f"p{pid}-ma{index}",
            "meta": self.meta(moment),
            "status": "completed",
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": code, "display": display}],
                "text": text,
            },
            "subject": {"reference": f"Patient/p{pid}"},
            "context": {"reference": f"Encounter/p{pid}-enc"},
            "effectiveDateTime": moment,
            "dosage": {
                "route": {
                    "coding": [
                        {"system": "http://snomed.info/sct", "code": route_code,
                         "display": route_display}
                    ],
                    "text": route_text,
                },
                "dose": dose,
            },
        }  # fmt: skip


def write_ndjson(path: Path, resources: int, *, seed: int = 2025, per_patient: int = 200) -> int:
    """Write about `resources` resources as NDJSON (deterministic for a seed); return how many."""
    synth = Synth(seed)
    patients = max(1, resources // per_patient)
    written = 0
    with path.open("wb") as out:
        for pid in range(patients):
            out.write(orjson.dumps(synth.patient(pid)) + b"\n")
            written += 1
        for pid in range(patients):
            out.write(orjson.dumps(synth.condition(pid)) + b"\n")
            written += 1
        index = 0
        while written < resources:
            pid, slot = index % patients, index // patients
            index += 1
            if synth.rng.random() < 0.06:
                resource = synth.administration(pid, slot)
            else:
                resource = synth.observation(pid, slot)
            out.write(orjson.dumps(resource) + b"\n")
            written += 1
    return written
