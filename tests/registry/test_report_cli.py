"""`masreg report` and `masreg demo` in-process (issue 3 items 8-9)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from registry.cli import main
from tests.factories import observation, patient, write_ndjson
from tests.registry.outcomes.conftest import ema


@pytest.fixture
def runner():
    return CliRunner()


def _registry(runner, db_url, tmp_path):
    folder = tmp_path / "in"
    resources = [
        patient(),
        ema("e1", "2024-03-01T10:00:00+08:00"),
        observation("o1", when="2024-03-01T08:00:00+08:00"),
    ]
    write_ndjson(folder / "a.ndjson", resources)
    assert runner.invoke(main, ["import", str(folder), "--db", db_url]).exit_code == 0


def test_report_json_names_the_protocol(runner, db_url, tmp_path):
    _registry(runner, db_url, tmp_path)
    result = runner.invoke(main, ["report", "--db", db_url, "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["protocol"]["name"] == "emapalumab-mas"
    assert report["cohort"]["n"] == 1


def test_report_workers_option_gives_the_same_report(runner, db_url, tmp_path):
    """`--workers 2` starts a helper process on the same snapshot; the JSON is the same."""
    _registry(runner, db_url, tmp_path)
    reports = []
    for count in ("1", "2"):
        args = ["report", "--db", db_url, "--format", "json", "--site", "local", "--workers", count]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        reports.append(json.loads(result.stdout))
    assert reports[0] == reports[1]
    assert reports[0]["cohort"]["n"] == 1
    refused = runner.invoke(main, ["report", "--db", db_url, "--workers", "0"])
    assert refused.exit_code == 2


def test_report_site_filter_and_out_file(runner, db_url, tmp_path):
    _registry(runner, db_url, tmp_path)
    out = tmp_path / "report.json"
    result = runner.invoke(
        main,
        ["report", "--db", db_url, "--format", "json", "--site", "elsewhere", "--out", str(out)],
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(out.read_text("utf-8"))["cohort"]["n"] == 0


def test_report_protocol_file_and_refusal(runner, db_url, tmp_path):
    _registry(runner, db_url, tmp_path)
    good = tmp_path / "site.toml"
    good.write_text('[protocol]\nname = "site-b"\nversion = "3"\n', encoding="utf-8")
    table = runner.invoke(main, ["report", "--db", db_url, "--protocol", str(good)])
    assert table.exit_code == 0
    assert "Protocol site-b 3" in table.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[protocol]\nname = "x"\nversion = "1"\n[response]\nrule_set = "nope"\n')
    refused = runner.invoke(main, ["report", "--db", db_url, "--protocol", str(bad)])
    assert refused.exit_code == 2
    assert "unknown rule set 'nope'" in refused.stderr


def test_demo_prints_the_papers_numbers(runner):
    """Verify issue 3 item 9: a fresh SQLite registry from the bundled fixture, then the report."""
    result = runner.invoke(main, ["demo"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    for expected in ("6/9 (66.7%", "7/9 (77.8%", "8/9 (88.9%", "85.5%", "3/9 (33.3%",
                     "serious: 0 events"):  # fmt: skip
        assert expected in text, expected
    assert "Complete remission at end of follow-up (cn_hlh_dep): 8/9 (88.9%" in text


def test_demo_json_out(runner, tmp_path):
    out = tmp_path / "demo.json"
    result = runner.invoke(main, ["demo", "--format", "json", "--out", str(out)])
    assert result.exit_code == 0
    report = json.loads(out.read_text("utf-8"))
    assert [r["orr"]["count"] for r in report["response"]] == [6, 7, 8, 8]


def test_report_compact_and_gzip_outputs_hold_the_same_report(runner, db_url, tmp_path):
    """`--compact` is the JSON on one line; an --out name ending in .gz is written gzipped."""
    import gzip

    _registry(runner, db_url, tmp_path)
    base = ["report", "--db", db_url, "--format", "json"]
    indented = runner.invoke(main, base)
    compact = runner.invoke(main, [*base, "--compact"])
    assert compact.exit_code == 0, compact.output
    assert json.loads(compact.stdout) == json.loads(indented.stdout)
    assert compact.stdout.count("\n") == 1  # the final newline only
    assert len(compact.stdout) < len(indented.stdout) * 0.7

    for name, extra in (("r.json.gz", []), ("c.json.gz", ["--compact"])):
        out = tmp_path / name
        written = runner.invoke(main, [*base, *extra, "--out", str(out)])
        assert written.exit_code == 0, written.output
        assert json.loads(gzip.decompress(out.read_bytes())) == json.loads(indented.stdout)
    again = tmp_path / "again.json.gz"
    runner.invoke(main, [*base, "--out", str(again)])
    assert again.read_bytes() == (tmp_path / "r.json.gz").read_bytes()  # no name or time inside

    markdown = tmp_path / "report.md.gz"
    assert runner.invoke(main, ["report", "--db", db_url, "--format", "markdown", "--out",
                                str(markdown)]).exit_code == 0  # fmt: skip
    shown = runner.invoke(main, ["report", "--db", db_url, "--format", "markdown"]).stdout
    assert gzip.decompress(markdown.read_bytes()).decode("utf-8") == shown


def test_compact_is_only_for_json(runner, db_url, tmp_path):
    refused = runner.invoke(main, ["report", "--db", db_url, "--format", "csv", "--compact"])
    assert refused.exit_code == 2
    assert "--compact is for --format json" in refused.output
    assert runner.invoke(main, ["demo", "--compact"]).exit_code == 2  # table: refused up front
