"""Reports for the renderer tests: the documented example and hostile variants of it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "docs" / "report-example.json"
FORMULA = "=cmd|' /C calc'!A0"
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def example() -> dict[str, Any]:
    """The nine-patient example report (docs/report-example.json), a fresh copy per test."""
    return json.loads(EXAMPLE.read_text("utf-8"))


@pytest.fixture
def hostile(example: dict[str, Any]) -> dict[str, Any]:
    """The example with formula- and markup-like text where a site's data could put it."""
    report = copy.deepcopy(example)
    report["patients"][0]["patient_ref"] = FORMULA
    report["patients"][1]["patient_ref"] = "Patient/" + SCRIPT
    report["patients"][2]["underlying_disease"] = "+AOSD"
    report["adverse_events"]["by_term"][0]["term"] = SCRIPT
    report["adverse_events"]["by_term"][1]["term"] = "@SUM(A1)"
    report["adverse_events"]["by_term"][2]["term"] = "-2+3"
    report["adverse_events"]["by_term"][3]["term"] = "\tHYPERLINK"
    report["adverse_events"]["by_term"][4]["term"] = "\rcmd"
    report["adverse_events"]["by_term"][5]["term"] = "\uff1d1+1"  # full-width '='
    report["sites"] = ["=site"]
    return report
