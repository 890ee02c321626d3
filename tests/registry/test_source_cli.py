"""`masreg source`: any stored version, current or archived, as stored, its hash checked.

Issue 2, item 4: every registry row traces back to the exact source resource and version, and
the raw resource is kept so any cell can be audited back to it.
"""

from __future__ import annotations

import hashlib
import json
import zlib

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from registry import rawjson, tables
from registry.cli import main
from tests.factories import observation, patient, write_ndjson

SR = tables.SOURCE_RECORD


@pytest.fixture
def runner():
    return CliRunner()


def _import(runner, db_url, path, site="s1"):
    result = runner.invoke(main, ["import", str(path), "--db", db_url, "--site", site])
    assert result.exit_code == 0, result.output


def _versions(runner, db_url, tmp_path):
    """v1 (value written 2.250), then v2 replacing it, then v0 arriving late."""
    v1 = json.dumps(observation("o1", version="1", updated="2024-03-02T09:00:00Z", value=7))
    (tmp_path / "v1.ndjson").write_text(
        json.dumps(patient()) + "\n" + v1.replace('"value": 7', '"value": 2.250') + "\n",
        encoding="utf-8",
    )
    _import(runner, db_url, tmp_path / "v1.ndjson")
    v2 = observation("o1", version="2", updated="2024-03-03T09:00:00Z", value=1100)
    _import(runner, db_url, write_ndjson(tmp_path / "v2.ndjson", [v2]))
    v0 = observation("o1", version="0", updated="2024-03-01T09:00:00Z", value=900)
    _import(runner, db_url, write_ndjson(tmp_path / "v0.ndjson", [v0]))


def test_every_version_current_first_with_its_lineage(runner, db_url, tmp_path):
    _versions(runner, db_url, tmp_path)
    result = runner.invoke(main, ["source", "Observation/o1", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [(v["reference"], v["state"]) for v in shown] == [
        ("Observation/o1/_history/2", "current"),
        ("Observation/o1/_history/0", "older-version"),
        ("Observation/o1/_history/1", "superseded"),
    ]
    assert all(v["hash_verified"] is True for v in shown)
    assert [v["resource"]["valueQuantity"]["value"] for v in shown] == [1100, 900, 2.25]
    assert shown[2]["origin"].endswith("v1.ndjson")
    assert shown[2]["locator"] == "line 2"
    assert shown[2]["archived_run_id"] == shown[0]["ingest_run_id"]  # v2's run archived v1
    assert shown[0]["last_updated"] == "2024-03-03T09:00:00+00:00"

    text = runner.invoke(main, ["source", "Observation/o1/_history/1", "--db", db_url]).stdout
    assert text.startswith("Observation/o1/_history/1  (site s1, superseded)")
    assert "(verified)" in text
    assert '"value": 2.250' in text  # the decimal as received, trailing zero kept


def test_raw_is_the_stored_bytes_whose_hash_is_the_content_hash(runner, db_url, tmp_path):
    _versions(runner, db_url, tmp_path)
    raw = runner.invoke(main, ["source", "Observation/o1/_history/1", "--db", db_url, "--raw"])
    assert raw.exit_code == 0
    data = raw.stdout_bytes
    assert b'"value":2.250' in data  # canonical: compact, sorted keys, decimals exact
    lineage = json.loads(
        runner.invoke(
            main, ["source", "Observation/o1/_history/1", "--db", db_url, "--json"]
        ).stdout
    )
    assert hashlib.sha256(data).hexdigest() == lineage["content_hash"]
    several = runner.invoke(main, ["source", "Observation/o1", "--db", db_url, "--raw"])
    assert several.exit_code == 2
    assert "names 3 stored versions" in several.output
    prefix = lineage["content_hash"][:12]
    by_hash = runner.invoke(
        main, ["source", "Observation/o1", "--db", db_url, "--hash", prefix, "--raw"]
    )
    assert by_hash.stdout_bytes == data
    none = runner.invoke(main, ["source", "Observation/o1", "--db", db_url, "--hash", "ffff0000"])
    assert none.exit_code == 2
    assert "with content hash ffff0000" in none.output


def test_a_pooled_registry_shows_each_site_and_filters_by_site(runner, db_url, tmp_path):
    path = write_ndjson(tmp_path / "a.ndjson", [patient(), observation("o1")])
    _import(runner, db_url, path, site="north")
    _import(runner, db_url, path, site="south")
    both = json.loads(
        runner.invoke(main, ["source", "Observation/o1", "--db", db_url, "--json"]).stdout
    )
    assert [v["site"] for v in both] == ["north", "south"]
    one = runner.invoke(
        main, ["source", "Observation/o1", "--db", db_url, "--site", "south", "--raw"]
    )
    assert one.exit_code == 0
    missing = runner.invoke(main, ["source", "Observation/o1", "--db", db_url, "--site", "west"])
    assert missing.exit_code == 2
    assert "no version of Observation/o1 at site west" in missing.output


def test_damaged_bytes_are_reported_and_old_zlib_blobs_read(runner, db_url, tmp_path, engine):
    _import(runner, db_url, write_ndjson(tmp_path / "a.ndjson", [patient(), observation("o1")]))
    with engine.begin() as conn:
        stored = rawjson.decompress(
            conn.scalar(SR.select().with_only_columns(SR.c.raw).where(SR.c.resource_id == "o1"))
        )
        conn.execute(update(SR).where(SR.c.resource_id == "o1").values(raw=zlib.compress(stored)))
    old = runner.invoke(main, ["source", "Observation/o1", "--db", db_url])
    assert old.exit_code == 0
    assert "(verified)" in old.stdout  # a registry written before zstd

    with engine.begin() as conn:
        tampered = stored.replace(b"1200", b"1300")
        conn.execute(
            update(SR).where(SR.c.resource_id == "o1").values(raw=rawjson.compress(tampered))
        )
    damaged = runner.invoke(main, ["source", "Observation/o1", "--db", db_url])
    assert damaged.exit_code == 1
    assert "(MISMATCH)" in damaged.stdout
    assert "no longer have the content hash" in damaged.stderr


def test_a_deleted_resource_and_bad_references(runner, db_url, tmp_path):
    _import(runner, db_url, write_ndjson(tmp_path / "a.ndjson", [patient(), observation("o1")]))
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": "Observation/o1"}}],
    }
    (tmp_path / "delete.json").write_text(json.dumps(bundle), encoding="utf-8")
    _import(runner, db_url, tmp_path / "delete.json")
    shown = json.loads(
        runner.invoke(main, ["source", "Observation/o1", "--db", db_url, "--json"]).stdout
    )
    states = [shown["state"]] if isinstance(shown, dict) else [v["state"] for v in shown]
    assert "deleted" in states
    for bad in ("o1", "Observation", "observation/o1", "Observation/o1/_history/"):
        refused = runner.invoke(main, ["source", bad, "--db", db_url])
        assert refused.exit_code == 2, bad
        assert "is not a resource reference" in refused.output
