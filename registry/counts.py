"""Run counts: every resource read lands in exactly one bucket, so read always adds up."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

BUCKETS = ("loaded", "updated", "unchanged", "quarantined", "skipped")
UNREADABLE = "(unreadable)"


@dataclass
class RunCounts:
    """Per resource type bucket counts, plus deletion instructions (not resources) apart."""

    by_type: dict[str, Counter[str]] = field(default_factory=dict)
    deletions: Counter[str] = field(default_factory=Counter)
    operation_outcomes: int = 0
    ignored_files: list[str] = field(default_factory=list)  # documentation met in folders

    def add(self, resource_type: str, bucket: str, n: int = 1) -> None:
        """Count `n` resources of a type into a bucket."""
        if bucket not in BUCKETS:
            raise ValueError(f"unknown bucket {bucket!r}")
        self.by_type.setdefault(resource_type, Counter())[bucket] += n

    def move(self, resource_type: str, source: str, target: str) -> bool:
        """Move one count between buckets (a post-load check changed a resource's fate)."""
        counter = self.by_type.get(resource_type)
        if counter is None or counter[source] <= 0:
            return False
        counter[source] -= 1
        counter[target] += 1
        return True

    def total(self, bucket: str) -> int:
        """Sum a bucket over all types."""
        return sum(c[bucket] for c in self.by_type.values())

    @property
    def read(self) -> int:
        """Everything read: by construction the sum of the five buckets."""
        return sum(self.total(b) for b in BUCKETS)

    def as_dict(self) -> dict[str, Any]:
        """The summary `masreg import --json` prints (read = the sum of the five buckets)."""
        return {
            "read": self.read,
            **{b: self.total(b) for b in BUCKETS},
            "by_type": {
                t: {b: c[b] for b in BUCKETS} | {"read": sum(c[b] for b in BUCKETS)}
                for t, c in sorted(self.by_type.items())
            },
            "deletions": dict(sorted(self.deletions.items())),
            "operation_outcomes": self.operation_outcomes,
            "ignored_files": self.ignored_files,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunCounts:
        """Rebuild counts saved in a run record (to resume accounting)."""
        counts = cls()
        for rtype, buckets in (data.get("by_type") or {}).items():
            for bucket in BUCKETS:
                if buckets.get(bucket):
                    counts.add(rtype, bucket, int(buckets[bucket]))
        counts.deletions.update(data.get("deletions") or {})
        counts.operation_outcomes = int(data.get("operation_outcomes") or 0)
        return counts
