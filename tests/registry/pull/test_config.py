"""Pull settings: flag, then environment, then TOML file, then default (STYLE 6.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.errors import ConfigError
from registry.pull.config import build_settings, env_name, read_toml

URL = "https://fhir.example.invalid/R4"


@pytest.mark.parametrize(
    ("flags", "env", "toml", "expected"),
    [
        ({"site": "flag"}, {"MASREG_SITE": "env"}, {"pull": {"site": "file"}}, "flag"),
        ({"site": None}, {"MASREG_SITE": "env"}, {"pull": {"site": "file"}}, "env"),
        ({}, {}, {"pull": {"site": "file"}}, "file"),
        ({}, {}, {}, "local"),
    ],
    ids=["flag-wins", "env-over-file", "file-over-default", "default"],
)
def test_settings_precedence(flags, env, toml, expected):
    settings = build_settings({"url": URL, **flags}, env, toml)
    assert settings.site == expected


def test_settings_convert_env_strings_and_keep_secrets_out_of_repr():
    env = {
        "MASREG_SERVER": URL,
        "MASREG_AUTH": "bearer",
        "MASREG_TOKEN": "s3cret",
        "MASREG_BULK": "yes",
        "MASREG_CONCURRENCY": "8",
        "MASREG_OBSERVATION_CATEGORIES": "laboratory, vital-signs",
    }
    settings = build_settings({}, env, {})
    assert settings.server.base_url == URL
    assert settings.bulk is True
    assert settings.server.concurrency == 8
    assert settings.observation_categories == ("laboratory", "vital-signs")
    assert settings.server.read_token() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.sources["token"] == "environment MASREG_TOKEN"


def test_config_file_paths_are_relative_to_the_file(tmp_path: Path):
    path = tmp_path / "site.toml"
    path.write_text(
        f'[server]\nurl = "{URL}"\nauth = "bearer"\ntoken_file = "secrets/token"\n'
        '[pull]\nsite = "h1"\ncohort = "group:g1"\n'
    )
    settings = build_settings({}, {}, read_toml(path), base_dir=tmp_path)
    assert settings.server.token_file == tmp_path / "secrets" / "token"
    assert (settings.site, settings.cohort) == ("h1", "group:g1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[server]\nurl = "x"\nsurprise = 1\n', "unknown keys in [server]: surprise"),
        ("[other]\n", "unknown tables: other"),
        ("[server\n", "not valid TOML"),
    ],
    ids=["unknown-key", "unknown-table", "broken"],
)
def test_bad_config_files_are_refused(tmp_path: Path, text, message):
    path = tmp_path / "site.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_toml(path)


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({}, {}, "no FHIR server"),
        ({"url": URL}, {"MASREG_BULK": "maybe"}, "environment MASREG_BULK"),
        ({"url": URL, "observations": "some"}, {}, "observations must be one of"),
        ({"url": "http://fhir.example.org/R4"}, {}, "refusing plain http"),
    ],
    ids=["no-url", "bad-bool", "bad-mode", "insecure-http"],
)
def test_bad_settings_are_refused(flags, env, message):
    with pytest.raises(ConfigError, match=message):
        build_settings(flags, env, {})


def test_type_filters_from_env_are_apart_by_whitespace():
    """Queries hold commas (code lists): the environment separates them by whitespace."""
    env = {"MASREG_TYPE_FILTERS": "Observation?code=a,b  MedicationRequest?status=active"}
    settings = build_settings({"url": URL}, env, {})
    assert settings.type_filters == ("Observation?code=a,b", "MedicationRequest?status=active")
    toml = {"pull": {"type_filters": ["Observation?code=a,b"]}}
    assert build_settings({"url": URL}, {}, toml).type_filters == ("Observation?code=a,b",)


def test_env_names():
    assert (env_name("url"), env_name("token_file")) == ("MASREG_SERVER", "MASREG_TOKEN_FILE")


def test_the_documented_example_site_file_is_valid():
    """Verify docs/example-site.toml (README) parses into settings and a terminology."""
    from adapter.terminology import Terminology

    docs = Path(__file__).resolve().parents[3] / "docs"
    data = read_toml(docs / "example-site.toml")
    settings = build_settings({}, {}, data, base_dir=docs)
    assert (settings.server.auth, settings.site, settings.cohort) == (
        "smart",
        "site-a",
        "conditions",
    )
    assert settings.server.key_path == docs / "keys" / "mas-registry.jwk"
    Terminology.from_mapping(data["terminology"])
