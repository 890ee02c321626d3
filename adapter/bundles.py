"""Turning parsed JSON values and Bundle entries into source items, problems and counts.

Rules for Bundle entries (all Bundle types; nested Bundles are opened and their entries read
with their own type and context):

- ``request.method = DELETE``, and in a ``history`` Bundle an entry without a resource, are
  deletion instructions: a `SourceItem` with ``deleted=True`` whose type and id come from
  ``request.url`` (else ``fullUrl``); a conditional delete (``Patient?identifier=...``) has no id.
- ``request.method = PATCH`` is a `ReadProblem` ("unsupported-entry"): its resource is a patch
  document, not the patched resource.
- OperationOutcomes (``search.mode = outcome`` in a searchset, a failed batch entry, a bulk
  export error file) are never content: counted in ``ReadStats.operation_outcomes``.
- Entries with only a GET/HEAD request, or only a response (status, location) are counted in
  ``requests_only`` / ``responses_only``. ``search.mode = include`` entries are content.
- Any other entry with a resource is content; ``response.lastModified`` is kept when present.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from adapter.items import (
    BundleContext,
    ReadProblem,
    ReadStats,
    SourceItem,
    context_keys,
    make_problem,
    type_and_id,
)
from adapter.jsontext import dump_json
from adapter.versions import agreed_version, choose_version, detect_version

BUNDLE = "Bundle"
OPERATION_OUTCOME = "OperationOutcome"

Result = SourceItem | ReadProblem

_TYPE_SEGMENT = re.compile(r"^[A-Z][A-Za-z]+$")


def build_context(entries: Iterable[Any], parent: BundleContext | None = None) -> BundleContext:
    """Index the entries of one in-memory Bundle by fullUrl and ``Type/id``."""
    resources: dict[str, Mapping[str, Any]] = {}
    canonical: dict[str, str] = {}
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            continue
        keys, ref = context_keys(entry, resource)
        for key in keys:
            resources.setdefault(key, resource)
            if ref:
                canonical.setdefault(key, ref)
    return BundleContext(resources, canonical, parent)


def bundle_hint(
    bundle: Mapping[str, Any], entries: Iterable[Any], parent: str | None
) -> str | None:
    """Return the version the entries of a Bundle agree on, else the Bundle's, else the parent's."""
    resources = (e.get("resource") for e in entries if isinstance(e, Mapping))
    found = agreed_version(detect_version(r) for r in resources if isinstance(r, Mapping))
    return found or detect_version(bundle) or parent


def _target_of(url: Any) -> tuple[str | None, str | None]:
    """Return (type, id) a request URL acts on; id is None for a conditional URL."""
    if not isinstance(url, str):
        return None, None
    found = type_and_id(url)
    if found:
        return found
    last = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return (last, None) if _TYPE_SEGMENT.match(last) else (None, None)


def _method(entry: Mapping[str, Any]) -> str:
    request = entry.get("request")
    method = request.get("method") if isinstance(request, Mapping) else None
    return method.upper() if isinstance(method, str) else ""


def _last_modified(entry: Mapping[str, Any]) -> str | None:
    response = entry.get("response")
    value = response.get("lastModified") if isinstance(response, Mapping) else None
    return value if isinstance(value, str) else None


@dataclass(slots=True)
class ValueReader:
    """Reads the parsed values of one file (or NDJSON line) into items and problems."""

    origin: str
    configured: str | None  # the configured FHIR version, if any
    stats: ReadStats
    suffix: str = ""  # " (line 4)" for Bundles read from an NDJSON line

    def read_value(
        self, value: Any, locator: str, raw: bytes, canonical: bytes | None = None
    ) -> Iterator[Result]:
        """Read one top-level JSON value: a resource or a Bundle to open.

        `canonical` is the value's canonical bytes when the parser already wrote them.
        """
        if isinstance(value, dict) and value.get("resourceType") == BUNDLE:
            yield from self.read_bundle(value, "", None, None)
        else:
            yield from self.read_resource(value, locator, raw, None, None, None, canonical)

    def read_resource(
        self,
        value: Any,
        locator: str,
        raw: bytes | None,
        context: BundleContext | None,
        hint: str | None,
        last_modified: str | None,
        canonical: bytes | None = None,
    ) -> Iterator[Result]:
        """Yield one resource as an item (OperationOutcomes are only counted).

        `raw` is the value's original text, for a problem; None to write it from the value.
        `canonical` is its canonical bytes if already written (else they are written here).
        """
        rtype = value.get("resourceType") if isinstance(value, dict) else None
        if not isinstance(rtype, str) or not rtype:
            detail = "the JSON value has no resourceType, so it is not a FHIR resource"
            yield make_problem(self.origin, locator, "not-a-resource", detail, raw or _raw(value))
            return
        if rtype == OPERATION_OUTCOME:
            self.stats.operation_outcomes += 1
            return
        try:
            canonical = canonical or dump_json(value)
        except ValueError as exc:
            detail = f"the resource {exc}"
            yield make_problem(self.origin, locator, "invalid-json", detail, raw or _raw(value))
            return
        rid = value.get("id")
        yield SourceItem(
            resource=value,
            raw=canonical,
            origin=self.origin,
            locator=locator,
            fhir_version=choose_version(self.configured, value, hint),
            bundle_context=context,
            resource_type=rtype,
            resource_id=rid if isinstance(rid, str) else None,
            last_modified=last_modified,
        )

    def read_bundle(
        self, bundle: dict[str, Any], prefix: str, parent: BundleContext | None, hint: str | None
    ) -> Iterator[Result]:
        """Open an in-memory Bundle; `prefix` numbers nested entries ("3." -> "entry 3.1")."""
        self.stats.bundles += 1
        entries = bundle.get("entry", [])
        if not isinstance(entries, list):
            locator = f"entry {prefix.rstrip('.')}{self.suffix}" if prefix else self._top()
            detail = "the Bundle's entry element is not a list, so no entry could be read"
            yield make_problem(self.origin, locator, "unsupported-entry", detail, b"")
            return
        context = build_context(entries, parent)
        version = bundle_hint(bundle, entries, hint)
        yield from self.read_entries(entries, bundle.get("type"), context, version, prefix)

    def _top(self) -> str:
        return self.suffix.strip(" ()") or "file"

    def read_entries(
        self,
        entries: Iterable[Any],
        bundle_type: Any,
        context: BundleContext | None,
        hint: str | None,
        prefix: str = "",
    ) -> Iterator[Result]:
        """Read the entries of one Bundle, numbered from 1."""
        for number, entry in enumerate(entries, 1):
            self.stats.entries += 1
            yield from self._entry(entry, f"{prefix}{number}", bundle_type, context, hint)

    def _entry(
        self,
        entry: Any,
        number: str,
        bundle_type: Any,
        context: BundleContext | None,
        hint: str | None,
    ) -> Iterator[Result]:
        locator = f"entry {number}{self.suffix}"
        if not isinstance(entry, dict):
            detail = "the Bundle entry is not a JSON object"
            yield make_problem(self.origin, locator, "unsupported-entry", detail, _raw(entry))
            return
        method, resource = _method(entry), entry.get("resource")
        if method == "DELETE" or (bundle_type == "history" and resource is None):
            yield self._deletion(entry, locator, context, hint)
        elif method == "PATCH":
            detail = "a PATCH request holds a patch, not a resource, and cannot be imported"
            yield make_problem(self.origin, locator, "unsupported-entry", detail, _raw(entry))
        elif resource is None:
            yield from self._empty_entry(entry, method, locator)
        elif _is_outcome(entry, resource):
            self.stats.operation_outcomes += 1
        elif isinstance(resource, dict) and resource.get("resourceType") == BUNDLE:
            yield from self.read_bundle(resource, f"{number}.", context, hint)
        else:
            last = _last_modified(entry)
            yield from self.read_resource(resource, locator, None, context, hint, last)

    def _empty_entry(self, entry: Mapping[str, Any], method: str, locator: str) -> Iterator[Result]:
        """Count a bare GET/HEAD request or a bare response; anything else is a problem."""
        if method in ("GET", "HEAD"):
            self.stats.requests_only += 1
        elif not method and isinstance(entry.get("response"), Mapping):
            self.stats.responses_only += 1
        else:
            detail = "the Bundle entry has no resource, so there is nothing to import"
            yield make_problem(self.origin, locator, "not-a-resource", detail, _raw(entry))

    def _deletion(
        self,
        entry: Mapping[str, Any],
        locator: str,
        context: BundleContext | None,
        hint: str | None,
    ) -> Result:
        request = entry.get("request")
        rtype, rid = _target_of(request.get("url") if isinstance(request, Mapping) else None)
        if rtype is None:
            rtype, rid = _target_of(entry.get("fullUrl"))
        resource = entry.get("resource")
        if rtype is None and isinstance(resource, Mapping):
            rtype, rid = resource.get("resourceType"), resource.get("id")
        if not isinstance(rtype, str):
            detail = "a deletion that does not say which resource to delete"
            return make_problem(self.origin, locator, "unsupported-entry", detail, _raw(entry))
        rid = rid if isinstance(rid, str) else None
        stub: dict[str, Any] = {"resourceType": rtype} | ({"id": rid} if rid else {})
        return SourceItem(
            resource=stub,
            raw=_raw(entry),
            origin=self.origin,
            locator=locator,
            fhir_version=choose_version(self.configured, None, hint),
            bundle_context=context,
            resource_type=rtype,
            resource_id=rid,
            deleted=True,
            last_modified=_last_modified(entry),
        )


def _is_outcome(entry: Mapping[str, Any], resource: Any) -> bool:
    search = entry.get("search")
    mode = search.get("mode") if isinstance(search, Mapping) else None
    rtype = resource.get("resourceType") if isinstance(resource, Mapping) else None
    return mode == "outcome" or rtype == OPERATION_OUTCOME


def _raw(value: Any) -> bytes:
    """Canonical bytes of a value for quarantine; never fails (repr for non-JSON text)."""
    try:
        return dump_json(value)
    except ValueError:
        return repr(value).encode("utf-8", "backslashreplace")
