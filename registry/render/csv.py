"""The report as CSV: one file per table in a folder, or one long CSV with a `table` column.

Layout (README "Report formats"):

- `--out FOLDER` (an existing folder, or a path ending in `/`): one file per table,
  `report.csv`, `response.csv`, `patients.csv`, ... (`TABLE_NAMES`), each with its own header.
- `--out FILE.csv` or stdout: one rectangular CSV whose first column `table` names the table of
  each row; the other columns are the union of every table's columns, in table order, empty
  where a column is not part of that row's table. Filter on `table` to get one table back.

Cells are RFC 4180 (comma, double quotes, CRLF), UTF-8 without a byte-order mark; numbers as
Python writes them (`66.7`, `-2700.0`), booleans `true`/`false`, missing values empty. Every
text cell that a spreadsheet could run as a formula (it starts with `=`, `+`, `-`, `@`, a tab,
a carriage return or line feed, or their full-width forms) is prefixed with `'`; numbers are
never text, so a negative number stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from registry.render import tables, tables_safety
from registry.render.tables import Table

FORMULA_STARTS = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
BUILDERS: tuple[Callable[[Mapping[str, Any]], Table], ...] = (
    tables.report_table,
    tables.response_table,
    tables.patients_table,
    tables.labs_table,
    tables.patient_labs_table,
    tables_safety.steroids_table,
    tables_safety.steroid_daily_table,
    tables_safety.infections_table,
    tables_safety.adverse_events_table,
    tables_safety.adverse_event_listing,
)
TABLE_NAMES = (
    "report", "response", "patients", "labs", "patient_labs", "steroids", "steroid_daily",
    "infections", "adverse_events", "adverse_event_listing",
)  # fmt: skip


def safe_cell(value: Any) -> str:
    """One cell's text: formula-like text neutralised with a leading `'`.

    >>> safe_cell("=cmd|' /C calc'!A0"), safe_cell(-2.5), safe_cell(None), safe_cell(True)
    ("'=cmd|' /C calc'!A0", '-2.5', '', 'true')
    """
    if isinstance(value, str):  # the common cases first: this runs for every cell
        return "'" + value if value and value[0] in FORMULA_STARTS else value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def all_tables(report: Mapping[str, Any]) -> list[Table]:
    """Every table of the report, in `TABLE_NAMES` order."""
    return [build(report) for build in BUILDERS]


def _writer(buffer: io.StringIO) -> Any:
    return csv.writer(buffer, lineterminator="\r\n")


def table_csv(table: Table) -> str:
    """One table as CSV text with its header."""
    buffer = io.StringIO()
    writer = _writer(buffer)
    writer.writerow([safe_cell(c) for c in table.columns])
    writer.writerows([safe_cell(row.get(c)) for c in table.columns] for row in table.rows)
    return buffer.getvalue()


def _padded(table: Table, position: Mapping[str, int], width: int) -> Iterator[list[str]]:
    """The table's rows on the union of columns: its own cells filled in, the rest empty."""
    blank = [""] * width
    own = [(c, position[c]) for c in table.columns]
    for row in table.rows:
        cells = blank.copy()
        cells[0] = table.name
        for column, index in own:
            cells[index] = safe_cell(row.get(column))
        yield cells


def render_csv(report: Mapping[str, Any]) -> str:
    """Every table in one rectangular CSV with a leading `table` column."""
    found = all_tables(report)
    columns = ["table", *dict.fromkeys(c for t in found for c in t.columns)]
    position = {c: i for i, c in enumerate(columns)}
    buffer = io.StringIO()
    writer = _writer(buffer)
    writer.writerow(columns)
    for table in found:
        writer.writerows(_padded(table, position, len(columns)))
    return buffer.getvalue()


def write_csv_folder(report: Mapping[str, Any], folder: Path) -> list[Path]:
    """Write one `<table>.csv` per table into `folder` (created if needed); the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in all_tables(report):
        path = folder / f"{table.name}.csv"
        path.write_text(table_csv(table), encoding="utf-8", newline="")
        written.append(path)
    return written
