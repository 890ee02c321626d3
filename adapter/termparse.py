"""Parse terminology config (the study protocol / site TOML) and build the shipped defaults.

The defaults (`adapter.codes*`) have the same shape as the TOML, so both go through `apply`.
Lists replace (`loinc = [...]`) or extend (`extra_loinc = [...]`); mappings (local codes,
RxNorm products, routes, steroid factors) extend. Unknown keys are a `ConfigError` naming the
key's path.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from fractions import Fraction
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from adapter import codes, codes_condition, codes_drug, codes_lab
from adapter.errors import ConfigError
from adapter.termspec import CONDITION_CATEGORIES, AnalyteSpec, Code, ConditionSpec, DrugSpec

if TYPE_CHECKING:
    from adapter.termconfig import Terminology

T = TypeVar("T")
Parse = Callable[[str, Mapping[str, Any], T | None, str], T]

_TOP = {
    "analytes", "conditions", "drugs", "local_codes", "rxnorm_products", "steroids",
    "routes", "loinc_exclude", "extra_loinc_exclude", "text_matching",
}  # fmt: skip
_ANALYTE = {
    "loinc", "extra_loinc", "synonyms", "extra_synonyms", "canonical_unit", "specimen",
    "organism",
}  # fmt: skip
_CONDITION = {
    "category", "snomed", "extra_snomed", "icd10", "extra_icd10", "synonyms", "extra_synonyms",
}  # fmt: skip
_DRUG = {"class", "rxnorm_in", "extra_rxnorm_in", "atc", "extra_atc", "names", "extra_names"}
_PREFIX = "terminology config:"


def _table(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{_PREFIX} {path} must be a table")
    return value


def _keys(table: Mapping[str, Any], allowed: set[str], path: str) -> None:
    for key in table:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            allowed_list = ", ".join(sorted(allowed))
            raise ConfigError(f"{_PREFIX} unknown key {where!r} (allowed: {allowed_list})")


def _strings(value: Any, path: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{_PREFIX} {path} must be a list of strings")
    return tuple(value)


def _optional_str(value: Any, path: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{_PREFIX} {path} must be a string")
    return value


def _list(
    table: Mapping[str, Any], name: str, current: tuple[str, ...], path: str
) -> tuple[str, ...]:
    """Apply `name = [...]` (replace) and `extra_name = [...]` (extend) to `current`."""
    where = f"{path}.{name}" if path else name
    result = _strings(table[name], where) if name in table else current
    if f"extra_{name}" in table:
        result += _strings(
            table[f"extra_{name}"], f"{path}.extra_{name}" if path else f"extra_{name}"
        )
    return tuple(dict.fromkeys(result))


def _sorted(values: frozenset[str] | None) -> tuple[str, ...]:
    return tuple(sorted(values)) if values else ()


def _analyte(key: str, table: Mapping[str, Any], old: AnalyteSpec | None, path: str) -> AnalyteSpec:
    _keys(table, _ANALYTE, path)
    unit = _optional_str(table.get("canonical_unit"), f"{path}.canonical_unit")
    if old is None and "canonical_unit" not in table:
        raise ConfigError(f'{_PREFIX} new analyte {path} needs canonical_unit ("" if qualitative)')
    if old is not None and "canonical_unit" in table and unit != old.canonical_unit:
        raise ConfigError(f"{_PREFIX} {path}.canonical_unit of a known analyte cannot change")
    return AnalyteSpec(
        key=key,
        loinc=frozenset(_list(table, "loinc", _sorted(old.loinc if old else None), path)),
        canonical_unit=unit if old is None else old.canonical_unit,
        synonyms=_list(table, "synonyms", old.synonyms if old else (), path),
        specimen=_optional_str(table.get("specimen", old and old.specimen), f"{path}.specimen"),
        organism=_optional_str(table.get("organism", old and old.organism), f"{path}.organism"),
    )


def _condition(
    key: str, table: Mapping[str, Any], old: ConditionSpec | None, path: str
) -> ConditionSpec:
    _keys(table, _CONDITION, path)
    category = table.get("category", old.category if old else None)
    if category not in CONDITION_CATEGORIES:
        allowed = sorted(CONDITION_CATEGORIES)
        raise ConfigError(f"{_PREFIX} {path}.category must be one of {allowed}")
    return ConditionSpec(
        concept=key,
        category=category,
        snomed=frozenset(_list(table, "snomed", _sorted(old.snomed if old else None), path)),
        icd10=_list(table, "icd10", old.icd10 if old else (), path),
        synonyms=_list(table, "synonyms", old.synonyms if old else (), path),
    )


def _drug(key: str, table: Mapping[str, Any], old: DrugSpec | None, path: str) -> DrugSpec:
    _keys(table, _DRUG, path)
    drug_class = table.get("class", old.drug_class if old else None)
    if drug_class not in codes_drug.DRUG_CLASSES:
        allowed = sorted(codes_drug.DRUG_CLASSES)
        raise ConfigError(f"{_PREFIX} {path}.class must be one of {allowed}")
    return DrugSpec(
        ingredient=key,
        drug_class=drug_class,
        rxnorm_in=frozenset(
            _list(table, "rxnorm_in", _sorted(old.rxnorm_in if old else None), path)
        ),
        atc=frozenset(_list(table, "atc", _sorted(old.atc if old else None), path)),
        names=_list(table, "names", old.names if old else (), path),
    )


def _entries(
    data: Mapping[str, Any], section: str, current: Mapping[str, T], parse: Parse[T]
) -> Mapping[str, T]:
    result = dict(current)
    for key, table in _table(data.get(section, {}), section).items():
        path = f"{section}.{key}"
        result[key] = parse(key, _table(table, path), current.get(key), path)
    return MappingProxyType(result)


def _codes(
    parent: Mapping[str, Any], name: str, path: str, current: Mapping[Code, str]
) -> Mapping[Code, str]:
    """Extend `current` with {"system|code": value} entries of `parent[name]`."""
    parsed = dict(current)
    for key, value in _table(parent.get(name, {}), f"{path}.{name}").items():
        system, sep, code = str(key).rpartition("|")
        if not sep or not system or not code or not isinstance(value, str):
            raise ConfigError(
                f'{_PREFIX} {path}.{name} entries are "system|code" = "value"; got {key!r}'
            )
        parsed[(system, code)] = value
    return MappingProxyType(parsed)


def _words(parent: Mapping[str, Any], name: str, current: Mapping[str, str]) -> Mapping[str, str]:
    """Extend `current` with {"word": "value"} entries of `parent[name]`."""
    parsed = dict(current)
    for key, value in _table(parent.get(name, {}), name).items():
        if not isinstance(value, str):
            raise ConfigError(f"{_PREFIX} {name}.{key} must be a string")
        parsed[str(key)] = value
    return MappingProxyType(parsed)


def _fraction(value: Any, path: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f'{_PREFIX} {path} must be exact, e.g. "25/3" (not a float)')
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise ConfigError(f"{_PREFIX} {path} is not a number: {value!r}") from exc


def _steroids(data: Mapping[str, Any], current: Mapping[str, Fraction]) -> Mapping[str, Fraction]:
    result = dict(current)
    for key, value in _table(data.get("steroids", {}), "steroids").items():
        if not str(key).endswith("_factor"):
            raise ConfigError(f"{_PREFIX} unknown key 'steroids.{key}' (use <ingredient>_factor)")
        result[str(key).removesuffix("_factor")] = _fraction(value, f"steroids.{key}")
    return MappingProxyType(result)


def apply(data: Mapping[str, Any], base: Terminology) -> dict[str, Any]:
    """Return the `Terminology` constructor arguments for `base` updated with `data`.

    Raises:
        ConfigError: an unknown key, a value of the wrong type.
    """
    _keys(_table(data, "the top level"), _TOP, "")
    local = _table(data.get("local_codes", {}), "local_codes")
    _keys(local, {"analytes", "conditions", "drugs"}, "local_codes")
    routes = _table(data.get("routes", {}), "routes")
    _keys(routes, {"codes", "text"}, "routes")
    text_matching = data.get("text_matching", base.text_matching)
    if not isinstance(text_matching, bool):
        raise ConfigError(f"{_PREFIX} text_matching must be true or false")
    return {
        "analytes": _entries(data, "analytes", base.analytes, _analyte),
        "conditions": _entries(data, "conditions", base.conditions, _condition),
        "drugs": _entries(data, "drugs", base.drugs, _drug),
        "local_analytes": _codes(local, "analytes", "local_codes", base.local_analytes),
        "local_conditions": _codes(local, "conditions", "local_codes", base.local_conditions),
        "local_drugs": _codes(local, "drugs", "local_codes", base.local_drugs),
        "rxnorm_products": _words(data, "rxnorm_products", base.rxnorm_products),
        "steroid_factors": _steroids(data, base.steroid_factors),
        "route_codes": _codes(routes, "codes", "routes", base.route_codes),
        "route_text": _words(routes, "text", base.route_text),
        "loinc_exclude": frozenset(_list(data, "loinc_exclude", _sorted(base.loinc_exclude), "")),
        "text_matching": text_matching,
    }


def rxnorm_table() -> dict[str, str]:
    """Read the offline RxNorm product -> ingredient table shipped in adapter/data (4.4)."""
    path = resources.files("adapter").joinpath("data/rxnorm_ingredients.csv")
    lines = [line for line in path.read_text("utf-8").splitlines() if not line.startswith("#")]
    rows = csv.DictReader(io.StringIO("\n".join(lines)))
    return {row["rxcui"].strip(): row["ingredient"].strip() for row in rows}


def default_config() -> dict[str, Any]:
    """Return the CLINICAL-SPEC defaults in the config shape (read the RxNorm table)."""
    return {
        "analytes": codes_lab.ANALYTES,
        "conditions": codes_condition.CONDITIONS,
        "drugs": codes_drug.DRUGS,
        "rxnorm_products": rxnorm_table(),
        "steroids": {f"{k}_factor": v for k, v in codes_drug.STEROID_FACTORS.items()},
        "routes": codes.ROUTES,
        "loinc_exclude": list(codes_lab.LOINC_EXCLUDE),
        "text_matching": True,
    }
