"""The study protocol: index event, baseline and window rules, rule sets, steroid and safety rules.

A protocol is a TOML file (issue 3 item 1). The default, `emapalumab-mas`, ships in
`registry/protocols/`; a site's file is read over it (tables merge, values replace) and must name
itself. `load_protocol` refuses unknown settings, unknown rule sets / analytes / organisms and
overlapping windows with a `ProtocolError` naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from adapter.errors import AdapterError
from adapter.terminology import Terminology
from registry.errors import ProtocolError
from registry.outcomes import protocol_checks as checks
from registry.outcomes.rule_names import RULE_SET_NAMES

DEFAULT_NAME = "emapalumab-mas"
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class Timepoint:
    """A time point: target study day and its window (days before and after)."""

    name: str
    day: int
    before: int
    after: int

    @property
    def first_day(self) -> int:
        """First study day of the window."""
        return self.day - self.before

    @property
    def last_day(self) -> int:
        """Last study day of the window."""
        return self.day + self.after


@dataclass(frozen=True, slots=True)
class RefRange:
    """A default reference range in the analyte's canonical unit (None = unbounded)."""

    low: float | None
    high: float | None


@dataclass(frozen=True)
class Protocol:
    """A validated study protocol; `settings` is the merged TOML (the source of every value)."""

    name: str
    version: str
    source: str
    settings: Mapping[str, Any]
    timepoints: tuple[Timepoint, ...]
    utc_offset_seconds: int
    site_offsets: Mapping[str, int]
    data_cutoff: datetime | None

    def section(self, name: str) -> Mapping[str, Any]:
        """One top-level table of the settings."""
        value = self.settings[name]
        assert isinstance(value, Mapping)  # noqa: S101 - guaranteed by the shape checks
        return value

    @property
    def rule_set(self) -> str:
        """The default response rule set."""
        return str(self.section("response")["rule_set"])

    def rule_params(self, name: str) -> Mapping[str, Any]:
        """The settings of one rule set."""
        value = self.section("rule_sets")[name]
        assert isinstance(value, Mapping)  # noqa: S101
        return value

    def reference_range(self, analyte: str, sex: str | None) -> RefRange | None:
        """The default range of an analyte for a sex (union of both when the sex is unknown)."""
        spec = self.section("reference_ranges").get(analyte)
        if spec is None:
            return None
        if "any" in spec:
            return _range(spec["any"])
        if sex in ("male", "female") and sex in spec:
            return _range(spec[sex])
        parts = [_range(spec[s]) for s in ("male", "female") if s in spec]
        lows = [p.low for p in parts]
        highs = [p.high for p in parts]
        low = None if None in lows else min(x for x in lows if x is not None)
        high = None if None in highs else max(x for x in highs if x is not None)
        return RefRange(low, high)

    def reference_unit(self, analyte: str) -> str | None:
        """The unit a default range is restricted to (sCD25: U/mL only), if any."""
        spec = self.section("reference_ranges").get(analyte, {})
        return str(spec["unit"]) if spec.get("unit") else None

    def offset_for(self, site: str) -> int:
        """UTC offset in seconds of a site (its own, else the protocol's)."""
        return self.site_offsets.get(site, self.utc_offset_seconds)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the merged settings, so a report names exactly what produced it."""
        text = json.dumps(self.settings, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def describe(self) -> dict[str, Any]:
        """The protocol block of a report (issue 3 item 10)."""
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "sha256": self.fingerprint,
            "rule_set": self.rule_set,
            "rule_set_version": str(self.rule_params(self.rule_set)["version"]),
            "remission_rule_set": str(self.section("response")["remission_rule_set"]),
            "baseline_rule": describe_baseline(self.section("baseline")),
            "window_rule": str(self.section("window")["rule"]),
            "end_of_follow_up_rule": describe_eof(self.section("end_of_follow_up")),
            "utc_offset": str(self.section("protocol")["utc_offset"]),
            "timepoints": [
                {"name": t.name, "day": t.day, "before": t.before, "after": t.after}
                for t in self.timepoints
            ],
        }


def describe_baseline(section: Mapping[str, Any]) -> str:
    """The baseline rule in words, with its parameters."""
    return (
        f"{section['rule']}: latest valid value <= T0 within {section['lookback_days']} days "
        f"(post-dose allowance {section['allow_post_dose_baseline_hours']} h)"
    )


def describe_eof(section: Mapping[str, Any]) -> str:
    """The end-of-follow-up rule in words."""
    return (
        f"latest of {', '.join(section['sources'])}; latest value per analyte in the "
        f"{section['lookback_days']} days before"
    )


def _range(pair: list[Any]) -> RefRange:
    low, high = pair
    return RefRange(
        None if low == "" else float(low),
        None if high == "" else float(high),
    )


def default_settings() -> dict[str, Any]:
    """The shipped default protocol as a dict."""
    text = resources.files("registry.protocols").joinpath(f"{DEFAULT_NAME}.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_protocol(path: Path | None = None, *, text: str | None = None) -> Protocol:
    """Load the default protocol, or a site's file (path or TOML text) read over it.

    Raises:
        ProtocolError: unreadable TOML, unknown settings or names, bad values, overlapping windows.
    """
    base = default_settings()
    source = "builtin:" + DEFAULT_NAME
    if path is not None or text is not None:
        try:
            raw = tomllib.loads(text if text is not None else Path(path or "").read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ProtocolError(f"protocol file {path or '(text)'}: {exc}") from exc
        if "name" not in raw.get("protocol", {}) or "version" not in raw.get("protocol", {}):
            raise ProtocolError("a protocol file must set [protocol] name and version")
        base = checks.strip_unset(checks.merge(base, raw))
        source = str(path) if path is not None else "text"
    return build(base, source)


def build(settings: dict[str, Any], source: str) -> Protocol:
    """Validate merged settings and build the Protocol."""
    head = settings["protocol"]
    timepoints = _timepoints(settings["timepoints"])
    _check_names(settings)
    offsets = {
        site: parse_offset(spec["utc_offset"], f"sites.{site}.utc_offset")
        for site, spec in settings["sites"].items()
    }
    return Protocol(
        name=str(head["name"]),
        version=str(head["version"]),
        source=source,
        settings=settings,
        timepoints=timepoints,
        utc_offset_seconds=parse_offset(head["utc_offset"], "protocol.utc_offset"),
        site_offsets=offsets,
        data_cutoff=parse_cutoff(head["data_cutoff"], head["utc_offset"]),
    )


def _timepoints(items: list[Any]) -> tuple[Timepoint, ...]:
    """Time points from the [[timepoints]] array, windows checked."""
    out = []
    for item in items:
        if not isinstance(item, Mapping) or set(item) != {"name", "day", "before", "after"}:
            raise ProtocolError("each [[timepoints]] needs exactly name, day, before, after")
        if not all(isinstance(item[k], int) and item[k] >= 0 for k in ("day", "before", "after")):
            raise ProtocolError(f"time point {item['name']}: day/before/after must be integers")
        out.append(Timepoint(str(item["name"]), item["day"], item["before"], item["after"]))
    checks.check_windows([(t.name, t.day, t.before, t.after) for t in out])
    return tuple(sorted(out, key=lambda t: t.day))


def _check_names(settings: Mapping[str, Any]) -> None:
    """Refuse unknown rule sets, analytes and organisms."""
    try:
        term = Terminology.from_mapping(settings.get("terminology", {}))
    except AdapterError as exc:
        raise ProtocolError(f"protocol [terminology]: {exc}") from exc
    response = settings["response"]
    names = [
        response["rule_set"],
        response["remission_rule_set"],
        *response["alternative_rule_sets"],
    ]
    checks.require_names("rule set", names, set(RULE_SET_NAMES))
    checks.require_names("rule set", list(settings["rule_sets"]), set(RULE_SET_NAMES))
    analytes = set(term.analytes)
    checks.require_names("analyte", list(settings["reference_ranges"]), analytes)
    checks.require_names("analyte", list(settings["labs"]["analytes"]), analytes)
    organisms = {k for k, c in term.conditions.items() if c.category == "infection"}
    checks.require_names("organism", list(settings["infections"]["organisms"]), organisms)
    checks.require_names("organism", list(settings["infections"]["lab"]), organisms)
    for spec in settings["infections"]["lab"].values():
        wanted = [*spec.get("dna_analytes", []), *filter(None, [spec.get("igg_analyte")])]
        checks.require_names("analyte", wanted, analytes)
    for key in ("cr_markers", "generic25_markers"):
        checks.require_names("analyte", list(settings["rule_sets"]["cn_hlh_dep"][key]), analytes)
    checks.require_names(
        "analyte", list(settings["rule_sets"]["aosd_remission_ruijin"]["markers"]), analytes
    )
    transfusion = settings["rule_sets"]["cn_hlh_dep"]["transfusion"]
    if any(transfusion[k] for k in ("ANC", "PLT", "Hb")):
        # Refused rather than ignored: the registry maps no transfusion procedures yet.
        raise ProtocolError("rule_sets.cn_hlh_dep.transfusion exclusions are not supported yet")
    if settings["baseline"]["rule"] != "latest_within_lookback":
        raise ProtocolError("unknown baseline rule (known: latest_within_lookback)")
    if settings["window"]["rule"] != "nearest_study_day_later_on_tie":
        raise ProtocolError("unknown window rule (known: nearest_study_day_later_on_tie)")


def parse_offset(text: str, where: str) -> int:
    """Seconds east of UTC from '+08:00'."""
    match = _OFFSET.match(text)
    if not match or int(match.group(2)) > 14 or int(match.group(3)) > 59:
        raise ProtocolError(f"{where} must look like +08:00, not {text!r}")
    seconds = int(match.group(2)) * 3600 + int(match.group(3)) * 60
    return -seconds if match.group(1) == "-" else seconds


def parse_cutoff(text: str, offset: str) -> datetime | None:
    """The data cut-off as a UTC instant; a date means the end of that local day."""
    if not text:
        return None
    zone = timezone(timedelta(seconds=parse_offset(offset, "protocol.utc_offset")))
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1)
            return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC) - (
                timedelta(microseconds=1)
            )
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ProtocolError(f"protocol.data_cutoff {text!r} is not an ISO date") from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(UTC)
