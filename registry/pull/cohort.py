"""Who is pulled: patients by Condition codes, a Group, emapalumab administrations or an id file.

Every route ends in a sorted list of Patient ids on the server. Code lists come from the
`Terminology` (CLINICAL-SPEC 4.4, 6.5; the study protocol or site file may extend them).
ICD-10 codes are searched exactly (FHIR token search has no prefix match): a site whose
records carry sub-codes adds them as local codes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from adapter import codes
from adapter.client import FhirClient
from adapter.errors import ConfigError, FatalHTTPError, HTTPError, PagingError
from adapter.items import type_and_id
from adapter.terminology import Terminology
from registry.pull import resources as rt
from registry.pull.report import Incomplete, PullReport, redact
from registry.pull.search import ignored_params, read_exact, search

logger = logging.getLogger(__name__)

COHORT_CATEGORIES = ("underlying_disease", "mas_hlh")
_MAX_CODES_PER_SEARCH = 40  # keeps the query string short enough for every server


@dataclass(frozen=True)
class CohortSpec:
    """``conditions``, ``administrations``, ``group:ID`` or ``ids:FILE``."""

    kind: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> CohortSpec:
        """Read the ``--cohort`` value.

        Raises:
            ConfigError: an unknown kind, or a group or file without its argument.
        """
        kind, _, value = text.partition(":")
        if kind in ("conditions", "administrations") and not value:
            return cls(kind)
        if kind in ("group", "ids") and value:
            return cls(kind, value)
        raise ConfigError(
            f"unknown cohort {text!r}: use conditions, administrations, group:ID or ids:FILE"
        )

    def needs(self) -> dict[str, list[str]]:
        """What the CapabilityStatement must declare for this route."""
        if self.kind == "conditions":
            return {rt.CONDITION: ["code"], rt.PATIENT: []}
        if self.kind == "administrations":
            return {rt.MEDICATION_ADMINISTRATION: ["code"], rt.PATIENT: []}
        if self.kind == "group":
            return {rt.GROUP: [], rt.PATIENT: []}
        return {rt.PATIENT: ["identifier"]} if self._has_identifiers() else {rt.PATIENT: []}

    def _has_identifiers(self) -> bool:
        return any("|" in line for line in id_lines(Path(self.value or "")))


def condition_codes(term: Terminology) -> list[str]:
    """``system|code`` tokens of the study's diagnoses (SNOMED, ICD-10 and -CM, local codes)."""
    tokens = []
    for spec in term.conditions.values():
        if spec.category not in COHORT_CATEGORIES:
            continue
        tokens += [f"{codes.SNOMED}|{code}" for code in sorted(spec.snomed)]
        tokens += [
            f"{system}|{code}" for code in spec.icd10 for system in sorted(codes.ICD10_SYSTEMS)
        ]
    for (system, code), concept in term.local_conditions.items():
        if term.conditions[concept].category in COHORT_CATEGORIES:
            tokens.append(f"{system}|{code}")
    return sorted(set(tokens))


def query_text(resource_type: str, params: Sequence[tuple[str, str]]) -> str:
    """A query as the run record shows it: readable (codes, ``|``, ``,`` and braces unescaped).

    >>> query_text("Condition", [("code", "http://snomed.info/sct|55464009")])
    'Condition?code=http://snomed.info/sct|55464009'
    """
    return f"{resource_type}?{urlencode(params, safe='{}|,:/ ')}"


def emapalumab_codes(term: Terminology) -> list[str]:
    """``system|code`` tokens naming emapalumab: RxNorm ingredient and products, ATC, local."""
    spec = term.drugs["emapalumab"]
    tokens = [f"{codes.RXNORM}|{c}" for c in spec.rxnorm_in]
    tokens += [f"{codes.RXNORM}|{c}" for c, i in term.rxnorm_products.items() if i == "emapalumab"]
    tokens += [f"{codes.ATC}|{c}" for c in spec.atc]
    tokens += [f"{s}|{c}" for (s, c), i in term.local_drugs.items() if i == "emapalumab"]
    return sorted(set(tokens))


def id_lines(path: Path) -> list[str]:
    """The non-blank, non-comment lines of a cohort file (ids, or ``system|value`` MRNs).

    Raises:
        ConfigError: the file cannot be read.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the cohort file {path}: {exc.strerror}") from exc
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def select_patients(
    client: FhirClient, spec: CohortSpec, term: Terminology, report: PullReport
) -> list[str]:
    """Return the cohort's Patient ids (sorted, distinct); what could not be searched is reported.

    Raises:
        ConfigError: an unreadable cohort file.
        HTTPError, PagingError, AuthError: the cohort search itself failed (nothing to pull).
    """
    if spec.kind == "group":
        ids = _group_members(client, spec.value or "", report)
    elif spec.kind == "ids":
        ids = _from_file(client, Path(spec.value or ""), report)
    elif spec.kind == "administrations":
        tokens = emapalumab_codes(term)
        ids = _by_codes(client, rt.MEDICATION_ADMINISTRATION, tokens, report)
        ids |= _by_medication_resources(client, tokens, report)
    else:
        ids = _by_codes(client, rt.CONDITION, condition_codes(term), report)
    report.cohort_size = len(ids)
    logger.info("cohort: %d patients (%s)", len(ids), spec.kind)
    return sorted(ids)


def _by_codes(
    client: FhirClient, resource_type: str, tokens: list[str], report: PullReport
) -> set[str]:
    ids: set[str] = set()
    if not tokens:
        raise ConfigError(f"no codes to select {resource_type} by: check the code lists")
    for start in range(0, len(tokens), _MAX_CODES_PER_SEARCH):
        params = [("code", ",".join(tokens[start : start + _MAX_CODES_PER_SEARCH]))]
        report.add_query(query_text(resource_type, params))
        results = search(client, resource_type, params)
        found = [rt.patient_of(r, client.base_url) for r in results]
        ids.update(pid for pid in found if pid)
        report.add_search(f"cohort {resource_type}", results)
        if ignored_params(params, results.self_link):
            raise PagingError(f"the server ignored the code filter of the {resource_type} search")
        for reason in results.incomplete_reasons:
            report.add_incomplete(Incomplete(f"cohort {resource_type}", reason))
    return ids


def _by_medication_resources(client: FhirClient, tokens: list[str], report: PullReport) -> set[str]:
    """Patients with an administration that references a Medication coded as emapalumab.

    The ``code`` parameter of a MedicationAdministration search matches only an inline
    medicationCodeableConcept; administrations that reference a Medication resource are found
    in two steps: the Medications by code, then the administrations by ``medication``. A server
    that cannot search Medications by code, or administrations by medication, is noted (the
    inline route still ran); one that ignores either filter stops the cohort (it would bring in
    every patient). Contained Medications are not searchable on FHIR servers: such patients are
    found only by the other cohort routes.
    """
    medication_ids: set[str] = set()
    for start in range(0, len(tokens), _MAX_CODES_PER_SEARCH):
        params = [("code", ",".join(tokens[start : start + _MAX_CODES_PER_SEARCH]))]
        report.add_query(query_text(rt.MEDICATION, params))
        try:
            results = search(client, rt.MEDICATION, params)
            found = [r for r in results if r.get("resourceType") == rt.MEDICATION]
        except FatalHTTPError as exc:
            _medication_route_failed(report, rt.MEDICATION, exc)
            return set()
        report.add_search(f"cohort {rt.MEDICATION}", results)
        if ignored_params(params, results.self_link):
            raise PagingError("the server ignored the code filter of the Medication search")
        for reason in results.incomplete_reasons:
            report.add_incomplete(Incomplete(f"cohort {rt.MEDICATION}", reason))
        medication_ids.update(str(r["id"]) for r in found if r.get("id"))
    refs = [f"{rt.MEDICATION}/{mid}" for mid in sorted(medication_ids)]
    if refs:
        template = [("medication", "{the Medications found}")]
        report.add_query(query_text(rt.MEDICATION_ADMINISTRATION, template))
    ids: set[str] = set()
    for start in range(0, len(refs), _MAX_CODES_PER_SEARCH):
        params = [("medication", ",".join(refs[start : start + _MAX_CODES_PER_SEARCH]))]
        try:
            results = search(client, rt.MEDICATION_ADMINISTRATION, params)
            found_ids = [rt.patient_of(r, client.base_url) for r in results]
        except FatalHTTPError as exc:
            _medication_route_failed(report, rt.MEDICATION_ADMINISTRATION, exc)
            return ids
        report.add_search(f"cohort {rt.MEDICATION_ADMINISTRATION} by medication", results)
        if ignored_params(params, results.self_link):
            raise PagingError(
                "the server ignored the medication filter of the MedicationAdministration search"
            )
        for reason in results.incomplete_reasons:
            report.add_incomplete(Incomplete(f"cohort {rt.MEDICATION_ADMINISTRATION}", reason))
        ids.update(pid for pid in found_ids if pid)
    return ids


_UNSUPPORTED = frozenset({400, 404, 405, 501})  # the server does not offer the search


def _medication_route_failed(report: PullReport, resource_type: str, exc: FatalHTTPError) -> None:
    """A search of the Medication route failed: a note if unsupported, else incomplete."""
    what = f"the {resource_type} search of the emapalumab cohort by Medication resources"
    if exc.status in _UNSUPPORTED:
        report.note(f"{what} is not supported by the server ({exc.status}): administrations "
                    "that reference a Medication resource did not select patients")  # fmt: skip
    else:
        report.add_incomplete(Incomplete(f"cohort {resource_type}", f"{what} failed: {exc}"))


def _group_members(client: FhirClient, group_id: str, report: PullReport) -> set[str]:
    report.add_query(f"{rt.GROUP}/{group_id}")
    group = read_exact(client, rt.GROUP, group_id)
    report.add_read(rt.GROUP)
    ids = set()
    for member in group.get("member") or []:
        if not isinstance(member, dict) or member.get("inactive") is True:
            continue
        entity = member.get("entity") if isinstance(member.get("entity"), dict) else {}
        parsed = type_and_id(str((entity or {}).get("reference", "")))
        if parsed is not None and parsed[0] == rt.PATIENT:
            ids.add(parsed[1])
    return ids


def _from_file(client: FhirClient, path: Path, report: PullReport) -> set[str]:
    ids = set()
    for number, line in enumerate(id_lines(path), 1):
        if "|" not in line:
            ids.add(line)
            continue
        try:
            found = _by_identifier(client, line, report)
        except (HTTPError, PagingError) as exc:
            reason = redact(str(exc), line, *line.split("|"))
            report.add_incomplete(Incomplete("cohort Patient", f"line {number}: {reason}"))
            continue
        if len(found) == 1:
            ids.update(found)
        else:  # an ambiguous identifier must not bring in another patient's data
            how = "no patient" if not found else f"{len(found)} patients"
            report.add_incomplete(Incomplete("cohort Patient", f"line {number} matches {how}"))
    return ids


def _by_identifier(client: FhirClient, token: str, report: PullReport) -> set[str]:
    report.add_query(query_text(rt.PATIENT, [("identifier", "{identifier of the cohort file}")]))
    params = [("identifier", token)]
    results = search(client, rt.PATIENT, params)
    found = {str(r.get("id")) for r in results if r.get("resourceType") == rt.PATIENT}
    report.add_search(f"cohort {rt.PATIENT}", results)
    if ignored_params(params, results.self_link):
        raise PagingError("the server ignored the identifier of a Patient search")
    return found
