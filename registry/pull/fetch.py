"""Per patient: search each type, keep only that patient's resources, collect Medications.

Servers silently ignore search parameters they do not support, and some drop the compartment
from their paging links; so every returned resource is checked against the patient it was
fetched for and dropped (and counted) when it belongs to another patient or to none.
Medications come from ``_include`` where the server offers it; those it did not include are
read one by one at the end (`MedicationReader`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from adapter.capabilities import ServerCapabilities
from adapter.client import FhirClient
from adapter.errors import CapabilityError, ConfigError, HTTPError, PagingError
from adapter.items import ReadProblem, SourceItem
from adapter.paging import Resource
from adapter.terminology import Terminology
from registry.pull import resources as rt
from registry.pull.config import PullSettings
from registry.pull.report import Incomplete, PullReport, redact
from registry.pull.search import ignored_params, make_item, read_exact, search

logger = logging.getLogger(__name__)

Item = SourceItem | ReadProblem
_OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@dataclass(frozen=True)
class TypeQuery:
    """One search run for every patient: type, patient parameter and fixed filters."""

    resource_type: str
    patient_param: str
    filters: tuple[tuple[str, str], ...] = ()
    include: str | None = None

    def params(self, patient_id: str, page_size: int, since: str | None) -> list[tuple[str, str]]:
        """The query for one patient."""
        value = patient_id if self.patient_param == "patient" else f"Patient/{patient_id}"
        params = [(self.patient_param, value), *self.filters, ("_count", str(page_size))]
        if self.include:
            params.append(("_include", self.include))
        return params + ([("_lastUpdated", f"ge{since}")] if since else [])


def observation_codes(term: Terminology, report: PullReport) -> list[str]:
    """``system|code`` tokens of every study analyte (LOINC and site-local codes)."""
    tokens = {f"http://loinc.org|{code}" for spec in term.analytes.values() for code in spec.loinc}
    tokens |= {f"{system}|{code}" for system, code in term.local_analytes}
    coded = {concept for concept in term.local_analytes.values()}
    missing = sorted(k for k, spec in term.analytes.items() if not spec.loinc and k not in coded)
    if missing:
        report.note(
            "observations = 'codes': analytes without a LOINC or local code are not pulled ("
            + ", ".join(missing)
            + "); use observations = 'all' or add their local codes"
        )
    return sorted(tokens)


def observation_filters(
    settings: PullSettings, term: Terminology, report: PullReport
) -> list[tuple[tuple[str, str], ...]]:
    """The Observation filters the settings imply, one per search ((): no filter, all of them).

    ``observations = "codes"`` asks for the study analytes' codes; each configured category is
    a search of its own (with the codes, when asked for).
    """
    codes: tuple[tuple[str, str], ...] = ()
    if settings.observations == "codes":
        codes = (("code", ",".join(observation_codes(term, report))),)
    if not settings.observation_categories:
        return [codes]
    return [
        (*codes, ("category", f"{_OBSERVATION_CATEGORY}|{category}"))
        for category in settings.observation_categories
    ]


def plan_queries(
    caps: ServerCapabilities, settings: PullSettings, term: Terminology, report: PullReport
) -> list[TypeQuery]:
    """The searches run per patient, adapted to what the server declares.

    Raises:
        ConfigError: a type the pull does not know how to select by patient.
    """
    queries: list[TypeQuery] = []
    for resource_type in settings.types:
        if resource_type == rt.PATIENT:
            continue
        if resource_type not in rt.STANDARD_PATIENT_PARAM:
            raise ConfigError(f"cannot pull {resource_type} per patient")
        try:
            param = caps.patient_param(resource_type)
        except CapabilityError:
            param = rt.STANDARD_PATIENT_PARAM[resource_type]
            report.note(
                f"the server does not declare {resource_type} search by patient; searching with "
                f"'{param}' anyway, every result checked against its patient"
            )
        include = f"{resource_type}:medication"
        wanted = resource_type in rt.MEDICATION_USERS and caps.supports_include(
            resource_type, include
        )
        queries += _filtered(
            TypeQuery(resource_type, param, include=include if wanted else None),
            settings,
            term,
            report,
        )
    return queries


def _filtered(
    query: TypeQuery, settings: PullSettings, term: Terminology, report: PullReport
) -> list[TypeQuery]:
    if query.resource_type != rt.OBSERVATION:
        return [query]
    return [
        TypeQuery(query.resource_type, query.patient_param, filters)
        for filters in observation_filters(settings, term, report)
    ]


class PatientFetcher:
    """Fetches one patient's resources; safe to call from the client's thread pool."""

    def __init__(
        self,
        client: FhirClient,
        queries: Sequence[TypeQuery],
        *,
        release: str,
        report: PullReport,
        page_size: int,
        since: str | None = None,
        known_patients: frozenset[str] = frozenset(),
        medications: MedicationReader,
    ) -> None:
        self._client = client
        self._queries = queries
        self._release = release
        self._report = report
        self._page_size = page_size
        self._since = since
        self._known = known_patients
        self._medications = medications

    def fetch(self, job: tuple[int, str]) -> list[Item]:
        """Return everything of patient ``job = (position, id)`` that belongs to them."""
        index, patient_id = job
        items: list[Item] = []
        try:
            patient = read_exact(self._client, rt.PATIENT, patient_id)
            self._report.add_read(rt.PATIENT)
            items.append(self._item(patient, "read"))
        except (HTTPError, PagingError) as exc:
            self._incomplete(rt.PATIENT, patient_id, index, exc)
            return items
        # A patient new to the registry is pulled whole, whatever --since says.
        since = self._since if patient_id in self._known else None
        seen: set[str] = set()  # one resource found by two searches (two categories) is kept once
        for query in self._queries:
            items += self._search(query, patient_id, index, since, seen)
        return items

    def _search(
        self, query: TypeQuery, patient_id: str, index: int, since: str | None, seen: set[str]
    ) -> list[Item]:
        kind, items, dropped = query.resource_type, list[Item](), 0
        params = query.params(patient_id, self._page_size, since)
        results = search(self._client, kind, params, on_include=self._medications.offer)
        page = entry = 0
        try:
            for resource in results:
                page, entry = results.pages, (entry + 1 if results.pages == page else 1)
                if rt.patient_of(resource, self._client.base_url) != patient_id:
                    dropped += 1
                    continue
                if f"{kind}/{resource.get('id')}" in seen:
                    continue
                seen.add(f"{kind}/{resource.get('id')}")
                self._medications.want(resource)
                items.append(self._item(resource, f"search {kind} page {page} entry {entry}"))
        except (HTTPError, PagingError) as exc:
            self._incomplete(kind, patient_id, index, exc)
        self._report.add_search(kind, results, dropped=dropped)
        for name in ignored_params(params, results.self_link):
            self._report.note(f"the server ignored '{name}' in {kind} searches (self link)")
        for reason in results.incomplete_reasons:
            self._report.add_incomplete(Incomplete(kind, reason, patient_id, index))
        return items

    def _item(self, resource: Resource, locator: str) -> Item:
        return to_item(resource, self._client.base_url, locator, self._release)

    def _incomplete(self, kind: str, patient_id: str, index: int, exc: Exception) -> None:
        reason = redact(str(exc), patient_id)
        logger.warning("%s of patient %d could not be fetched: %s", kind, index, reason)
        self._report.add_incomplete(Incomplete(kind, reason, patient_id, index))


def to_item(resource: Resource, origin: str, locator: str, release: str) -> Item:
    """A `SourceItem`, or a `ReadProblem` for a resource that cannot be written as JSON."""
    try:
        return make_item(resource, origin=origin, locator=locator, release=release)
    except ValueError as exc:
        return ReadProblem(origin, locator[:64], "invalid-json", f"{origin}, {locator}: {exc}", b"")


class MedicationReader:
    """Collects Medications: included ones as they come, the rest read one by one at the end."""

    def __init__(self, client: FhirClient, *, release: str, report: PullReport) -> None:
        self._client = client
        self._release = release
        self._report = report
        self._lock = threading.Lock()
        self._have: dict[str, tuple[Resource, str]] = {}
        self._wanted: set[str] = set()

    def offer(self, resource: Resource, locator: str = "include") -> None:
        """Keep an included (or exported) Medication; other included types are ignored."""
        if resource.get("resourceType") == rt.MEDICATION and isinstance(resource.get("id"), str):
            with self._lock:
                self._have.setdefault(resource["id"], (resource, locator))

    def want(self, resource: Resource) -> None:
        """Note the Medications a resource references."""
        ids = rt.medication_ids(resource)
        if ids:
            with self._lock:
                self._wanted.update(ids)

    def items(self) -> Iterator[Item]:
        """Yield every Medication collected, reading the ones the server did not include."""
        with self._lock:
            have, missing = dict(self._have), sorted(self._wanted - set(self._have))
        for resource, locator in have.values():
            yield to_item(resource, self._client.base_url, locator, self._release)
        read = self._client.map_concurrent(self._read, missing)
        yield from (item for item in read if item is not None)

    def _read(self, medication_id: str) -> Item | None:
        try:
            resource = read_exact(self._client, rt.MEDICATION, medication_id)
        except (HTTPError, PagingError) as exc:
            self._report.add_incomplete(Incomplete(rt.MEDICATION, f"a referenced one: {exc}"))
            return None
        self._report.add_read(rt.MEDICATION)
        return to_item(resource, self._client.base_url, "read", self._release)


def fetch_cohort(fetcher: PatientFetcher, client: FhirClient, ids: Iterable[str]) -> Iterator[Item]:
    """Fetch every patient on the client's thread pool, yielding their items in cohort order."""
    for items in client.map_concurrent(fetcher.fetch, enumerate(ids, 1)):
        yield from items
