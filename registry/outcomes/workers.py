"""A large report in several processes, each computing a share of the patients from one snapshot.

Why: at 10,000 patients the report is a few seconds of SQL and twenty of per-patient Python on
one core (issue 3's performance target); patients are independent, so a helper process takes
part of them and sends back its patients' listing entries and what the cohort tables need.
The report computes every patient's T0 and end of follow-up once and hands each helper the
timeline rows of its patients (`Team.hand_out`).

Every process must read the same state of the registry, or a pull committing meanwhile could
put one patient in no share or two. How the snapshot is shared:

- PostgreSQL: the report's REPEATABLE READ transaction exports its snapshot
  (`pg_export_snapshot`) and each helper's transaction imports it (`SET TRANSACTION SNAPSHOT`)
  before its first query.
- SQLite (a database file): a connection of its own holds the write lock (`BEGIN IMMEDIATE`)
  from before the report's first read until every helper has started its read transaction, so
  no commit falls between the snapshots; writers wait (busy timeout) for that second or so
  only. When the lock cannot be had within `LOCK_WAIT` seconds (an import is committing a long
  batch), or the report's transaction already read before, the report runs in one process.

Helpers are fresh interpreters (`python -m registry.outcomes.workers`, the job on stdin, framed
messages on stdout): a forked child would inherit SQLite's per-process lock bookkeeping and the
parent's database sockets.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select

from registry import tables
from registry.db import make_engine
from registry.errors import RegistryError
from registry.outcomes import snapshot

log = logging.getLogger(__name__)

AUTO_MIN_PATIENTS = 2000  # below this a helper's start-up costs more than it saves
LOCK_WAIT = 5.0  # seconds to wait for SQLite's write lock before running in one process
READY_WAIT = 120.0  # seconds for a helper to start and take its snapshot
PARENT_WEIGHT = Fraction(11, 10)  # the helpers start, encode and send: the first takes more
_SNAPSHOT_ID = re.compile(r"^[0-9A-Fa-f-]+$")


@dataclass(frozen=True)
class Share:
    """The patients from fraction `first` to `last` of the cohort in (site, patient id) order."""

    first: Fraction = Fraction(0)
    last: Fraction = Fraction(1)

    @property
    def whole(self) -> bool:
        """The entire cohort (nothing to leave out)."""
        return self.first == 0 and self.last == 1


def shares(count: int) -> list[Share]:
    """`count` consecutive shares covering the cohort; the first (this process) by PARENT_WEIGHT."""
    weights = [PARENT_WEIGHT, *[Fraction(1)] * (count - 1)]
    total = sum(weights, Fraction(0))
    out, start = [], Fraction(0)
    for w in weights:
        end = start + w / total
        out.append(Share(start, end))
        start = end
    return out


def slice_of(rows: Sequence[Any], share: Share) -> list[Any]:
    """A share's part of the cohort's timeline rows (given in site, patient id order)."""
    return list(rows[int(len(rows) * share.first) : int(len(rows) * share.last)])


def _file_database(conn: Connection) -> str | None:
    """The SQLite database file of the connection (None for an in-memory database)."""
    database = conn.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None  # in memory, or a URI filename (its options would need passing on)
    return database


def _wanted(requested: int | None) -> int:
    """Processes asked for, or (None) two on a machine with two CPUs, else one."""
    if requested is not None:
        return max(1, requested)
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _patients(conn: Connection) -> int:
    """Patients in the registry (whether a helper is worth starting)."""
    return int(conn.execute(select(func.count()).select_from(tables.PATIENT)).scalar() or 0)


class _WriteLock:
    """SQLite's write lock held on a connection of its own: no commit can happen meanwhile."""

    def __init__(self, path: str) -> None:
        """Take the lock, waiting at most LOCK_WAIT seconds (sqlite3.OperationalError if not)."""
        self._guard = threading.Lock()
        self._raw: sqlite3.Connection | None = sqlite3.connect(
            path, timeout=LOCK_WAIT, isolation_level=None, check_same_thread=False
        )
        try:
            self._raw.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            self._raw.close()
            raise

    def release(self) -> None:
        """Let writers commit again (idempotent; callable from any thread)."""
        with self._guard:
            if self._raw is not None:
                with suppress(sqlite3.Error):
                    self._raw.execute("ROLLBACK")
                self._raw.close()
                self._raw = None


@dataclass
class _Helper:
    """One helper process, its pipes, and what it said."""

    process: subprocess.Popen[bytes] | None  # None: it could not be started
    share: Share
    ready: threading.Event = field(default_factory=threading.Event)
    failure: str | None = None
    rows: list[Any] = field(default_factory=list)  # its patients' timeline rows, once handed out

    def hand(self, rows: list[Any]) -> None:
        """Send the helper its patients' timeline rows (from a thread: the pipe may be full)."""
        self.rows = rows
        stream = self.process.stdin if self.process is not None else None
        if stream is None:
            return

        def write() -> None:
            try:
                pickle.dump(rows, stream, protocol=pickle.HIGHEST_PROTOCOL)
                stream.close()
            except (OSError, ValueError):  # it died: `Team.results` finds out
                pass

        threading.Thread(target=write, name="masreg-report-rows", daemon=True).start()

    def receive(self) -> tuple[str, Any]:
        """The helper's next message (EOFError when it ended without one)."""
        stream = self.process.stdout if self.process is not None else None
        if stream is None:
            raise EOFError
        head = stream.read(8)
        if len(head) < 8:
            raise EOFError
        size = int.from_bytes(head, "big")
        body = stream.read(size)
        if len(body) < size:
            raise EOFError
        found: tuple[str, Any] = pickle.loads(body)  # noqa: S301 - our own helper's message
        return found

    def exit_code(self) -> int | None:
        """Wait for the process to end; its exit code."""
        return self.process.wait() if self.process is not None else None

    def stop(self) -> None:
        """End the process if it still runs, and close its pipes."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@dataclass
class Team:
    """The processes computing one report: this one's share and its helpers."""

    share: Share
    helpers: list[_Helper] = field(default_factory=list)
    _waiter: threading.Thread | None = None

    def hand_out(self, rows: Sequence[Any]) -> list[Any]:
        """Send each helper its share of the timeline rows; this process's share of them."""
        for helper in self.helpers:
            helper.hand(slice_of(rows, helper.share))
        return slice_of(rows, self.share)

    def results(self) -> list[tuple[list[Any], bytes | None]]:
        """Every helper's timeline rows and result (what its target returned), in share order.

        A helper that could not start or take its snapshot (no free connection, say) gives
        None: its rows are the caller's to compute, on the caller's snapshot.

        Raises:
            RegistryError: a helper failed or died after it had started its share.
        """
        if self._waiter is not None:
            self._waiter.join()
        out: list[tuple[list[Any], bytes | None]] = []
        for number, helper in enumerate(self.helpers, start=1):
            if helper.failure is not None or not helper.ready.is_set():
                log.warning(
                    "report helper process %d could not start (%s): its share is computed here",
                    number,
                    helper.failure or "timeout",
                )
                out.append((helper.rows, None))
                continue
            try:
                kind, payload = helper.receive()
            except EOFError as exc:
                raise RegistryError(
                    f"report helper process {number} ended without a result "
                    f"(exit code {helper.exit_code()})"
                ) from exc
            if kind != "done":
                raise RegistryError(f"report helper process {number} failed: {payload}")
            out.append((helper.rows, payload))
            helper.exit_code()
        return out


Target = Callable[[Connection, list[Any]], bytes]


@contextmanager
def team(conn: Connection, requested: int | None, target: Target) -> Iterator[Team]:
    """Read one snapshot and start helpers on it; yields this process's share.

    `target(conn, rows)` (a module-level function: it is pickled to the helpers) computes the
    patients of the timeline rows `Team.hand_out` sent on a helper's connection and returns
    bytes. With one process (asked for, too few patients, an in-memory SQLite database, a
    transaction that already read, or SQLite's write lock not to be had) the share is the whole
    cohort and no helper starts.
    """
    count = _wanted(requested)
    lock: _WriteLock | None = None
    if count > 1 and conn.dialect.name == "sqlite":
        path = _file_database(conn)
        raw = conn.connection.dbapi_connection
        if path is None or getattr(raw, "in_transaction", True):
            count = 1  # another connection could not see this one's snapshot
        elif requested is None and _patients(conn) < AUTO_MIN_PATIENTS:
            count = 1  # (SQLite: a read outside a transaction keeps no snapshot)
        else:
            try:
                lock = _WriteLock(path)
            except sqlite3.Error as exc:
                log.info("report in one process: the registry is busy (%s)", exc)
                count = 1
    elif count > 1 and conn.dialect.name != "postgresql":
        count = 1
    try:
        snapshot.read_one_snapshot(conn)
        postgresql_auto = count > 1 and requested is None and conn.dialect.name == "postgresql"
        if postgresql_auto and _patients(conn) < AUTO_MIN_PATIENTS:  # read in the snapshot
            count = 1
        if count == 1:
            if lock is not None:
                lock.release()
            yield Team(Share())
            return
        token = None
        if conn.dialect.name == "postgresql":
            token = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar())
        url = conn.engine.url.render_as_string(hide_password=False)
        parts = shares(count)
        result = Team(parts[0])
        try:
            for share in parts[1:]:
                try:
                    result.helpers.append(_start(url, token, target, share))
                except OSError as exc:  # no interpreter to start: the caller computes it
                    log.warning("report helper process could not start (%s)", exc)
                    result.helpers.append(_Helper(None, share, failure=str(exc)))
            result._waiter = threading.Thread(
                target=_await_ready, args=(result.helpers, lock), daemon=True
            )
            result._waiter.start()
            yield result
        finally:
            for helper in result.helpers:
                helper.stop()
    finally:
        if lock is not None:
            lock.release()


def _start(url: str, token: str | None, target: Target, share: Share) -> _Helper:
    """Start a helper interpreter and hand it its job on stdin (never on its command line).

    A plain `python -m` process, not multiprocessing's spawn: that re-imports the caller's main
    script, which a script without a `__main__` guard would run again.
    """
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # the folder holding `registry`
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    process = subprocess.Popen(
        [sys.executable, "-m", "registry.outcomes.workers"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None  # noqa: S101 - started with stdin=PIPE
    try:
        pickle.dump((url, token, target), process.stdin)
        process.stdin.flush()
    except OSError:  # it died at once: its exit code tells when the pipe is read
        pass
    return _Helper(process, share)


def _await_ready(helpers: Sequence[_Helper], lock: _WriteLock | None) -> None:
    """Wait until every helper holds its snapshot, then let writers commit again."""
    try:
        for helper in helpers:
            if helper.process is None:
                continue
            timer = threading.Timer(READY_WAIT, helper.stop)  # a hung start ends the helper
            timer.start()
            try:
                kind, payload = helper.receive()
            except (EOFError, OSError, ValueError):
                helper.failure = f"it ended (exit code {helper.process.poll()})"
                continue
            finally:
                timer.cancel()
            if kind == "ready":
                helper.ready.set()
            else:
                helper.failure = str(payload)
    finally:
        if lock is not None:
            lock.release()


def join_snapshot(conn: Connection, token: str | None) -> None:
    """Start a helper's transaction on the report's snapshot (see the module docstring)."""
    if conn.dialect.name == "postgresql":
        if token is None or not _SNAPSHOT_ID.match(token):
            raise RegistryError("no snapshot to share with the report's helper")
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{token}'")
    snapshot.read_one_snapshot(conn)


def _send(stream: Any, kind: str, payload: Any) -> None:
    """One framed message to the parent: 8-byte length, then the pickled (kind, payload)."""
    body = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(body).to_bytes(8, "big"))
    stream.write(body)
    stream.flush()


def helper_main() -> None:
    """A helper process: read the job, join the snapshot, say so, take its patients, compute."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the message stream
    try:
        job = sys.stdin.buffer
        url, token, target = pickle.load(job)  # noqa: S301 - from our parent
        engine = make_engine(url)
        with engine.connect() as conn:
            join_snapshot(conn, token)
            _send(out, "ready", None)
            rows = pickle.load(job)  # noqa: S301 - the parent's timeline rows
            payload = target(conn, rows)
            conn.rollback()
        engine.dispose()
    except Exception as exc:
        _send(out, "error", f"{type(exc).__name__}: {exc}")
        return
    _send(out, "done", payload)


if __name__ == "__main__":
    helper_main()
