"""Check a change to the outcome code: two checkouts' reports on one registry must agree.

Runs `build_report` of this checkout and of another one (a git worktree of an earlier commit,
`git worktree add /tmp/old <rev>`) on copies of the same SQLite registry, each in its own
process, and compares what a statistician reads: every cohort table, and per patient the status
at every time point under every rule set, the observation id chosen for every marker, T0, end of
follow-up, steroid figures, infections and scores. Report formats 1.0 and 2.0 both read.
Optionally perturbs the registry copy first (`--perturb`): shifted times, date-only values and
non-final statuses, so that window edges, precision classes and exclusions are exercised.

Run: `.venv/bin/python benchmarks/compare_reports.py REGISTRY.db /tmp/old [--perturb]`
(a synthetic registry: `benchmarks/report_10k.py --patients 1000 --skip-postgres` caches one).
Exit status 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
PERTURB = (
    "UPDATE observation SET effective_at = datetime(effective_at, '+1 day') || '.000000' "
    "WHERE id % 5 = 0",
    "UPDATE observation SET effective_at = datetime(effective_at, '-13 hours') || '.000000' "
    "WHERE id % 11 = 0",
    "UPDATE observation SET effective_at = datetime(effective_at, '+7 hours', '+29 minutes') "
    "|| '.000000' WHERE id % 13 = 0",
    "UPDATE observation SET effective_precision = 'day', effective_at = "
    "date(datetime(effective_at, '+8 hours')) || ' 00:00:00.000000' WHERE id % 10 = 3",
    "UPDATE observation SET status = 'entered-in-error' WHERE id % 37 = 5",
    "UPDATE observation SET status = 'preliminary' WHERE id % 41 = 7",
    "UPDATE observation SET status = 'amended' WHERE id % 43 = 1",
    "UPDATE observation SET status = 'cancelled' WHERE id % 47 = 2",
)
CHILD = """
import json, sys
from registry.db import make_engine
from registry.outcomes.protocol import load_protocol
from registry.outcomes.report import build_report
engine = make_engine("sqlite:///" + sys.argv[1])
with engine.connect() as conn:
    report = build_report(conn, load_protocol())
json.dump(report, open(sys.argv[2], "w"), default=str)
"""


def normalized(report: dict[str, Any]) -> dict[str, Any]:
    """What must not change: cohort tables, and per patient statuses and chosen rows."""
    tables = ("response", "remission_end_of_follow_up", "alternative_rule_sets", "labs",
              "steroids", "infections", "adverse_events")  # fmt: skip
    out: dict[str, Any] = {k: report[k] for k in tables}
    out["serious_adverse_events"] = report["serious_adverse_events"]["events"]
    patients = {}
    for p in report["patients"]:
        picks = {}
        for name, items in p["assessments"].items():
            for a in items:
                for m in a["markers"]:
                    for k in ("baseline", "value"):
                        v = m[k]
                        if v is not None:  # 2.0: an observation id; 1.0: the value itself
                            oid = v if isinstance(v, int) else v["observation_id"]
                            picks[f"{name}/{a['timepoint']}/{m['marker']}/{k}"] = oid
        st = p["steroid"]
        patients[p["patient_ref"]] = {
            "response": p["response"], "by_rule_set": p["response_by_rule_set"],
            "remission": p["remission_end_of_follow_up"], "t0": p["t0"],
            "end_of_follow_up": p["end_of_follow_up"], "picks": picks,
            "steroid": [st["baseline_mg"], st["end_mg"], st["reduction_percent"],
                        st["weeks_mean_mg"], st["pulse_days"], st["cumulative_pulse_mg"]],
            "infections": p["infections"], "scores": p.get("scores"),
        }  # fmt: skip
    out["patients"] = patients
    return out


def run(tree: Path, registry: Path, out: Path) -> dict[str, Any]:
    """The report of the checkout `tree` on a copy of `registry`, normalized."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-c", CHILD, str(registry), str(out)], cwd=tree, env=env,
                   check=True)  # fmt: skip
    return normalized(json.loads(out.read_text("utf-8")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("registry", type=Path)
    parser.add_argument("other", type=Path, help="the other checkout (a git worktree)")
    parser.add_argument("--perturb", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        base = folder / "base.db"
        shutil.copy(args.registry, base)
        if args.perturb:
            with sqlite3.connect(base) as conn:
                for statement in PERTURB:
                    conn.execute(statement)
        reports = []
        for name, tree in (("this", HERE), ("other", args.other.resolve())):
            copy = folder / f"{name}.db"
            shutil.copy(base, copy)
            reports.append(run(tree, copy, folder / f"{name}.json"))
    this, other = reports
    differing = [k for k in this if k != "patients" and this[k] != other[k]]
    patients = [
        ref for ref in this["patients"] if this["patients"][ref] != other["patients"].get(ref)
    ]
    picks = sum(len(p["picks"]) for p in this["patients"].values())
    print(f"{len(this['patients'])} patients, {picks} chosen values compared: "
          f"{len(differing)} cohort tables and {len(patients)} patients differ")  # fmt: skip
    for name in differing:
        print(f"  table {name} differs")
    for ref in patients[:10]:
        print(f"  {ref} differs")
    sys.exit(1 if differing or patients else 0)


if __name__ == "__main__":
    main()
