"""Per-window selection of values in SQL (CLINICAL-SPEC 2): one aggregate pass per patient.

Every slot (baseline, each time point, end of follow-up) orders its candidates by a rank: the
time points by distance to the target study day (nearer first), then by time (later first); the
baseline and the end of follow-up by time alone (latest first); then by row id (higher first).
That rank and the row id pack into one integer key (rank x 2^k + id), so the chosen row of a
slot is `max(key)` over the slot's candidates and the selection is one `GROUP BY patient,
analyte` with one aggregate per slot: set-based SQL equivalent to `ROW_NUMBER() OVER (PARTITION
BY patient, analyte, slot ORDER BY rank DESC, id DESC) = 1`, without sorting every candidate.
On SQLite the rows arrive from the (site, patient, analyte, effective_at, ...) covering index in
group order, so the aggregate needs no sort either.

Times are integer seconds: `E` is the stored value's epoch (a date-only value is stored at 00:00
UTC of its local date), its instant is `E` (timed) or `E - offset` (local midnight, date-only).
Window membership is tested on `E` with bounds per precision class, so a value's study day is
computed only where a time point needs its distance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal

from registry.errors import RegistryError
from registry.outcomes import sqltime as st
from registry.outcomes.protocol import Protocol

DAY = st.DAY
KEY_BITS = 62  # keys stay below 2**62: positive in a signed 64-bit integer on both databases


@dataclass(frozen=True, slots=True)
class Slot:
    """One slot's candidates: kind baseline / timepoint / eof, its window and rank span."""

    name: str
    kind: str
    first: int = 0  # time points: window in study days
    last: int = 0
    target: int = 0
    spread: int = 1  # time points: 1 + the largest distance to the target day
    span: int = 1  # seconds an instant can lie after the slot's lowest instant, plus one

    @property
    def top(self) -> int:
        """One more than the highest rank of the slot."""
        return self.spread * self.span


def slots(protocol: Protocol) -> list[Slot]:
    """The slots of a protocol, in report order (baseline, time points, end of follow-up)."""
    base = protocol.section("baseline")
    lookback = int(base["lookback_days"])
    after = int(base["allow_post_dose_baseline_hours"]) * 3600
    out = [Slot("baseline", "baseline", span=(lookback + 1) * DAY + after + 1)]
    for t in protocol.timepoints:
        out.append(
            Slot(
                t.name,
                "timepoint",
                t.first_day,
                t.last_day,
                t.day,
                spread=max(t.before, t.after) + 1,
                span=(t.last_day - t.first_day + 2) * DAY + 1,
            )
        )
    eof_days = int(protocol.section("end_of_follow_up")["lookback_days"])
    out.append(Slot("end_of_follow_up", "eof", span=eof_days * DAY + 1))
    return out


def id_bits(items: Sequence[Slot]) -> int:
    """Bits left for the row id under the largest rank of the slots."""
    return KEY_BITS - max(s.top - 1 for s in items).bit_length()


def check_ids(highest: int | None, items: Sequence[Slot]) -> None:
    """Refuse ids that do not fit the packed keys (a protocol with absurdly wide windows).

    Raises:
        RegistryError: the registry's highest observation id needs more bits than are left.
    """
    if highest is not None and highest >= 1 << id_bits(items):
        raise RegistryError(
            f"observation ids up to {highest} do not fit the window selection keys of this "
            "protocol (its windows are too wide); narrow the time point windows"
        )


@dataclass(frozen=True)
class RowTimes:
    """The time expressions of the candidate rows of one precision class against their timeline.

    `dated` is the class of the whole pass (date-only values, or timed ones): the selection
    reads the two classes apart, so no row tests its precision once per slot.
    """

    epoch: ColumnElement[int]  # E: epoch seconds of the stored value
    offset: ColumnElement[int]  # the site's UTC offset (seconds)
    t0: ColumnElement[int]
    t0_day: ColumnElement[int]
    eof: ColumnElement[int]
    dated: bool

    @property
    def instant(self) -> ColumnElement[int]:
        """The value's instant: E, or local midnight for a date-only value."""
        return self.epoch - self.offset if self.dated else self.epoch

    @property
    def day(self) -> ColumnElement[int]:
        """The study day of a value after T0 (a date-only one by its local date)."""
        if self.dated:
            return self.epoch // DAY - self.t0_day
        return (self.epoch - self.t0) // DAY  # non-negative after T0: no floor correction


def _between(value: ColumnElement[int], low: Any, high: Any) -> ColumnElement[bool]:
    # BETWEEN, not two comparisons: SQLite then computes the value (an epoch) once.
    return value.between(low, high)


def _member(slot: Slot, rt: RowTimes, protocol: Protocol) -> ColumnElement[bool]:
    """Whether the row is a candidate of the slot (CLINICAL-SPEC 2 windows), on E."""
    e = rt.epoch
    if slot.kind == "eof":
        lookback = int(protocol.section("end_of_follow_up")["lookback_days"]) * DAY
        # after T0, within the lookback before the end of follow-up
        low = case((rt.t0 + 1 > rt.eof - lookback, rt.t0 + 1), else_=rt.eof - lookback)
        return _between(rt.instant, low, rt.eof)
    if slot.kind == "baseline":
        base = protocol.section("baseline")
        first, last = -int(base["lookback_days"]) * DAY, DAY - 1
        after = int(base["allow_post_dose_baseline_hours"]) * 3600
    else:
        first, last = slot.first * DAY, (slot.last + 1) * DAY - 1
        after = last
    if rt.dated:  # by local date: from 00:00 of the first study day to the end of the last
        midnight = rt.t0_day * DAY
        return _between(e, midnight + first, midnight + last)
    return _between(e, rt.t0 + first, rt.t0 + after)


def _rank(slot: Slot, rt: RowTimes, protocol: Protocol) -> ColumnElement[int]:
    """The slot's rank of a candidate (higher is better), in [0, slot.top)."""
    at = rt.instant
    if slot.kind == "baseline":
        lookback = int(protocol.section("baseline")["lookback_days"])
        return at - rt.t0 + (lookback + 1) * DAY
    if slot.kind == "eof":
        lookback = int(protocol.section("end_of_follow_up")["lookback_days"])
        return at - rt.eof + lookback * DAY
    distance = func.abs(rt.day - slot.target)
    return (slot.spread - distance) * slot.span + (at - rt.t0 - (slot.first - 1) * DAY)


def pick_keys(
    protocol: Protocol, rt: RowTimes, row_id: ColumnElement[int]
) -> list[tuple[Slot, ColumnElement[int]]]:
    """Per slot, `max(rank x 2^k + id)` over the slot's candidates (NULL when there are none)."""
    items = slots(protocol)
    shift = 1 << id_bits(items)
    return [
        (
            slot,
            func.max(
                case((_member(slot, rt, protocol), _rank(slot, rt, protocol) * shift + row_id))
            ),
        )
        for slot in items
    ]


def row_id_of(key: ColumnElement[int], protocol: Protocol) -> ColumnElement[int]:
    """The row id packed in a key."""
    return key % literal(1 << id_bits(slots(protocol)))
