"""The study protocol file (issue 3 item 1; CLINICAL-SPEC "Decisions" and section 2)."""

from __future__ import annotations

import pytest

from registry.errors import ProtocolError
from registry.outcomes.protocol import load_protocol

HEAD = '[protocol]\nname = "site-variant"\nversion = "2"\n'


def test_default_protocol_has_the_clinical_spec_defaults(protocol):
    """Verify CLINICAL-SPEC 2: weeks 1/2/4/8 at days 7/14/28/56, +-2/2/3/7, 7-day lookback."""
    assert [(t.name, t.day, t.before, t.after) for t in protocol.timepoints] == [
        ("week_1", 7, 2, 2), ("week_2", 14, 2, 2), ("week_4", 28, 3, 3), ("week_8", 56, 7, 7),
    ]  # fmt: skip
    assert protocol.section("baseline")["lookback_days"] == 7
    assert protocol.section("end_of_follow_up")["lookback_days"] == 14
    assert protocol.rule_set == "cn_hlh_dep"
    described = protocol.describe()
    assert (described["name"], described["rule_set"]) == ("emapalumab-mas", "cn_hlh_dep")
    assert described["baseline_rule"].startswith("latest_within_lookback")
    assert described["window_rule"] == "nearest_study_day_later_on_tie"


def test_site_variant_merges_over_the_default(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(HEAD + "[rule_sets.cn_hlh_dep]\nfever_threshold_c = 37.3\n", encoding="utf-8")
    variant = load_protocol(path)
    assert (variant.name, variant.version) == ("site-variant", "2")
    assert variant.rule_params("cn_hlh_dep")["fever_threshold_c"] == 37.3
    assert variant.rule_params("cn_hlh_dep")["pr_min_markers"] == 2  # kept from the default
    assert variant.describe()["sha256"] != load_protocol().describe()["sha256"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD + "[[timepoints]]\nname='a'\nday=7\nbefore=2\nafter=4\n"
         "[[timepoints]]\nname='b'\nday=14\nbefore=3\nafter=2\n", "overlap"),
        (HEAD + "[[timepoints]]\nname='a'\nday=2\nbefore=2\nafter=2\n", "must be > 0"),
        (HEAD + "[response]\nrule_set = 'dep_2015'\n", "unknown rule set 'dep_2015'"),
        (HEAD + "[labs]\nanalytes = ['ferritinn']\n", "unknown analyte 'ferritinn'"),
        (HEAD + "[infections]\norganisms = ['CMV', 'HHV6']\n", "unknown organism 'HHV6'"),
        (HEAD + "[baseline]\nlookback_dayz = 3\n", "setting 'baseline.lookback_dayz'"),
        (HEAD + "[baseline]\nlookback_days = 'seven'\n", "must be a number"),
        ('[baseline]\nlookback_days = 3\n', "must set [protocol] name and version"),
        (HEAD + "[protocol.x\n", "protocol file"),
        (HEAD.replace('version = "2"', 'version = "2"\nutc_offset = "8h"'), "+08:00"),
        (HEAD + "[rule_sets.cn_hlh_dep.transfusion]\nANC = ['filgrastim']\n", "not supported yet"),
    ],
    ids=["overlapping-windows", "window-on-day-0", "unknown-rule-set", "unknown-analyte",
         "unknown-organism", "unknown-setting", "wrong-kind", "unnamed", "bad-toml", "bad-offset",
         "transfusion"],
)  # fmt: skip
def test_bad_protocols_are_refused_with_a_clear_message(tmp_path, text, message):
    """Verify issue 3 item 1: overlapping windows and unknown names are refused, named."""
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProtocolError, match=message.replace("[", r"\[").replace("+", r"\+")):
        load_protocol(path)


def test_reference_range_union_when_sex_unknown(protocol):
    """Verify 6.3: unknown sex takes the wider (union) range; known sex its own."""
    assert protocol.reference_range("ferritin", None) == type(protocol.reference_range("TG", None))(
        13.0, 400.0
    )
    female = protocol.reference_range("ferritin", "female")
    assert (female.low, female.high) == (13.0, 150.0)
    tg = protocol.reference_range("TG", "male")
    assert (tg.low, tg.high) == (None, 1.7)


def test_data_cutoff_date_means_end_of_local_day(tmp_path):
    path = tmp_path / "cut.toml"
    path.write_text(
        HEAD.replace('version = "2"', 'version = "2"\ndata_cutoff = "2024-03-01"'), encoding="utf-8"
    )
    cutoff = load_protocol(path).data_cutoff
    assert cutoff is not None
    assert cutoff.isoformat() == "2024-03-01T15:59:59.999999+00:00"  # 23:59:59.999999 at +08:00
