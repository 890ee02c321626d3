"""Builders for outcome tests.

Selected values for the pure rules; FHIR loaded through the real import path for the database
tests (SQLite and PostgreSQL via the `engine` fixture).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from registry.ingest import ImportOptions, import_paths
from registry.outcomes.protocol import Protocol, load_protocol
from registry.outcomes.ranges import Ranges
from registry.outcomes.rules import RuleInput
from registry.outcomes.values import Source, Value
from tests.factories import meta, write_ndjson

CANONICAL = {
    "ferritin": "ng/mL", "TG": "mmol/L", "sCD25": "[U]/mL", "ANC": "10*9/L", "PLT": "10*9/L",
    "WBC": "10*9/L", "Hb": "g/L", "ALT": "U/L", "AST": "U/L", "LDH": "U/L", "fibrinogen": "g/L",
    "D-dimer_FEU": "mg/L", "CRP": "mg/L",
}  # fmt: skip
EMAPALUMAB = {
    "medicationCodeableConcept": {
        "coding": [{"system": "http://www.whocc.no/atc", "code": "L04AA39"}],
        "text": "emapalumab",
    }
}


def val(analyte: str, value: float, unit: str | None = None, *, high: float | None = None,
        low: float | None = None, comparator: str | None = None, row: int = 1,
        interpretation: str | None = None) -> Value:  # fmt: skip
    """A selected value (canonical unit unless given)."""
    return Value(
        row_id=row, analyte=analyte, value=value, unit=unit or CANONICAL.get(analyte),
        comparator=comparator, reference_low=low, reference_high=high,
        interpretation=interpretation, effective="2024-03-01T00:00:00+00:00", study_day=0,
        source=Source("Observation", f"o{row}", "1", None, row),
    )  # fmt: skip


def temp(celsius: float) -> Value:
    """A temperature reading."""
    return val("temperature", celsius, "Cel", row=99)


def rule_input(
    protocol: Protocol,
    rule_set: str,
    baseline: Iterable[Value],
    current: Iterable[Value],
    *,
    sex: str = "female",
    fever_now: Value | None = None,
    fever_baseline: Value | None = None,
    **overrides: Any,
) -> RuleInput:
    """The input of one rule-set evaluation."""
    return RuleInput(
        baseline={v.analyte: v for v in baseline},
        current={v.analyte: v for v in current},
        fever_now=fever_now,
        fever_baseline=fever_baseline,
        ranges=Ranges(protocol, sex, CANONICAL),
        params={**protocol.rule_params(rule_set), **overrides},
    )


@pytest.fixture(scope="session")
def protocol() -> Protocol:
    """The default protocol."""
    return load_protocol()


def load(
    engine: Engine, folder: Path, resources: list[dict[str, Any]], site: str = "local"
) -> None:
    """Import resources through the real path (mappers, loader, post-load checks)."""
    write_ndjson(folder / f"{site}.ndjson", resources)
    import_paths(
        engine, [folder / f"{site}.ndjson"], options=ImportOptions(site=site, validate="off")
    )


def ema(aid: str, when: str, patient_id: str = "p1", **extra: Any) -> dict[str, Any]:
    """An emapalumab administration (50 mg IV)."""
    return {
        "resourceType": "MedicationAdministration", "id": aid, "meta": meta(),
        "status": "completed", "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "dosage": {"route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]},
                   "dose": {"value": 50, "unit": "mg", "system": "http://unitsofmeasure.org",
                            "code": "mg"}},
    } | EMAPALUMAB | extra  # fmt: skip
