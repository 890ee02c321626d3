"""A small searchable FHIR server on https://fhir.example.invalid/R4, built on `responses`.

It holds resources in memory and answers reads, searches (patient, subject, code, category,
identifier, medication by reference, _lastUpdated, _count/_offset paging, _include of
Medications) and a Bulk Data export. Tests break one thing on it: a parameter it ignores
(dropped from the self link, as real servers do), a type it does not declare, replies queued
before the real answer (`fail`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import deque
from collections.abc import Iterable
from typing import Any

import requests
import responses

BASE = "https://fhir.example.invalid/R4"
FILES = "https://fhir.example.invalid/files"
DATE = "Mon, 01 Jul 2024 10:00:00 GMT"
EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
PARAMS = {
    "Patient": ["identifier"],
    "Condition": ["patient", "code"],
    "Observation": ["patient", "code", "category"],
    "Encounter": ["patient"],
    "DiagnosticReport": ["patient"],
    "MedicationAdministration": ["patient", "code"],
    "MedicationRequest": ["patient"],
    "MedicationStatement": ["patient"],
    "AdverseEvent": ["subject"],
    "Medication": [],
    "Group": [],
}
_REF = re.compile(r"(?:^|/)Patient/([^/]+)$")


def _codes(resource: dict[str, Any], element: str) -> set[str]:
    concepts = resource.get(element) or []
    concepts = concepts if isinstance(concepts, list) else [concepts]
    return {
        f"{c.get('system')}|{c.get('code')}"
        for concept in concepts
        for c in concept.get("coding", [])
    }


class StubServer:
    """The working default server; attributes change its behaviour."""

    def __init__(self, mock: responses.RequestsMock, resources: Iterable[dict[str, Any]]) -> None:
        self.resources = {(r["resourceType"], r["id"]): r for r in resources}
        self.declared = {k: list(v) for k, v in PARAMS.items()}
        self.includes = True
        self.ignored: set[tuple[str, str]] = set()  # (type, param) silently dropped
        self.queued: dict[str, deque[tuple[int, dict[str, str], bytes]]] = {}
        self.urls: list[str] = []
        self.export_files: dict[str, list[dict[str, Any]]] = {}
        self.deleted_ids: list[tuple[str, str]] = []
        self.export_errors: list[str] = []  # diagnostics of OperationOutcome error lines
        self.kickoffs = 0
        pattern = re.compile(r"https://fhir\.example\.invalid/.*")
        for method in (responses.GET, responses.DELETE):
            mock.add_callback(method, pattern, self._dispatch)

    def fail(self, path: str, *statuses: int) -> None:
        """Answer the next requests to a path (no query) with these statuses first."""
        queue = self.queued.setdefault(path, deque())
        for status in statuses:
            body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error"}]}
            queue.append((status, {"Retry-After": "0"}, json.dumps(body).encode()))

    def metadata(self) -> dict[str, Any]:
        ops = [{"name": "export", "definition": EXPORT + "patient-export"}]
        resource = [
            {
                "type": kind,
                "searchParam": [{"name": p, "type": "token"} for p in params],
                "searchInclude": [f"{kind}:medication"] if self.includes else [],
                **({"operation": ops} if kind in ("Patient", "Group") else {}),
            }
            for kind, params in self.declared.items()
        ]
        rest = {"mode": "server", "resource": resource, "searchParam": [{"name": "_count"}]}
        rest["operation"] = [{"name": "export", "definition": EXPORT + "export"}]
        return {
            "resourceType": "CapabilityStatement",
            "fhirVersion": "4.0.1",
            "software": {"name": "Stub", "version": "1"},
            "rest": [rest],
        }

    def _dispatch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        url = str(request.url)
        self.urls.append(url)
        parts = urllib.parse.urlsplit(url)
        queue = self.queued.get(parts.path)
        if queue:
            return queue.popleft()
        path = parts.path.removeprefix("/R4").strip("/").split("/")
        params = urllib.parse.parse_qsl(parts.query)
        if parts.path.startswith("/files/"):
            return self._file(parts.path.rsplit("/", 1)[-1])
        if path == ["metadata"]:
            return 200, {"Date": DATE}, json.dumps(self.metadata()).encode()
        if path[-1] == "$export" or path[0] == "status":
            return self._bulk(request.method or "GET", path)
        if len(path) == 2:
            found = self.resources.get((path[0], path[1]))
            return (200, {}, json.dumps(found).encode()) if found else (404, {}, b"{}")
        return 200, {}, json.dumps(self._search(path[0], params)).encode()

    def _search(self, kind: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        applied = [(k, v) for k, v in params if (kind, k) not in self.ignored]
        control = dict(applied)
        found = [r for (t, _), r in sorted(self.resources.items()) if t == kind]
        for key, value in applied:
            if key not in ("_count", "_offset", "_include"):
                found = [r for r in found if self._matches(r, key, value)]
        count, offset = int(control.get("_count", 50)), int(control.get("_offset", 0))
        page = found[offset : offset + count]
        entries = [{"resource": r, "search": {"mode": "match"}} for r in page]
        if control.get("_include") and self.includes:
            entries += [{"resource": m, "search": {"mode": "include"}} for m in self._meds(page)]
        query = [(k, v) for k, v in applied if k != "_offset"]
        links = [{"relation": "self", "url": f"{BASE}/{kind}?{urllib.parse.urlencode(query)}"}]
        if offset + count < len(found):
            nxt = urllib.parse.urlencode([*query, ("_offset", str(offset + count))])
            links.append({"relation": "next", "url": f"{kind}?{nxt}"})  # relative, as some do
        return {"resourceType": "Bundle", "type": "searchset", "total": len(found),
                "link": links, "entry": entries}  # fmt: skip

    def _matches(self, resource: dict[str, Any], key: str, value: str) -> bool:
        if key in ("patient", "subject"):
            ref = (resource.get("subject") or {}).get("reference", "")
            match = _REF.search(ref)
            return match is not None and match.group(1) == value.removeprefix("Patient/")
        if key == "code":
            element = (
                "medicationCodeableConcept" if "medicationCodeableConcept" in resource else "code"
            )
            return bool(_codes(resource, element) & set(value.split(",")))
        if key == "category":
            return value in _codes(resource, "category")
        if key == "medication":
            ref = (resource.get("medicationReference") or {}).get("reference", "")
            return ref in value.split(",")
        if key == "identifier":
            ids = {f"{i.get('system')}|{i.get('value')}" for i in resource.get("identifier", [])}
            return value in ids
        if key == "_lastUpdated":
            return str(resource.get("meta", {}).get("lastUpdated", "")) >= value.removeprefix("ge")
        return True

    def _meds(self, page: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for resource in page:
            ref = (resource.get("medicationReference") or {}).get("reference", "")
            med = self.resources.get(("Medication", ref.rsplit("/", 1)[-1]))
            if med is not None and med not in out:
                out.append(med)
        return out

    def _bulk(self, method: str, path: list[str]) -> tuple[int, dict[str, str], bytes]:
        if path[-1] == "$export":
            self.kickoffs += 1
            return 202, {"Content-Location": f"{BASE}/status/1"}, b""
        if method == "DELETE":
            return 202, {}, b""
        output = [
            {"type": kind, "url": f"{FILES}/{kind}.ndjson", "count": len(items)}
            for kind, items in sorted(self.export_files.items())
        ]
        deleted = [{"type": "Bundle", "url": f"{FILES}/deleted.ndjson"}] if self.deleted_ids else []
        error = [{"type": "OperationOutcome", "url": f"{FILES}/errors.ndjson"}]
        manifest = {"transactionTime": "2024-07-01T10:00:00Z", "requiresAccessToken": False,
                    "output": output, "deleted": deleted,
                    "error": error if self.export_errors else []}  # fmt: skip
        return 200, {}, json.dumps(manifest).encode()

    def _file(self, name: str) -> tuple[int, dict[str, str], bytes]:
        if name == "errors.ndjson":
            lines = [
                {"resourceType": "OperationOutcome",
                 "issue": [{"severity": "error", "code": "exception", "diagnostics": text}]}
                for text in self.export_errors
            ]  # fmt: skip
            return 200, {}, "".join(json.dumps(o) + "\n" for o in lines).encode()
        if name == "deleted.ndjson":
            entries = [
                {"request": {"method": "DELETE", "url": f"{t}/{i}"}} for t, i in self.deleted_ids
            ]
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            return 200, {}, (json.dumps(bundle) + "\n").encode()
        items = self.export_files[name.split(".")[0]]
        return 200, {}, "".join(json.dumps(r) + "\n" for r in items).encode()
