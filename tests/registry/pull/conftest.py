"""Fixtures for the pull tests: the stub server, a client that never sleeps, small resources."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from adapter.client import FhirClient
from adapter.config import ServerConfig
from tests.factories import meta, observation, patient
from tests.fakeserver import FakeClock
from tests.registry.pull.stub import BASE, StubServer

SLE = {"system": "http://snomed.info/sct", "code": "55464009"}


def condition(cid: str, patient_id: str, coding: dict[str, str] = SLE) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "meta": meta(),
        "code": {"coding": [coding]},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


def cohort_resources() -> list[dict[str, Any]]:
    """Two SLE patients (p1, p2) with two ferritins each, and p3 without the diagnosis."""
    return [
        patient("p1"),
        patient("p2"),
        patient("p3", identifier=[{"system": "urn:mrn", "value": "M3"}]),
        condition("c1", "p1"),
        condition("c2", "p2"),
        observation("o1", patient_id="p1"),
        observation("o2", patient_id="p1", when="2024-03-02T08:00:00+08:00"),
        observation("o3", patient_id="p2"),
        observation("o4", patient_id="p3"),
    ]


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def server(mock: responses.RequestsMock) -> StubServer:
    return StubServer(mock, cohort_resources())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(clock: FakeClock, **config: Any) -> FhirClient:
    """A client on the stub server whose retries wait on the fake clock."""
    settings = {"max_delay": 1.0, "concurrency": 2} | config
    return FhirClient(ServerConfig(BASE, **settings), sleep=clock.sleep, clock=clock)
