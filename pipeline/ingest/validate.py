"""Validation: each raw row is either normalised and kept, or quarantined with a reason.

Nothing is dropped silently: every row read is counted in :class:`IngestCounts` as good or
quarantined, and the two always add up. A quarantined row keeps the values it was read with
(notes and names included) next to ``field`` and ``reason``, so a data owner can fix the export
and nothing is lost. PRIVACY: the quarantine frame therefore holds personal data; the
``prepare`` step redacts ``notes`` (and the name columns) before it writes the quarantine file.
Log lines and error messages from this module carry counts, files, rows and fields only.

A row with several problems is quarantined once, under the first in this order: reader
rejections, missing required value, malformed CRN, unreadable date, time or created datetime,
unreadable flag, over-long notes, duplicate contact id. Only good rows register their contact id,
so when the first copy of a contact is quarantined for a bad date, a clean later copy is kept.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.errors import ConfigError
from pipeline.ingest.chunks import (
    CHUNK_COLUMNS,
    QUARANTINE_COLUMNS,
    STRING,
    RawChunk,
    Reason,
    empty_quarantine,
)
from pipeline.ingest.columns import ColumnMapping
from pipeline.ingest.parse import (
    CRN_PATTERN,
    format_date,
    format_datetime,
    format_time,
    parse_datetime,
    parse_flag,
    parse_time,
)
from pipeline.ingest.readers import DEFAULT_CHUNK_ROWS, iter_exports
from pipeline.schema import EXPORT_COLUMNS, REQUIRED_COLUMNS

log = logging.getLogger(__name__)

#: Longest note kept, in characters. Real notes run to a few thousand; far longer ones are
#: pasted documents or e-mail threads that swamp the NLP step and are better looked at by hand.
DEFAULT_MAX_NOTES_CHARS = 20_000
_FLAG_COLUMNS = ("sensitive", "system_generated")
_NULL = pa.scalar(None, pa.string())
_LARGE_NULL = pa.scalar(None, pa.large_string())
_SPACE = re.compile(r"\s+")
#: created_datetime as we write it, YYYY-MM-DDTHH:MM:SS with a valid time of day (RE2's \d is
#: ASCII only, as ``isoformat`` writes).
_OUR_DATETIME = r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"
_QUARANTINE_DTYPES = {c: STRING for c in QUARANTINE_COLUMNS if c != "source_row"} | {
    "source_row": "int64"
}


@dataclass(slots=True)
class IngestCounts:
    """How many rows came in, were kept, and were quarantined (by reason code)."""

    rows_in: int = 0
    rows_ok: int = 0
    rows_quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)

    def add(self, *, rows_in: int, rows_ok: int, reasons: Iterable[str]) -> None:
        tally = Counter(reasons)
        self.rows_in += rows_in
        self.rows_ok += rows_ok
        self.rows_quarantined += sum(tally.values())
        for reason, n in tally.items():
            self.by_reason[reason] = self.by_reason.get(reason, 0) + n
        self.check()

    def check(self) -> None:
        """Raise if a row went missing: a bug in this module, never a property of the input."""
        if self.rows_in != self.rows_ok + self.rows_quarantined or self.rows_quarantined != sum(
            self.by_reason.values()
        ):
            raise AssertionError(
                f"ingest lost count of rows: in={self.rows_in} ok={self.rows_ok} "
                f"quarantined={self.rows_quarantined} by_reason={self.by_reason}"
            )


@dataclass(slots=True, kw_only=True)
class IngestState:
    """What validation remembers across chunks and files: contact ids seen, and the counts.

    Use one state for everything that goes into one entries table, so a contact exported twice
    (two overlapping extracts, a case file in two folders) is kept once.
    """

    max_notes_chars: int = DEFAULT_MAX_NOTES_CHARS
    seen_ids: set[str] = field(default_factory=set)
    counts: IngestCounts = field(default_factory=IngestCounts)

    def __post_init__(self) -> None:
        if self.max_notes_chars < 1:
            raise ConfigError(f"max_notes_chars must be at least 1, not {self.max_notes_chars}")


class _Verdicts:
    """The first problem found for each row, by position."""

    def __init__(self, n: int) -> None:
        self.flagged = np.zeros(n, dtype=bool)
        self.field = np.full(n, None, dtype=object)
        self.reason = np.full(n, None, dtype=object)

    def mark(self, mask: np.ndarray, field_name: str, reason: Reason) -> None:
        new = mask & ~self.flagged
        self.flagged |= new
        self.field[new] = field_name
        self.reason[new] = reason.value


def _mask(series: pd.Series) -> np.ndarray:
    return series.fillna(False).to_numpy(dtype=bool)


def _arrow(series: pd.Series) -> pa.Array:
    """A ``string`` column as one Arrow array (no copy: the column is Arrow underneath)."""
    values = pa.array(series.array)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _normalise(
    values: pa.Array, convert: Callable[[str], tuple[object, ...]], width: int
) -> tuple[list[pa.Array], np.ndarray]:
    """Run ``convert`` (text -> tuple of ``width`` values, text or None, the last one True when
    the text is unreadable) over every present value, each distinct value once.

    Dates, times and flags repeat a lot: Arrow finds the distinct values in C, so a value on
    50 000 rows costs one call and no row's text becomes a Python string. Returns the text
    columns (missing where the value was) and the unreadable mask (False where missing).
    """
    encoded = pc.dictionary_encode(values)  # a missing value keeps a missing index
    parts = [convert(text) for text in encoded.dictionary.to_pylist()]
    texts = [
        pa.array([p[k] for p in parts], pa.large_string()).take(encoded.indices)
        for k in range(width - 1)
    ]
    bad = pa.array([p[-1] for p in parts], pa.bool_()).take(encoded.indices)
    return texts, bad.fill_null(False).to_numpy(zero_copy_only=False)


def _map_distinct(values: pa.Array, fn: Callable[[str], object], type_: pa.DataType) -> pa.Array:
    """``fn`` over each distinct present value once, spread back over the rows (missing stays
    missing): the one-output form of :func:`_normalise`."""
    encoded = pc.dictionary_encode(values)
    return pa.array(list(map(fn, encoded.dictionary.to_pylist())), type_).take(encoded.indices)


def _without_spaces(text: str) -> str:
    # Python's idea of whitespace (Unicode spaces too), which Arrow's regex engine does not share
    return _SPACE.sub("", text)


def _iso_date(text: str) -> bool:
    """True when ``text`` is a real date written exactly as YYYY-MM-DD, in a plausible year."""
    try:
        d = date.fromisoformat(text)
    except ValueError:
        return False
    return d.isoformat() == text and 1900 <= d.year <= 2100


def _date_parts(date_format: str | None) -> Callable[[str], tuple[object, ...]]:
    """contact_date text -> (YYYY-MM-DD, HH:MM of a time it carried, unreadable)."""

    def convert(text: str) -> tuple[object, ...]:
        if date_format is None and len(text) == 10 and _iso_date(text):  # already ours: keep
            return text, None, False
        parts = parse_datetime(text, date_format=date_format)
        if parts is None:
            return None, None, True
        return format_date(parts[0]), format_time(parts[1]) if parts[1] else None, False

    return convert


def _datetime_text(date_format: str | None) -> Callable[[str], tuple[object, ...]]:
    """created_datetime text -> (YYYY-MM-DDTHH:MM:SS, unreadable)."""

    def convert(text: str) -> tuple[object, ...]:
        if date_format is None and len(text) == 19:  # already YYYY-MM-DDTHH:MM:SS: check, keep
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                pass
            else:
                if dt.isoformat() == text and 1900 <= dt.year <= 2100:
                    return text, False
        parts = parse_datetime(text, date_format=date_format)
        if parts is None:
            return None, True
        return format_datetime(*parts), False

    return convert


def _created_datetimes(values: pa.Array, date_format: str | None) -> tuple[pa.Array, np.ndarray]:
    """created_datetime normalised, and the unreadable mask.

    Nearly every value is distinct (it has seconds), so calling Python per distinct value would
    mean once per row. Values already written our way are recognised in Arrow instead: the shape
    by a regex that admits only valid times, the date part (which repeats) by :func:`_iso_date`.
    What that accepts is exactly what :func:`_datetime_text` would keep as it is; every other
    value goes through it.
    """
    convert = _datetime_text(date_format)
    if date_format is not None:
        (text,), bad = _normalise(values, convert, 2)
        return text, bad
    shaped = pc.fill_null(pc.match_substring_regex(values, _OUR_DATETIME), False)
    day = pc.utf8_slice_codeunits(pc.if_else(shaped, values, _LARGE_NULL), 0, 10)
    ours = pc.fill_null(_map_distinct(day, _iso_date, pa.bool_()), False)
    (text,), bad = _normalise(pc.if_else(ours, _LARGE_NULL, values), convert, 2)
    return pc.if_else(ours, values, text), bad


def _time_text(text: str) -> tuple[object, ...]:
    """contact_start_time text -> (HH:MM, unreadable)."""
    t = parse_time(text)
    return (None, True) if t is None else (format_time(t), False)


def _flag_text(text: str) -> tuple[object, ...]:
    flag = parse_flag(text)
    return flag, flag is None


def _duplicates(ids: np.ndarray, seen: set[str]) -> np.ndarray:
    """Which of ``ids`` were seen before (in ``seen``) or earlier in ``ids``; adds them to ``seen``.

    Duplicates are rare, so the common case is answered by two passes of C over the ids (no
    id of the chunk seen before; the set grew by one per id, so none repeats within the chunk)
    and the row-by-row answer is worked out only when one of those says there is a duplicate.
    """
    earlier = (
        np.zeros(len(ids), dtype=bool)
        if seen.isdisjoint(ids)
        else np.fromiter(map(seen.__contains__, ids), dtype=bool, count=len(ids))
    )
    before = len(seen)
    seen.update(ids)
    if len(seen) - before == len(ids):
        return earlier
    again = pd.Series(ids, dtype=object).duplicated(keep="first").to_numpy(dtype=bool)
    return earlier | again


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Trim cells and make blanks missing; notes keep their inner layout, with LF line ends.

    Done in Arrow compute rather than ``Series.str``: the cost per column is a third, and it is
    paid for every column of every chunk.
    """
    out = {}
    for column in EXPORT_COLUMNS:
        series = frame[column]
        values = pa.array((series if series.dtype == STRING else series.astype(STRING)).array)
        if column == "notes":
            values = pc.replace_substring(values, "\r\n", "\n")
            blank = pc.equal(pc.utf8_trim_whitespace(values), "")
        else:
            values = pc.utf8_trim_whitespace(values)
            blank = pc.equal(values, "")
        out[column] = pd.array(pc.if_else(blank, _NULL, values), dtype=STRING)
    return pd.DataFrame(out, index=frame.index)


def validate(
    chunk: RawChunk | pd.DataFrame, *, state: IngestState
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a raw chunk into (good, quarantined) and update ``state``.

    ``good`` has :data:`~pipeline.ingest.chunks.CHUNK_COLUMNS`, normalised: values trimmed and
    blanks missing, ``contact_date`` YYYY-MM-DD, ``contact_start_time`` HH:MM (taken from the date
    when only the date carried a time), ``created_datetime`` YYYY-MM-DDTHH:MM:SS, CRN upper-case,
    contact type code upper-case, flags Y/N, note line ends LF.

    ``quarantined`` has :data:`~pipeline.ingest.chunks.QUARANTINE_COLUMNS`: the row as read plus
    ``field`` (our column at fault, missing when the whole record is) and ``reason`` (a
    :class:`~pipeline.ingest.chunks.Reason` value). It holds note text and names: redact before
    writing it anywhere (the ``prepare`` step does).
    """
    if isinstance(chunk, RawChunk):
        frame, rejected, date_format = chunk.frame, chunk.rejected, chunk.date_format
    else:
        frame, rejected, date_format = chunk, empty_quarantine(), None
    frame = frame.reset_index(drop=True)
    missing_columns = [c for c in CHUNK_COLUMNS if c not in frame.columns]
    if missing_columns:
        raise ValueError(f"not a raw chunk: columns {missing_columns} absent")
    rows_in = len(frame) + len(rejected)
    tidy = _tidy(frame)
    verdicts = _Verdicts(len(frame))

    for column in REQUIRED_COLUMNS:
        verdicts.mark(_mask(tidy[column].isna()), column, Reason.MISSING_VALUE)

    crn = pd.Series(
        pd.array(_map_distinct(_arrow(tidy["crn"]), _without_spaces, pa.large_string()), STRING),
        index=tidy.index,
    ).str.upper()
    verdicts.mark(
        _mask(crn.notna() & ~crn.str.fullmatch(CRN_PATTERN).fillna(False)), "crn", Reason.BAD_CRN
    )
    tidy["crn"] = crn

    (dates, date_times), bad = _normalise(_arrow(tidy["contact_date"]), _date_parts(date_format), 3)
    verdicts.mark(bad, "contact_date", Reason.BAD_DATE)
    (times,), bad = _normalise(_arrow(tidy["contact_start_time"]), _time_text, 2)
    verdicts.mark(bad, "contact_start_time", Reason.BAD_TIME)
    created, bad = _created_datetimes(_arrow(tidy["created_datetime"]), date_format)
    verdicts.mark(bad, "created_datetime", Reason.BAD_DATE)
    tidy["contact_date"] = pd.array(dates, dtype=STRING)
    # the start time, else a time the date carried
    tidy["contact_start_time"] = pd.array(pc.coalesce(times, date_times), dtype=STRING)
    tidy["created_datetime"] = pd.array(created, dtype=STRING)

    for column in _FLAG_COLUMNS:
        (flags,), bad = _normalise(_arrow(tidy[column]), _flag_text, 2)
        verdicts.mark(bad, column, Reason.BAD_FLAG)
        tidy[column] = pd.array(flags, dtype=STRING)
    tidy["contact_type_code"] = tidy["contact_type_code"].str.upper()

    too_long = tidy["notes"].str.len() > state.max_notes_chars
    verdicts.mark(_mask(too_long), "notes", Reason.NOTES_TOO_LONG)

    # a contact id seen in an earlier chunk, or earlier in this one, is a duplicate (the first
    # copy is kept); only rows that are otherwise good register their id
    ids = tidy["contact_id"].to_numpy(dtype=object, na_value=None)
    unflagged = np.flatnonzero(~verdicts.flagged)
    candidates = ids[unflagged]
    duplicate = np.zeros(len(ids), dtype=bool)
    duplicate[unflagged] = _duplicates(candidates, state.seen_ids)
    verdicts.mark(duplicate, "contact_id", Reason.DUPLICATE_CONTACT_ID)

    keep = ~verdicts.flagged
    good = tidy.loc[keep].copy()
    good["source_file"] = frame.loc[keep, "source_file"].astype(STRING)
    good["source_row"] = frame.loc[keep, "source_row"].astype("int64")
    good = good.reset_index(drop=True)[list(CHUNK_COLUMNS)]

    bad_rows = frame.loc[verdicts.flagged].copy()
    bad_rows["field"] = pd.array(verdicts.field[verdicts.flagged], dtype=STRING)
    bad_rows["reason"] = pd.array(verdicts.reason[verdicts.flagged], dtype=STRING)
    parts = [p[list(QUARANTINE_COLUMNS)] for p in (rejected, bad_rows) if len(p)]
    if not parts:
        quarantined = empty_quarantine()
    else:
        quarantined = pd.concat(parts, ignore_index=True).astype(_QUARANTINE_DTYPES)

    reasons = quarantined["reason"].tolist()
    state.counts.add(rows_in=rows_in, rows_ok=len(good), reasons=reasons)
    if len(good) + len(quarantined) != rows_in:
        raise AssertionError("ingest validation lost rows")
    if reasons:
        files = ", ".join(sorted(set(quarantined["source_file"].dropna())))
        log.info("ingest: quarantined %s in %s", dict(Counter(reasons)), files)
    return good, quarantined


def iter_validated(
    paths: str | Path | Iterable[str | Path],
    *,
    mapping: ColumnMapping | str | Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    state: IngestState | None = None,
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Read and validate exports in one stream of (good, quarantined) pairs.

    Pass a ``state`` to read its counts (and duplicates) afterwards; each pair is yielded as soon
    as its chunk is read, so memory holds one chunk at a time.
    """
    state = state if state is not None else IngestState()
    for chunk in iter_exports(paths, mapping=mapping, chunk_rows=chunk_rows):
        yield validate(chunk, state=state)
