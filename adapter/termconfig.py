"""The `Terminology`: code lists, synonyms, drug tables and factors, from defaults plus config.

The shipped defaults (`adapter.codes*`) have the same shape as the study protocol / site TOML:
`Terminology.default()` applies `termparse.default_config()` to an empty terminology, and a
site's overrides go through the same parser (`adapter.termparse`). Lists replace
(`loinc = [...]`) or extend (`extra_loinc = [...]`); mappings (local codes, RxNorm products,
routes) extend.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from adapter.termparse import apply, default_config
from adapter.termspec import (
    AnalyteSpec,
    Code,
    ConditionSpec,
    DrugSpec,
    TermIndex,
    build_term_index,
    check_targets,
)


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Terminology:
    """Everything the matchers and unit converter look up (CLINICAL-SPEC 4.2, 4.4, 6.1-6.6).

    Build it with `Terminology.default()` or `Terminology.from_mapping(toml_table)`; the
    constructor validates and indexes (a code claimed by two entries is a `ConfigError`).
    """

    analytes: Mapping[str, AnalyteSpec] = field(default_factory=_empty)
    conditions: Mapping[str, ConditionSpec] = field(default_factory=_empty)
    drugs: Mapping[str, DrugSpec] = field(default_factory=_empty)
    local_analytes: Mapping[Code, str] = field(default_factory=_empty)
    local_conditions: Mapping[Code, str] = field(default_factory=_empty)
    local_drugs: Mapping[Code, str] = field(default_factory=_empty)
    rxnorm_products: Mapping[str, str] = field(default_factory=_empty)  # RxCUI -> ingredient
    steroid_factors: Mapping[str, Fraction] = field(default_factory=_empty)
    route_codes: Mapping[Code, str] = field(default_factory=_empty)
    route_text: Mapping[str, str] = field(default_factory=_empty)
    loinc_exclude: frozenset[str] = frozenset()
    text_matching: bool = True  # analyte/condition text matches (flagged "text"); 6.1
    index: TermIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_targets(
            [
                ("local analyte code", self.local_analytes, self.analytes),
                ("local condition code", self.local_conditions, self.conditions),
                ("local drug code", self.local_drugs, self.drugs),
                ("RxNorm product", self.rxnorm_products, self.drugs),
                ("steroid factor", {k: k for k in self.steroid_factors}, self.drugs),
            ],
            self.steroid_factors,
            [*self.route_codes.values(), *self.route_text.values()],
        )
        index = build_term_index(self.analytes, self.conditions, self.drugs, self.route_text)
        object.__setattr__(self, "index", index)

    @classmethod
    def default(cls) -> Terminology:
        """Return the CLINICAL-SPEC defaults (built once, shared: it is immutable)."""
        return _default()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: Terminology | None = None) -> Terminology:
        """Return `base` (default: the CLINICAL-SPEC defaults) with the overrides in `data`.

        `data` is a TOML table such as::

            text_matching = true
            [analytes.ferritin]
            extra_loinc = ["24373-3"]
            [analytes.sCD25]
            extra_synonyms = ["SIL2R-ELISA"]
            [local_codes.analytes]
            "http://hospital.example/lab|FER" = "ferritin"
            [local_codes.conditions]
            "http://hospital.example/dx|MAS01" = "MAS"
            [local_codes.drugs]
            "http://hospital.example/drug|EMA" = "emapalumab"
            [rxnorm_products]
            "2104611" = "emapalumab"
            [steroids]
            betamethasone_factor = "25/3"
            [routes.codes]
            "http://hospital.example/route|01" = "systemic"

        Raises:
            ConfigError: an unknown key (named with its path), a value of the wrong type, or a
                code/synonym that would point two ways.
        """
        return cls(**apply(data, _default() if base is None else base))

    def analyte(self, key: str) -> AnalyteSpec:
        """Return the analyte `key`.

        Raises:
            KeyError: no such analyte.
        """
        try:
            return self.analytes[key]
        except KeyError:
            raise KeyError(f"unknown analyte {key!r}") from None


@functools.cache
def _default() -> Terminology:
    return Terminology(**apply(default_config(), Terminology()))
