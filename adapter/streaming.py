"""Reading a very large JSON Bundle entry by entry (ijson), in two passes.

Pass 1 reads the whole file once, building each entry in turn and keeping only what the Bundle
needs as a whole: its ``type``, an *index-only* `BundleContext` (fullUrl and ``Type/id`` of each
entry -> ``Type/id``; no resources, so `BundleContext.resolve` gives None and only
`BundleContext.canonical_ref` works) and the FHIR version the entries agree on. Pass 2 reads the
file again and yields the entries one at a time. Memory therefore grows with the number of
entries (a few hundred bytes each for the index), never with their size; an entry holding a
nested Bundle is opened in memory as usual.

Numbers come out of ijson as they do from `adapter.jsontext.parse_json`: integers as int,
everything else as an exact Decimal.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import ijson

from adapter.bundles import BUNDLE, Result, ValueReader
from adapter.items import BundleContext, context_keys
from adapter.jsontext import DuplicateKeyError
from adapter.versions import agreed_version, detect_version

_BOM = b"\xef\xbb\xbf"


class _BomSkipping:
    """A binary stream that drops a leading UTF-8 byte order mark (ijson refuses it)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._first = True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if self._first and data:
            self._first = False
            if data.startswith(_BOM):
                data = data[len(_BOM) :]
        return data


class _Builder:
    """Builds one JSON value from ijson events, refusing duplicate keys like `parse_json`."""

    def __init__(self) -> None:
        self.value: Any = None
        self.done = False
        self._stack: list[Any] = []
        self._keys: list[str] = []

    def event(self, event: str, value: Any) -> None:
        if event == "map_key":
            self._keys[-1] = value
        elif event in ("start_map", "start_array"):
            container: Any = {} if event == "start_map" else []
            self._add(container)
            self._stack.append(container)
            self._keys.append("")
        elif event in ("end_map", "end_array"):
            self._stack.pop()
            self._keys.pop()
            self.done = not self._stack
        else:
            self._add(value)
            self.done = not self._stack

    def _add(self, value: Any) -> None:
        if not self._stack:
            self.value = value
            return
        top = self._stack[-1]
        if isinstance(top, list):
            top.append(value)
            return
        key = self._keys[-1]
        if key in top:
            raise DuplicateKeyError(f"the key {key!r} appears twice in one object")
        top[key] = value


class _Scanner:
    """Yields the entries of a top-level JSON object's ``entry`` array; notes its type."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.top_is_object = False
        self.resource_type: Any = None
        self.bundle_type: Any = None
        self.entry_is_list = True

    def entries(self) -> Iterator[Any]:
        """Yield each element of ``entry`` as a Python value.

        Raises:
            ValueError: the text is not valid JSON.
        """
        builder: _Builder | None = None
        try:
            for prefix, event, value in ijson.parse(_BomSkipping(self._stream)):
                if builder is None and prefix == "entry.item":
                    builder = _Builder()
                if builder is not None:
                    builder.event(event, value)
                    if builder.done:
                        yield builder.value
                        builder = None
                else:
                    self._top_level(prefix, event, value)
        except ijson.JSONError as exc:
            text = exc.args[0] if exc.args else ""
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            # The parser's message quotes the text around the error: keep only its first line.
            raise ValueError(f"the text is not valid JSON ({text.splitlines()[0]})") from exc

    def _top_level(self, prefix: str, event: str, value: Any) -> None:
        if prefix == "" and event == "start_map":
            self.top_is_object = True
        elif prefix == "resourceType" and event == "string":
            self.resource_type = value
        elif prefix == "type" and event == "string":
            self.bundle_type = value
        elif prefix == "entry" and event not in ("start_array", "end_array"):
            self.entry_is_list = False


@dataclass(frozen=True, slots=True)
class BundleIndex:
    """What pass 1 learnt about a streamed Bundle."""

    bundle_type: Any
    context: BundleContext
    hint: str | None


def index_bundle(stream: IO[bytes]) -> BundleIndex | None:
    """Pass 1: index a top-level Bundle; None when the file holds something else.

    Raises:
        ValueError: the text is not valid JSON.
    """
    scanner = _Scanner(stream)
    canonical: dict[str, str] = {}
    versions: list[str | None] = []
    for entry in scanner.entries():
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            continue
        keys, ref = context_keys(entry, resource)
        for key in keys if ref else ():
            canonical.setdefault(key, ref)
        versions.append(detect_version(resource))
    if not (scanner.top_is_object and scanner.resource_type == BUNDLE and scanner.entry_is_list):
        return None
    context = BundleContext({}, canonical, None, index_only=True)
    return BundleIndex(scanner.bundle_type, context, agreed_version(versions))


def stream_entries(stream: IO[bytes], reader: ValueReader, index: BundleIndex) -> Iterator[Result]:
    """Pass 2: yield the items and problems of a Bundle indexed by `index_bundle`.

    Raises:
        ValueError: the text is not valid JSON (the file changed after pass 1).
    """
    reader.stats.bundles += 1
    entries = _Scanner(stream).entries()
    yield from reader.read_entries(entries, index.bundle_type, index.context, index.hint)
