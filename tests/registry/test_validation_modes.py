"""--validate off|sample:N|full: a sample plus every resource a mapper rejects (issue 2).

The default, sample:100, validates the 1st, 101st, ... resource the run stores (index 0, 100, ...)
and every resource a mapper rejects; the same whether the run prepares resources in this process
or in worker processes.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry import models
from registry.ingest import ImportOptions, import_paths
from tests.factories import observation, patient, write_ndjson


def _resources():
    no_code = observation("o-no-code", foo=1)
    no_code.pop("code")
    return [
        patient("p0", foo=1),  # index 0: validated under sample:N, fails (unknown element)
        patient("p1"),  # index 1: valid
        observation("o-extra", foo=1),  # index 2: not sampled, mappable: stored
        no_code,  # index 3: rejected by the mapper, so validated too
    ]


@pytest.mark.parametrize("workers", [0, 2], ids=["in-process", "workers"])
@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "sample:100",
            {
                "Patient/p0": "validation-failed",
                "Observation/o-extra": None,
                "Observation/o-no-code": "missing-element+validation",
            },
        ),
        (
            "off",
            {
                "Patient/p0": None,
                "Observation/o-extra": None,
                "Observation/o-no-code": "missing-element",
            },
        ),
        (
            "full",
            {
                "Patient/p0": "validation-failed",
                "Observation/o-extra": "validation-failed",
                "Observation/o-no-code": "validation-failed",
            },
        ),
    ],
    ids=["default-sample", "off", "full"],
)
def test_validation_mode_decides_what_is_validated(engine, tmp_path, workers, mode, expected):
    path = write_ndjson(tmp_path / "a.ndjson", _resources())
    options = ImportOptions(site="s1", validate=mode, workers=workers)
    import_paths(engine, [path], options=options)
    q = models.Quarantine.__table__
    with engine.connect() as conn:
        found = {
            f"{r.resource_type}/{r.resource_id}": (r.reason_code, r.reason)
            for r in conn.execute(
                select(q.c.resource_type, q.c.resource_id, q.c.reason_code, q.c.reason)
            )
        }
    for key, outcome in expected.items():
        if outcome is None:
            assert key not in found
        elif outcome == "missing-element+validation":
            assert found[key][0] == "missing-element"
            assert "it also fails validation" in found[key][1]
        else:
            assert found[key][0] == outcome
            assert "it also fails validation" not in found[key][1]
