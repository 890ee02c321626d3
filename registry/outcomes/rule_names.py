"""The names of the shipped rule sets (imported by the protocol without the rules themselves)."""

from __future__ import annotations

RULE_SET_NAMES = frozenset(
    {"cn_hlh_dep", "emapalumab_mas_cr", "emapalumab_pHLH_04", "aosd_remission_ruijin"}
)
