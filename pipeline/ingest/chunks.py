"""The shapes that pass between the readers and validation: raw chunks and quarantine rows.

Every reader, whatever the format, hands on the same frame: our EXPORT_COLUMNS as pandas
``string`` dtype (missing values are ``<NA>``) plus where each row came from. Keeping one shape
means validation, and every step after it, never needs to know which format a row came from.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.schema import EXPORT_COLUMNS

SOURCE_COLUMNS: tuple[str, ...] = ("source_file", "source_row")
#: The columns of every raw chunk and of every good frame validation returns.
CHUNK_COLUMNS: tuple[str, ...] = (*EXPORT_COLUMNS, *SOURCE_COLUMNS)
#: The columns of a quarantine frame: where the row came from, why it was set aside, and the
#: row itself as read (notes included: the ``prepare`` step redacts them before writing).
QUARANTINE_COLUMNS: tuple[str, ...] = (*SOURCE_COLUMNS, "field", "reason", *EXPORT_COLUMNS)

STRING = pd.StringDtype()
_NULL = pa.scalar(None, pa.large_string())
#: What ``surrogateescape`` decoding leaves for a byte that is not text in the file's encoding.
ESCAPED = re.compile("[\udc80-\udcff]")


class Reason(StrEnum):
    """Why a row was quarantined. The value is what the ``reason`` column holds."""

    UNDECODABLE = "undecodable"  # bytes that are not text in the file's encoding
    MALFORMED_RECORD = "malformed_record"  # not a record: bad JSON line, extra CSV fields
    MISSING_VALUE = "missing_value"  # a required value (contact id, CRN, date, type) is empty
    BAD_CRN = "bad_crn"  # not a letter and six digits
    BAD_DATE = "bad_date"  # contact_date or created_datetime unreadable
    BAD_TIME = "bad_time"  # contact_start_time unreadable
    BAD_FLAG = "bad_flag"  # sensitive / system_generated not a yes or no
    NOTES_TOO_LONG = "notes_too_long"  # longer than the configured limit
    DUPLICATE_CONTACT_ID = "duplicate_contact_id"  # a contact id already seen (kept: the first)


@dataclass(frozen=True, slots=True)
class RawChunk:
    """Up to ``chunk_rows`` rows as read, before validation.

    ``frame`` has exactly :data:`CHUNK_COLUMNS`. ``rejected`` holds rows the reader itself could
    not read (undecodable bytes, a broken record), already in :data:`QUARANTINE_COLUMNS` shape,
    so that no row is dropped between the file and the counts. ``date_format`` is the mapping's
    date format, carried so validation reads this file's dates the way its team writes them.
    """

    frame: pd.DataFrame
    rejected: pd.DataFrame
    date_format: str | None = None

    @property
    def rows_in(self) -> int:
        return len(self.frame) + len(self.rejected)


def to_text(value: object) -> str | None:
    """A cell of any reader's type as our text, or None when empty.

    Booleans become Y/N (our flag columns); whole floats lose their ".0" (an id or MAPPA level
    stored as float because its column had gaps); a datetime at midnight is a date cell.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, datetime):
        if value.time() == time(0, 0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    if value is pd.NaT or value is pd.NA:
        return None
    return str(value)


def _text_array(values: Sequence[str | None]) -> pd.api.extensions.ExtensionArray:
    """A ``string`` array with blanks as missing (an empty CSV cell and an absent key agree).

    Built through Arrow, which is twice as fast as ``pd.array`` on a list of Python strings.
    """
    array = pa.array(values, type=pa.large_string())
    array = pc.if_else(pc.equal(array, ""), _NULL, array)
    return pd.array(array, dtype=STRING)


def make_frame(
    columns: Mapping[str, Sequence[str | None]], *, source_file: str, source_rows: Sequence[int]
) -> pd.DataFrame:
    """A raw-chunk frame: every export column (absent ones all missing) plus the source columns."""
    data = {c: _text_array(columns[c]) for c in EXPORT_COLUMNS if c in columns}
    return _frame(data, source_file=source_file, source_rows=source_rows)


def make_frame_arrow(
    columns: Mapping[str, pa.Array], *, source_file: str, source_rows: Sequence[int]
) -> pd.DataFrame:
    """:func:`make_frame` from Arrow string arrays (blanks become missing here too)."""
    data = {c: _arrow_text_array(columns[c]) for c in EXPORT_COLUMNS if c in columns}
    return _frame(data, source_file=source_file, source_rows=source_rows)


def _frame(
    data: Mapping[str, pd.api.extensions.ExtensionArray],
    *,
    source_file: str,
    source_rows: Sequence[int],
) -> pd.DataFrame:
    """The chunk frame from the columns a file feeds: the others all missing, plus the source
    columns. Built in Arrow (nulls, one repeated name, a row range), not from Python lists of
    one value per row, which cost as much as reading a column."""
    n = len(source_rows)
    missing = pd.array(pa.nulls(n, pa.large_string()), dtype=STRING)
    full = {c: data.get(c, missing) for c in EXPORT_COLUMNS}
    full["source_file"] = pd.array(
        pa.repeat(pa.scalar(source_file, pa.large_string()), n), dtype=STRING
    )
    rows = (
        np.arange(source_rows.start, source_rows.stop, source_rows.step, dtype=np.int64)
        if isinstance(source_rows, range)
        else np.asarray(source_rows, dtype=np.int64)
    )
    full["source_row"] = pd.array(rows, dtype="int64")
    return pd.DataFrame(full, columns=list(CHUNK_COLUMNS))


def _arrow_text_array(array: pa.Array) -> pd.api.extensions.ExtensionArray:
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    array = pc.if_else(pc.equal(array, ""), _NULL, array)
    return pd.array(array, dtype=STRING)


def make_quarantine(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """A quarantine frame from row dicts (keys from :data:`QUARANTINE_COLUMNS`, others absent)."""
    data = {
        c: pd.array([r.get(c) for r in rows], dtype="int64" if c == "source_row" else STRING)
        for c in QUARANTINE_COLUMNS
    }
    return pd.DataFrame(data, columns=list(QUARANTINE_COLUMNS))


def empty_quarantine() -> pd.DataFrame:
    """An empty quarantine frame (a copy: callers may add to it)."""
    return _EMPTY_QUARANTINE.copy()


_EMPTY_QUARANTINE = make_quarantine([])


def clean_text(value: str) -> str:
    """Text fit to keep in a quarantine row: each undecodable byte shown as U+FFFD."""
    return ESCAPED.sub("\ufffd", value)


class ChunkBuilder:
    """Collects one file's rows and rejected rows and cuts them into :class:`RawChunk` objects.

    Rows are stored column-wise, only for the columns the file feeds (``columns``), because
    that is the shape the frame is built in and it spares a dict per row. Text that was decoded
    with ``surrogateescape`` is checked for undecodable bytes a whole column at a time when a
    chunk is cut: one C-speed scan per column instead of one per cell, and the rare hit is then
    looked up row by row and moved to ``rejected``.
    """

    def __init__(
        self,
        *,
        source_file: str,
        chunk_rows: int,
        date_format: str | None,
        columns: Sequence[str] = EXPORT_COLUMNS,
        positions: Sequence[int] | None = None,
    ) -> None:
        self.source_file = source_file
        self.chunk_rows = chunk_rows
        self.date_format = date_format
        self._names = tuple(columns)
        self._positions = tuple(positions) if positions is not None else None
        self._reset()

    def _reset(self) -> None:
        self._columns: dict[str, list[str | None]] = {c: [] for c in self._names}
        self._slots = (
            [(self._columns[c], i) for c, i in zip(self._names, self._positions, strict=True)]
            if self._positions is not None
            else []
        )
        self._rows: list[int] = []
        self._rejected: list[dict[str, object]] = []

    def add(self, source_row: int, values: Mapping[str, str | None]) -> None:
        """A readable row: ``values`` maps our column to its text (absent columns are missing)."""
        for column, cells in self._columns.items():
            cells.append(values.get(column))
        self._rows.append(source_row)

    def add_cells(self, source_row: int, cells: Sequence[str]) -> None:
        """A readable row given by position, as the builder's ``positions`` say (CSV records)."""
        n = len(cells)
        for column, i in self._slots:
            column.append(cells[i] if i < n else None)
        self._rows.append(source_row)

    def reject(
        self,
        source_row: int,
        values: Mapping[str, str | None],
        *,
        field: str | None,
        reason: Reason,
    ) -> None:
        """A row the reader could not read cleanly; ``values`` keeps whatever could be read."""
        self._rejected.append(
            {
                **{c: clean_text(v) for c in EXPORT_COLUMNS if (v := values.get(c))},
                "source_file": self.source_file,
                "source_row": source_row,
                "field": field,
                "reason": reason.value,
            }
        )

    @property
    def full(self) -> bool:
        return len(self._rows) + len(self._rejected) >= self.chunk_rows

    @property
    def empty(self) -> bool:
        return not self._rows and not self._rejected

    def _reject_undecodable(self) -> None:
        bad: dict[int, str] = {}
        for column in self._names:
            cells = self._columns[column]
            if ESCAPED.search("\x00".join(c for c in cells if c)):
                for i, cell in enumerate(cells):
                    if cell and i not in bad and ESCAPED.search(cell):
                        bad[i] = column
        if not bad:
            return
        for i, column in sorted(bad.items()):
            values = {c: self._columns[c][i] for c in self._names}
            self.reject(self._rows[i], values, field=column, reason=Reason.UNDECODABLE)
        keep = [i for i in range(len(self._rows)) if i not in bad]
        for column in self._names:
            cells = self._columns[column]
            self._columns[column] = [cells[i] for i in keep]
        self._rows = [self._rows[i] for i in keep]

    def flush(self) -> RawChunk:
        self._reject_undecodable()
        chunk = RawChunk(
            frame=make_frame(self._columns, source_file=self.source_file, source_rows=self._rows),
            rejected=make_quarantine(self._rejected) if self._rejected else empty_quarantine(),
            date_format=self.date_format,
        )
        self._reset()
        return chunk
