"""Named, versioned response rule sets (CLINICAL-SPEC 3): each a pure function over values."""

from __future__ import annotations

from registry.outcomes.rule_names import RULE_SET_NAMES
from registry.outcomes.rules import cn_hlh_dep, mas_cr, phlh04, ruijin
from registry.outcomes.rules.common import (
    ORDER,
    RESPONSES,
    MarkerResult,
    RuleFunction,
    RuleInput,
    Verdict,
)

RULE_SETS: dict[str, RuleFunction] = {
    cn_hlh_dep.NAME: cn_hlh_dep.evaluate,
    mas_cr.NAME: mas_cr.evaluate,
    phlh04.NAME: phlh04.evaluate,
    ruijin.NAME: ruijin.evaluate,
}
assert set(RULE_SETS) == RULE_SET_NAMES  # noqa: S101 - the names module must list them all

# Analytes each rule set reads (the selection fetches their union).
ANALYTES: dict[str, tuple[str, ...]] = {
    cn_hlh_dep.NAME: ("sCD25", "ferritin", "TG", "ANC", "PLT", "Hb", "WBC", "ALT"),
    mas_cr.NAME: mas_cr.COMPONENTS,
    phlh04.NAME: (*phlh04.TARGETS, "sCD25"),
    ruijin.NAME: (),
}

__all__ = [
    "ANALYTES",
    "ORDER",
    "RESPONSES",
    "RULE_SETS",
    "MarkerResult",
    "RuleInput",
    "Verdict",
]
