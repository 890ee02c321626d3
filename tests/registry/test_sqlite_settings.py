"""Every SQLite connection of the registry: foreign keys, WAL, its sync level and checkpoints."""

from __future__ import annotations

from registry.db import WAL_AUTOCHECKPOINT, make_engine


def test_sqlite_connection_settings(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    with engine.connect() as conn:
        pragma = conn.exec_driver_sql
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert pragma("PRAGMA wal_autocheckpoint").scalar() == WAL_AUTOCHECKPOINT == 10_000
    engine.dispose()
