"""What a pull did, for the run record: searches, pages, drops, warnings and incomplete reasons.

Thread-safe: patients are fetched on the client's thread pool. Patient ids are kept in the
run record (the registry stores them anyway) but never in `messages()`, which may be logged.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from adapter.paging import SearchResults

_SEARCH_FIELDS = ("searches", "pages", "matches", "includes", "duplicates", "dropped", "reads")


def redact(text: str, *values: str) -> str:
    """Replace patient identifiers in a text (servers echo them in OperationOutcomes).

    >>> redact("Patient/mas-01 not found", "mas-01")
    'Patient/{id} not found'
    """
    for value in sorted((v for v in values if v), key=len, reverse=True):
        text = text.replace(value, "{id}")
    return text


@dataclass(frozen=True)
class Incomplete:
    """Why part of a pull may be missing: a type, the patient (index and id) and the reason."""

    resource_type: str
    reason: str
    patient_id: str | None = None
    patient_index: int | None = None  # 1-based position in the cohort, for messages

    def message(self, cohort_size: int) -> str:
        """A line for stderr and logs: names the patient by position, never by id."""
        where = f" (patient {self.patient_index} of {cohort_size})" if self.patient_index else ""
        return f"{self.resource_type}{where}: {self.reason}"


class PullReport:
    """Counts and findings of one pull, merged from every worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_type: dict[str, Counter[str]] = {}
        self.warnings: Counter[str] = Counter()
        self.notes: list[str] = []
        self.incomplete: list[Incomplete] = []
        self.queries: list[str] = []  # what was asked of the server, patient ids as {id}
        self.cohort_size = 0

    def _counter(self, resource_type: str) -> Counter[str]:
        return self.by_type.setdefault(resource_type, Counter())

    def add_search(self, resource_type: str, results: SearchResults, *, dropped: int = 0) -> None:
        """Add one finished (or failed) search's paging counts and warnings."""
        with self._lock:
            counter = self._counter(resource_type)
            counter["searches"] += 1
            counter["pages"] += results.pages
            counter["matches"] += results.matches
            counter["includes"] += results.includes
            counter["duplicates"] += results.duplicates
            counter["dropped"] += dropped
            for issue in results.warnings:
                self.warnings[f"{resource_type}: {issue.severity} {issue.text}"[:300]] += 1

    def add_read(self, resource_type: str, n: int = 1) -> None:
        """Count resources read one by one (Patients, Medications the server did not include)."""
        with self._lock:
            self._counter(resource_type)["reads"] += n

    def add_dropped(self, resource_type: str, n: int) -> None:
        """Count resources dropped because they belong to another patient (or none)."""
        if n:
            with self._lock:
                self._counter(resource_type)["dropped"] += n

    def note(self, text: str) -> None:
        """Record a finding that does not make the pull incomplete (once per text)."""
        with self._lock:
            if text not in self.notes:
                self.notes.append(text)

    def add_query(self, text: str) -> None:
        """Record a query template of the pull (once per text; no patient ids in it)."""
        with self._lock:
            if text not in self.queries:
                self.queries.append(text)

    def add_incomplete(self, item: Incomplete) -> None:
        """Record a reason why the pull may be incomplete."""
        with self._lock:
            self.incomplete.append(item)

    @property
    def is_incomplete(self) -> bool:
        """True when anything may be missing."""
        return bool(self.incomplete)

    @property
    def pages(self) -> int:
        """Search result pages of the finished searches."""
        with self._lock:
            return sum(c["pages"] for c in self.by_type.values())

    @property
    def dropped(self) -> int:
        """Resources dropped in total (other patients' data the server returned)."""
        return sum(c["dropped"] for c in self.by_type.values())

    def messages(self) -> list[str]:
        """The incomplete reasons as lines safe to print (no patient ids)."""
        return [item.message(self.cohort_size) for item in self.incomplete]

    def as_dict(self) -> dict[str, Any]:
        """The run record's ``pull`` section."""
        return {
            "cohort_size": self.cohort_size,
            "queries": list(self.queries),
            "searches": {
                t: {f: c[f] for f in _SEARCH_FIELDS} for t, c in sorted(self.by_type.items())
            },
            "dropped_other_patients": self.dropped,
            "warnings": dict(self.warnings.most_common(50)),
            "notes": list(self.notes),
            "incomplete": bool(self.incomplete),
            "incomplete_reasons": [
                {
                    "type": i.resource_type,
                    "patient": i.patient_id,
                    "patient_index": i.patient_index,
                    "reason": i.reason,
                }
                for i in self.incomplete
            ],
        }
