"""Response at each time point and at the end of follow-up (CLINICAL-SPEC 3; issue 3 item 3).

Every time point is judged independently against baseline with a named rule set; a patient who
died before a time point is a non-responder there; not evaluable counts as non-response. The
denominator is every patient with a T0 (Decisions 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, NamedTuple

from registry.outcomes import stats
from registry.outcomes.fever import fever_key
from registry.outcomes.protocol import Protocol
from registry.outcomes.ranges import Ranges
from registry.outcomes.rules import ANALYTES, ORDER, RULE_SETS, RuleInput, Verdict
from registry.outcomes.timeline import EOF_SLOT
from registry.outcomes.values import IndexEvent, PatientValues

STATUSES = ("CR", "PR", "HI", "NR", "NE")


class Assessment(NamedTuple):
    """One patient's verdict at one slot under one rule set."""

    slot: str
    day: int
    rule_set: str
    verdict: Verdict

    @property
    def status(self) -> str:
        """CR / PR / HI / NR / NE."""
        return self.verdict.status


def rule_sets_used(protocol: Protocol) -> list[str]:
    """The default rule set, the remission rule set and the alternatives, each once."""
    response = protocol.section("response")
    names = [
        response["rule_set"],
        response["remission_rule_set"],
        *response["alternative_rule_sets"],
    ]
    return list(dict.fromkeys(names))


def needed_analytes(protocol: Protocol) -> set[str]:
    """Every analyte the rule sets in use read."""
    out: set[str] = set()
    for name in rule_sets_used(protocol):
        params = protocol.rule_params(name)
        out |= set(ANALYTES[name])
        for key in ("cr_markers", "generic25_markers", "markers"):
            out |= set(params.get(key, ()))
    return out


def fever_hours(protocol: Protocol) -> set[int]:
    """The fever lookbacks (hours) of the rule sets in use."""
    return {
        int(protocol.rule_params(name)["fever_lookback_hours"])
        for name in rule_sets_used(protocol)
        if "fever_lookback_hours" in protocol.rule_params(name)
    }


def slots(protocol: Protocol, event: IndexEvent) -> list[tuple[str, int, Any]]:
    """(slot, study day, reference instant) of every time point and the end of follow-up."""
    out = [(t.name, t.day, event.t0 + timedelta(days=t.day)) for t in protocol.timepoints]
    out.append((EOF_SLOT, event.eof_day, event.end_of_follow_up))
    return out


def assess_patient(
    protocol: Protocol,
    rule_set: str,
    event: IndexEvent,
    values: PatientValues,
    canonical: Mapping[str, str],
    ranges: Ranges | None = None,
) -> list[Assessment]:
    """The verdicts of one patient at every slot under one rule set.

    `ranges` (for the patient's sex) may be shared between patients to reuse its lookups.
    """
    params = protocol.rule_params(rule_set)
    hours = int(params.get("fever_lookback_hours", 72))
    ranges = ranges or Ranges(protocol, event.sex, dict(canonical))
    out = []
    for slot, day, moment in slots(protocol, event):
        died = event.deceased_at is not None and event.deceased_at <= moment
        if died and protocol.section("response")["death_is_non_response"]:
            verdict = Verdict("NR", (), ("died before the time point",))
        else:
            verdict = RULE_SETS[rule_set](
                RuleInput(
                    baseline=values.baseline,
                    current=values.at(slot),
                    fever_now=values.fever.get(fever_key(slot, hours)),
                    fever_baseline=values.fever.get(fever_key("baseline", hours)),
                    ranges=ranges,
                    params=params,
                )
            )
        out.append(Assessment(slot, day, rule_set, verdict))
    return out


def best_to_date(assessments: Sequence[Assessment]) -> dict[str, str]:
    """Best response so far at each slot (CR > PR > HI > NR > NE), in slot order."""
    best: str | None = None
    out = {}
    for item in assessments:
        if best is None or ORDER.index(item.status) < ORDER.index(best):
            best = item.status
        out[item.slot] = best
    return out


def response_table(
    protocol: Protocol, per_patient: Sequence[Sequence[Assessment]], n: int
) -> list[dict[str, Any]]:
    """Counts and the overall response rate per time point (not the end of follow-up)."""
    table = []
    for point in protocol.timepoints:
        found = [a for items in per_patient for a in items if a.slot == point.name]
        counts = {s.lower(): sum(1 for a in found if a.status == s) for s in STATUSES}
        counts["ne"] += n - len(found)
        responders = sum(1 for a in found if a.verdict.responded)
        table.append(
            {
                "timepoint": point.name,
                "day": point.day,
                "window": [point.first_day, point.last_day],
                "n": n,
                **counts,
                "orr": stats.proportion(responders, n),
                "cr_rate": stats.proportion(counts["cr"], n),
            }
        )
    return table


def remission(per_patient: Sequence[Sequence[Assessment]], n: int, rule_set: str) -> dict[str, Any]:
    """Complete remission at the end of follow-up: CR at the end-of-follow-up assessment."""
    count = sum(
        1 for items in per_patient for a in items if a.slot == EOF_SLOT and a.status == "CR"
    )
    return {"rule_set": rule_set, **stats.proportion(count, n)}
