"""T0, study days, baseline and window selection in SQL (CLINICAL-SPEC 2), on both databases."""

from __future__ import annotations

from registry.outcomes import index_sql, timeline
from tests.factories import meta, observation, patient
from tests.registry.outcomes.conftest import ema, load

TG = "2571-8"


def _encounter(eid, start, end):
    return {
        "resourceType": "Encounter", "id": eid, "meta": meta(), "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/p1"}, "period": {"start": start, "end": end},
    }  # fmt: skip


def _date_only(oid, day, value):
    obs = observation(oid, loinc=TG, value=value, unit="mmol/L", code="mmol/L")
    obs["effectiveDateTime"] = day
    return obs


RESOURCES = [
    patient(),
    ema("ema-1", "2024-03-10T10:00:00+08:00"),
    ema("ema-2", "2024-03-13T10:00:00+08:00"),
    # baseline candidates (2: latest <= T0 within 7 days)
    observation("b-old", when="2024-03-04T08:00:00+08:00", value=900),
    observation("b-t0day", when="2024-03-10T08:00:00+08:00", value=1000),
    observation("post-dose", when="2024-03-10T11:00:00+08:00", value=1100),
    _date_only("tg-t0-date", "2024-03-10", 3.0),  # date-only on the T0 date: baseline
    _date_only("tg-too-old", "2024-03-02", 5.0),
    # week 1 (days 5-9, target 7): study days 6, 7, 8
    observation("w1-d6", when="2024-03-16T09:00:00+08:00", value=500),
    observation("w1-d7", when="2024-03-17T11:00:00+08:00", value=400),
    observation("w1-d8", when="2024-03-18T12:00:00+08:00", value=300),
    # week 2 (days 12-16, target 14): days 13 and 15 tie, the later wins; day 14 is not valid
    observation("w2-d13", when="2024-03-23T12:00:00+08:00", value=250),
    observation("w2-d15", when="2024-03-25T12:00:00+08:00", value=200),
    observation("w2-eie", when="2024-03-24T12:00:00+08:00", value=999, status="entered-in-error"),
    observation("w2-prelim", when="2024-03-24T12:00:00+08:00", value=998, status="preliminary"),
    # end of follow-up: encounter end 2024-05-25; latest value in the 14 days before
    observation("eof-out", when="2024-05-10T09:00:00+08:00", value=160),
    observation("eof-in", when="2024-05-20T09:00:00+08:00", value=150),
    _encounter("enc-last", "2024-05-25T09:00:00+08:00", "2024-05-25T10:00:00+08:00"),
]


def _select(engine, protocol, tmp_path):
    load(engine, tmp_path, RESOURCES)
    with engine.connect() as conn, index_sql.patient_timeline(conn, protocol, []) as table:
        events = timeline.load_index_events(conn, table)
        values = timeline.select_values(conn, protocol, table, ["ferritin", "TG"])
    return events, values[("local", "p1")]


def test_t0_and_end_of_follow_up(engine, protocol, tmp_path):
    """Verify 2: T0 = first emapalumab administration; EOF = latest of obs, MA, encounter end."""
    events, _values = _select(engine, protocol, tmp_path)
    (event,) = events
    assert event.t0.isoformat() == "2024-03-10T02:00:00+00:00"
    assert event.t0_kind == "administration"
    assert event.t0_source.reference == "MedicationAdministration/ema-1/_history/1"
    assert event.end_of_follow_up.isoformat() == "2024-05-25T02:00:00+00:00"
    assert event.eof_day == 76


def test_baseline_is_latest_valid_value_within_lookback(engine, protocol, tmp_path):
    """Verify 2: latest <= T0 within 7 days; no post-dose baseline; a date on the T0 date counts."""
    _events, values = _select(engine, protocol, tmp_path)
    assert values.baseline["ferritin"].source.resource_id == "b-t0day"
    assert values.baseline["ferritin"].source.reference == "Observation/b-t0day/_history/1"
    assert values.baseline["TG"].source.resource_id == "tg-t0-date"
    assert values.baseline["TG"].study_day == 0


def test_window_value_nearest_target_day_ties_to_later(engine, protocol, tmp_path):
    """Verify 2: the value nearest the target day; on a tie the later; invalid rows never count."""
    _events, values = _select(engine, protocol, tmp_path)
    week1 = values.at("week_1")["ferritin"]
    assert (week1.source.resource_id, week1.study_day, week1.value) == ("w1-d7", 7, 400.0)
    week2 = values.at("week_2")["ferritin"]
    assert (week2.source.resource_id, week2.study_day) == ("w2-d15", 15)
    assert "week_4" not in values.timepoints


def test_end_of_follow_up_value_is_latest_in_lookback(engine, protocol, tmp_path):
    """Verify 2: the latest value in the 14 days before the end of follow-up."""
    _events, values = _select(engine, protocol, tmp_path)
    assert values.at("end_of_follow_up")["ferritin"].source.resource_id == "eof-in"
    assert "TG" not in values.at("end_of_follow_up")


def test_post_dose_baseline_allowance_is_a_protocol_setting(engine, tmp_path):
    """Verify 2: allow_post_dose_baseline_hours = 2 makes the value 1 h after T0 the baseline."""
    from registry.outcomes.protocol import load_protocol

    variant = load_protocol(
        text='[protocol]\nname="v"\nversion="1"\n[baseline]\nallow_post_dose_baseline_hours = 2\n'
    )
    _events, values = _select(engine, variant, tmp_path)
    assert values.baseline["ferritin"].source.resource_id == "post-dose"
