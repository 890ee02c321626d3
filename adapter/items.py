"""What reading FHIR files yields: source items, read problems, Bundle contexts and counters.

The reader (`adapter.reading.iter_items`) turns files into a stream of `SourceItem` (a resource
or a deletion instruction) and `ReadProblem` (something that could not be read). Everything else
it meets is counted in `ReadStats`, so that a run can account for every line and Bundle entry:
``items + problems + not_content`` equals the number of resources, lines and leaf entries read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from adapter.jsontext import excerpt

# Codes a ReadProblem can carry. "invalid-json", "not-a-resource" are also QUARANTINE_REASONS.
READ_PROBLEM_REASONS: dict[str, str] = {
    "invalid-json": "the line or file is not valid JSON",
    "not-a-resource": "the JSON value is not a FHIR resource (no resourceType)",
    "unreadable-file": "the file could not be opened, decompressed or read to its end",
    "unsupported-file": "the file is not of a kind the registry reads (.json, .ndjson, .gz)",
    "unsupported-entry": "a Bundle entry that is neither content nor a deletion (e.g. PATCH)",
}

_HISTORY_SUFFIX = re.compile(r"/_history/[^/]*$")
_TYPE_AND_ID = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")


def _strip_history(reference: str) -> str:
    return _HISTORY_SUFFIX.sub("", reference)


def type_and_id(url: str) -> tuple[str, str] | None:
    """Return (type, id) from ``Type/id``, ``base/Type/id`` or ``Type/id/_history/n``.

    >>> type_and_id("https://example.org/fhir/Patient/123/_history/2")
    ('Patient', '123')
    >>> type_and_id("Patient?identifier=x") is None
    True
    """
    match = _TYPE_AND_ID.search(_strip_history(url.split("?", 1)[0]))
    return (match.group(1), match.group(2)) if match else None


@dataclass(frozen=True, slots=True)
class BundleContext:
    """Resolves references between the entries of one Bundle (and, failing that, its parents).

    Keys are each entry's ``fullUrl`` (``urn:uuid:...`` or absolute) and ``Type/id`` of its
    resource. A context built for a streamed (very large) Bundle is *index-only*: it knows which
    ``Type/id`` every fullUrl stands for (`canonical_ref` works) but keeps no resources
    (`resolve` returns None), so memory grows only by a few hundred bytes per entry.
    """

    resources: Mapping[str, Mapping[str, Any]] = field(repr=False)
    canonical: Mapping[str, str] = field(repr=False)
    parent: BundleContext | None = field(default=None, repr=False)
    index_only: bool = False

    def resolve(self, reference: str) -> Mapping[str, Any] | None:
        """Return the resource of this Bundle a reference points to, or None.

        Accepts ``urn:uuid:...`` and absolute fullUrls, ``Type/id`` and versioned forms;
        contained (``#id``) references are not Bundle-level and give None.
        """
        key = _strip_history(reference)
        found = self.resources.get(key)
        if found is None and self.parent is not None:
            return self.parent.resolve(reference)
        return found

    def canonical_ref(self, reference: str) -> str | None:
        """Return ``Type/id`` of the entry a reference points to (``urn:uuid:a`` -> ``Patient/a``).

        None when no entry matches or the matching resource has no id.
        """
        key = _strip_history(reference)
        found = self.canonical.get(key)
        if found is None and self.parent is not None:
            return self.parent.canonical_ref(reference)
        return found


def context_keys(entry: Mapping[str, Any], resource: Mapping[str, Any]) -> tuple[list[str], str]:
    """Return the reference keys an entry answers to and its canonical ``Type/id`` ('' if none)."""
    keys: list[str] = []
    full_url = entry.get("fullUrl")
    if isinstance(full_url, str) and full_url:
        keys.append(_strip_history(full_url))
    rtype, rid = resource.get("resourceType"), resource.get("id")
    canonical = f"{rtype}/{rid}" if isinstance(rtype, str) and isinstance(rid, str) else ""
    if canonical:
        keys.append(canonical)
    return keys, canonical


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One resource (or deletion instruction) read from a file, with where it came from."""

    resource: dict[str, Any] = field(repr=False)
    raw: bytes = field(repr=False)  # canonical JSON bytes (adapter.jsontext.dump_json)
    origin: str  # the file path as given
    locator: str  # "file", "line 12", "entry 3", "entry 3.2", "entry 3 (line 4)"; 1-based
    fhir_version: str  # R4 | R4B | R5
    bundle_context: BundleContext | None = field(repr=False)
    resource_type: str
    resource_id: str | None
    deleted: bool = False  # a deletion instruction: resource is only {resourceType, id}
    last_modified: str | None = None  # Bundle entry.response.lastModified, when given


@dataclass(frozen=True, slots=True)
class ReadProblem:
    """Something in a file that could not be read as a resource; quarantined with its text."""

    origin: str
    locator: str
    reason_code: str  # one of READ_PROBLEM_REASONS
    message: str  # one sentence for a data manager, naming the file and line/entry
    raw: bytes = field(repr=False)  # the offending text, at most 64 KiB


@dataclass(slots=True)
class ReadStats:
    """Counters for one read, so that every line and Bundle entry is accounted for.

    ``items + problems + not_content`` equals the number of resources in single-resource files,
    non-blank NDJSON lines that are not Bundles, leaf Bundle entries (entries holding a Bundle
    are opened and their own entries counted instead) and unsupported or unreadable files.
    """

    files: int = 0  # files met (read, unsupported or unreadable)
    bundles: int = 0  # Bundles opened, nested ones included
    entries: int = 0  # Bundle.entry elements met, nested ones included
    items: int = 0  # SourceItems yielded, deletions included
    deletions: int = 0  # of which deletion instructions
    problems: int = 0  # ReadProblems yielded
    operation_outcomes: int = 0  # OperationOutcomes (e.g. search.mode = outcome): not content
    requests_only: int = 0  # entries with a GET/HEAD request and nothing to import
    responses_only: int = 0  # response entries without a resource (status, location only)
    by_type: dict[str, int] = field(default_factory=dict)  # SourceItems per resource type
    ignored_files: list[str] = field(default_factory=list)  # README*, *.md ... met in folders

    @property
    def not_content(self) -> int:
        """Entries counted but not yielded: OperationOutcomes, bare requests and responses."""
        return self.operation_outcomes + self.requests_only + self.responses_only

    def count_item(self, item: SourceItem) -> None:
        """Count a yielded item."""
        self.items += 1
        self.deletions += item.deleted
        self.by_type[item.resource_type] = self.by_type.get(item.resource_type, 0) + 1


def where(origin: str, locator: str) -> str:
    """Return "origin" or "origin, line 12" for messages."""
    return origin if locator == "file" else f"{origin}, {locator}"


def make_problem(origin: str, locator: str, reason: str, detail: str, raw: bytes) -> ReadProblem:
    """Build a ReadProblem whose message names the file and place, then says what is wrong."""
    message = f"{where(origin, locator)}: {detail}"
    if not message.endswith("."):
        message += "."
    return ReadProblem(origin, locator, reason, message, excerpt(raw))
