"""The garbage collector's settings during bulk work are restored afterwards, also on errors."""

from __future__ import annotations

import gc

import pytest

from registry.gcpolicy import BULK_THRESHOLDS, bulk_allocation, no_cycle_collection


def test_bulk_allocation_collects_rarely_then_restores():
    before = gc.get_threshold()
    with bulk_allocation():
        assert gc.get_threshold() == BULK_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what existed before is set aside
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_bulk_allocation_restores_after_an_error():
    before = gc.get_threshold()
    with pytest.raises(KeyboardInterrupt), bulk_allocation():
        raise KeyboardInterrupt
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_no_cycle_collection_pauses_and_restores():
    assert gc.isenabled()
    with no_cycle_collection():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
