"""Stored raw resources: zstd now, zlib as earlier registries wrote them, both read back."""

from __future__ import annotations

import threading
import zlib

import pytest

from registry import rawjson

RESOURCE = b'{"id":"o1","resourceType":"Observation","valueQuantity":{"value":2.250}}'


def test_compresses_as_a_zstd_frame_and_reads_it_back():
    blob = rawjson.compress(RESOURCE)
    assert blob.startswith(rawjson.ZSTD_MAGIC)
    assert rawjson.decompress(blob) == RESOURCE
    assert rawjson.decompress(memoryview(blob)) == RESOURCE  # as some drivers hand back BLOBs


def test_reads_the_zlib_blobs_of_registries_written_before():
    for level in (1, 6, 9):
        assert rawjson.decompress(zlib.compress(RESOURCE, level)) == RESOURCE


def test_empty_and_large_content():
    assert rawjson.decompress(rawjson.compress(b"")) == b""
    large = RESOURCE * 50_000
    blob = rawjson.compress(large)
    assert len(blob) < len(large) // 10
    assert rawjson.decompress(blob) == large


def test_a_damaged_blob_says_so():
    blob = rawjson.compress(RESOURCE)
    with pytest.raises(ValueError, match="could not be decompressed"):
        rawjson.decompress(blob[:-3])
    with pytest.raises(ValueError, match="could not be decompressed"):
        rawjson.decompress(b"not compressed at all")


def test_each_thread_has_its_own_compressor():
    results: list[bytes] = []

    def work() -> None:
        for _ in range(200):
            results.append(rawjson.decompress(rawjson.compress(RESOURCE)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [RESOURCE] * 800
