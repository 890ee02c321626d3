"""Choosing the Bulk Data export level, the export directory and the `_typeFilter` queries."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from adapter.capabilities import parse_capabilities
from adapter.config import ServerConfig
from adapter.errors import CapabilityError, ConfigError
from adapter.terminology import Terminology
from registry.pull.bulk import export_dir, export_level, type_filters
from registry.pull.config import PullSettings
from registry.pull.report import PullReport
from tests.registry.pull.stub import BASE, StubServer


@pytest.mark.parametrize(
    ("wanted", "group", "expected"),
    [("auto", None, "patient"), ("auto", "g1", "group"), ("system", None, "system")],
    ids=["auto-patient", "auto-group", "fixed"],
)
def test_export_level(server: StubServer, wanted, group, expected):
    settings = PullSettings(server=ServerConfig(BASE), export_level=wanted)
    assert export_level(settings, parse_capabilities(server.metadata()), group) == expected


def test_export_level_needs_what_the_server_declares(server: StubServer):
    metadata = server.metadata()
    for resource in metadata["rest"][0]["resource"]:
        resource.pop("operation", None)
    caps = parse_capabilities(metadata)
    settings = PullSettings(server=ServerConfig(BASE), export_level="patient")
    with pytest.raises(CapabilityError, match="patient-level"):
        export_level(settings, caps, None)
    group = PullSettings(server=ServerConfig(BASE), export_level="group")
    with pytest.raises(ConfigError, match="group:ID"):
        export_level(group, caps, None)


def test_export_dir_default_is_per_site_and_server(tmp_path: Path):
    a = PullSettings(server=ServerConfig(BASE), site="a")
    b = PullSettings(server=ServerConfig(BASE + "x"), site="a")
    assert export_dir(a) != export_dir(b)
    assert export_dir(a).name.startswith("a-")
    fixed = PullSettings(server=ServerConfig(BASE), export_dir=tmp_path)
    assert export_dir(fixed) == tmp_path


def _filters(**options):
    settings = PullSettings(server=ServerConfig(BASE), **options)
    return type_filters(settings, Terminology.default(), PullReport())


def test_type_filters_from_the_observation_options_and_the_site():
    """`observations = "codes"` and categories become `_typeFilter`s; values are URL-encoded."""
    assert _filters() == ()
    (codes,) = _filters(observations="codes")
    kind, _, query = codes.partition("?")
    assert kind == "Observation"
    (name, value), *rest = parse_qsl(query)
    assert (name, rest) == ("code", [])
    assert "http://loinc.org|2276-4" in value.split(",")  # ferritin, CLINICAL-SPEC 6.1
    assert "|" not in query  # encoded inside the filter
    per_category = _filters(observation_categories=("laboratory", "vital-signs"))
    assert [dict(parse_qsl(q.partition("?")[2]))["category"] for q in per_category] == [
        "http://terminology.hl7.org/CodeSystem/observation-category|laboratory",
        "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs",
    ]
    site = "MedicationRequest?status=active"
    assert _filters(observations="codes", type_filters=(site,))[-1] == site
    # A site filter of Observation replaces the implied ones (filters of a type are ORed).
    mine = "Observation?category=laboratory"
    assert _filters(observations="codes", type_filters=(mine,)) == (mine,)


@pytest.mark.parametrize("query", ["Observation", "Observation?", "Basic?code=x", "?code=x"])
def test_type_filters_must_name_a_pulled_type(query):
    with pytest.raises(ConfigError, match="type filter"):
        PullSettings(server=ServerConfig(BASE), type_filters=(query,))
