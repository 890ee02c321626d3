"""Units of reading work (adapter.readers): the same results and counts as reading in place."""

from __future__ import annotations

import gzip
import json
import pickle
from pathlib import Path

import pytest

from adapter.readers import Work, merge_stats, run_work
from adapter.reading import ReadStats, iter_items, iter_work

DATA = Path(__file__).parent / "data" / "reading"


def _line(rid):
    return json.dumps({"resourceType": "Observation", "id": rid}).replace("}", ',"v":1.50}')


def _through_work(paths, **kwargs):
    """Read via iter_work, running each unit after a pickle round trip (as a worker would)."""
    stats = ReadStats()
    results = []
    for unit in iter_work(paths, stats=stats, **kwargs):
        if isinstance(unit, Work):
            found, counts = run_work(pickle.loads(pickle.dumps(unit)))
            merge_stats(stats, counts)
            results.extend(pickle.loads(pickle.dumps(r)) for r in found)
        else:
            results.append(unit)
    return results, stats


def _view(results):
    return [
        (type(r).__name__, r.locator, getattr(r, "raw", None), getattr(r, "reason_code", None))
        for r in results
    ]


@pytest.fixture
def mixed_folder(tmp_path):
    lines = [_line(f"o{n}") for n in range(7)]
    lines[2] = ""  # blank lines are numbered and skipped
    lines[4] = '{"resourceType":"Observation","id":"broken"'
    lines.append(json.dumps({"resourceType": "Bundle", "entry": [{"resource": {"id": "x"}}]}))
    (tmp_path / "a.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    truncated = gzip.compress("\n".join(_line(f"g{n}") for n in range(200)).encode())[:-300]
    (tmp_path / "b.ndjson.gz").write_bytes(truncated)
    for name in ("transaction.json", "searchset.json"):
        (tmp_path / name).write_bytes((DATA / name).read_bytes())
    (tmp_path / "c.txt.json").write_text("not json", encoding="utf-8")
    (tmp_path / "notes.csv").write_text("x", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("chunk_lines", "chunk_bytes"),
    [(1, 1), (3, 10_000), (1000, 64)],
    ids=["one-line-units", "three-line-units", "byte-bound-units"],
)
def test_work_units_give_the_results_and_counts_of_reading_in_place(
    mixed_folder, chunk_lines, chunk_bytes
):
    expected_stats = ReadStats()
    expected = list(iter_items([mixed_folder], stats=expected_stats))
    results, stats = _through_work([mixed_folder], chunk_lines=chunk_lines, chunk_bytes=chunk_bytes)
    assert _view(results) == _view(expected)
    assert stats == expected_stats
    assert any(getattr(r, "reason_code", None) == "unreadable-file" for r in results)


def test_merge_stats_adds_counts_per_type():
    into = ReadStats(items=2, by_type={"Patient": 2})
    merge_stats(into, ReadStats(items=3, problems=1, by_type={"Patient": 1, "Observation": 2}))
    assert (into.items, into.problems) == (5, 1)
    assert into.by_type == {"Patient": 3, "Observation": 2}
