"""Choosing the Bulk Data export level and the export directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.capabilities import parse_capabilities
from adapter.config import ServerConfig
from adapter.errors import CapabilityError, ConfigError
from registry.pull.bulk import export_dir, export_level
from registry.pull.config import PullSettings
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
