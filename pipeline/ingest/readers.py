"""Readers: every export format to a stream of :class:`RawChunk` objects of one shape.

Each reader streams, holding at most one chunk of rows (plus the format's own read buffer), so
a million-row export is read in flat memory: CSV through the csv module over a decoding text
stream, JSON Lines line by line, Parquet by ``iter_batches``, xlsx through openpyxl's read-only
mode. A Delius JSON file is one case and is parsed whole; a folder of them is read file by file.

``source_row`` is the row's 1-based position among the file's data records: for CSV the record
number after the header (a quoted note spanning five lines is one record), for xlsx the sheet row
less the header row, for JSON Lines the line number, for Parquet the row index + 1, for Delius
JSON the contact's index. Blank records are skipped but keep their number, so the position
matches what a person sees when opening the file.

Rows the reader cannot read cleanly go to the chunk's ``rejected`` frame with a reason; a file
that cannot be read at all raises an :class:`~pipeline.errors.InputError` subclass. Messages name
the file, row and field, never a cell value.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline.errors import ConfigError, UnreadableFileError, UnsupportedFormatError
from pipeline.ingest import delius
from pipeline.ingest.chunks import (
    ChunkBuilder,
    RawChunk,
    Reason,
    clean_text,
    empty_quarantine,
    make_frame_arrow,
    to_text,
)
from pipeline.ingest.columns import ColumnMapping, ColumnResolver, as_mapping
from pipeline.ingest.sniff import (
    FOLDER_EXTENSIONS,
    Format,
    scan_text,
    sniff_delimiter,
    sniff_format,
)
from pipeline.schema import REQUIRED_COLUMNS

log = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 50_000
#: Largest CSV field read; beyond it the file is taken to have an unclosed quote. Far above the
#: notes limit so that an over-long note is quarantined as such rather than failing the file.
CSV_FIELD_LIMIT = 16 * 1024 * 1024


def iter_export(
    path: str | Path,
    *,
    mapping: ColumnMapping | str | Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[RawChunk]:
    """Stream one export file (or a folder, as :func:`iter_exports`) as raw chunks.

    The format comes from the extension, else from the first bytes. ``mapping`` is a
    :class:`ColumnMapping` or the path of a mapping file; without one only our own header names
    (any case, spaces or underscores) are recognised.
    """
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be at least 1, not {chunk_rows}")
    p = Path(path)
    if p.is_dir():
        yield from iter_exports([p], mapping=mapping, chunk_rows=chunk_rows)
        return
    if not p.is_file():
        raise UnsupportedFormatError("no such file", path=str(path))
    columns = as_mapping(mapping)
    fmt = sniff_format(p)
    if fmt is None:
        raise UnsupportedFormatError(
            "cannot tell the format; use .csv, .jsonl, .parquet, .xlsx or Delius .json",
            path=str(path),
        )
    log.info("ingest: reading %s as %s", p, fmt)
    yield from _READERS[fmt](p, columns, chunk_rows)


def iter_exports(
    paths: str | Path | Iterable[str | Path],
    *,
    mapping: ColumnMapping | str | Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[RawChunk]:
    """Stream several files and folders as raw chunks of at most ``chunk_rows`` rows.

    Folders are searched recursively for files with an export extension (not ``.txt``, which
    is as often a README as a CSV; hidden files and Excel's ``~$`` lock files are skipped), in
    sorted order so runs are repeatable. Any other ``.json`` file in a folder must be a Delius
    document too, or the run stops with an error naming it. Small chunks from
    consecutive files (a folder of one-case Delius files) are joined up to ``chunk_rows``, since
    per-chunk overhead would otherwise dominate; ``source_file`` still says where each row is from.
    """
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be at least 1, not {chunk_rows}")
    columns = as_mapping(mapping)
    pending: list[RawChunk] = []
    size = 0
    for file in expand_paths(paths):
        for chunk in iter_export(file, mapping=columns, chunk_rows=chunk_rows):
            if pending and size + chunk.rows_in > chunk_rows:
                yield _join(pending)
                pending, size = [], 0
            pending.append(chunk)
            size += chunk.rows_in
    if pending:
        yield _join(pending)


def expand_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Files to read from files and folders, each once, folders expanded in sorted order."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    seen: set[Path] = set()
    for given in paths:
        p = Path(given)
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file()
                and f.suffix.lower() in FOLDER_EXTENSIONS
                and not any(part.startswith((".", "~$")) for part in f.relative_to(p).parts)
            )
            if not found:
                raise UnsupportedFormatError("no export files in folder", path=str(p))
        elif p.is_file():
            found = [p]
        else:
            raise UnsupportedFormatError("no such file or folder", path=str(p))
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    return files


def _join(chunks: list[RawChunk]) -> RawChunk:
    if len(chunks) == 1:
        return chunks[0]
    return RawChunk(
        frame=pd.concat([c.frame for c in chunks], ignore_index=True),
        rejected=pd.concat([c.rejected for c in chunks], ignore_index=True),
        date_format=chunks[0].date_format,
    )


# --- CSV ------------------------------------------------------------------------------------


def _read_csv(path: Path, mapping: ColumnMapping, chunk_rows: int) -> Iterator[RawChunk]:
    """CSV in any of the encodings Excel and friends write.

    A clean UTF-8 file (no undecodable byte, no NUL) with a one-line header and records that all
    have the header's width is read by Arrow's CSV parser, many times faster than record by
    record; it splits records exactly as the csv module does (quotes, doubled quotes, newlines
    inside quotes). Anything else - another encoding, bad bytes, a blank or ragged record, a
    record too large for one parse block - is read by :func:`_read_csv_records`, which
    quarantines what it must. The choice is made by a first pass over the file, before any row
    is handed on, so both readers give the same chunks.
    """
    encoding = mapping.encoding
    clean = False
    if encoding is None:
        scan = scan_text(path)
        encoding, clean = scan.encoding, scan.clean_utf8
    elif codecs.lookup(encoding).name in ("utf-8", "utf-8-sig"):
        clean = scan_text(path).clean_utf8
    if clean:
        fast = _csv_by_arrow(path, mapping, chunk_rows)
        if fast is not None:
            yield from fast
            return
    yield from _read_csv_records(path, mapping, chunk_rows, encoding)


#: Bytes Arrow parses at a time: a record must fit in one block (else the record reader is used).
_ARROW_BLOCK = 8 << 20


class _ArrowCsv:
    """The Arrow CSV options for one file whose header we have read ourselves."""

    def __init__(self, width: int, delimiter: str, handler: Callable[[Any], str] | None) -> None:
        self.names = [f"c{i}" for i in range(width)]
        self.read = pacsv.ReadOptions(
            use_threads=False, block_size=_ARROW_BLOCK, skip_rows=1, column_names=self.names
        )
        self.parse = pacsv.ParseOptions(
            delimiter=delimiter,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=handler,
        )

    def convert(self, columns: list[str]) -> pacsv.ConvertOptions:
        return pacsv.ConvertOptions(
            include_columns=columns,
            column_types={c: pa.large_string() for c in columns},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )


def _csv_by_arrow(path: Path, mapping: ColumnMapping, chunk_rows: int) -> Iterator[RawChunk] | None:
    """The chunks of a clean UTF-8 CSV read by Arrow, or None when the file needs the record
    reader (see :func:`_read_csv`). Reads the whole file once to check every record."""
    source = str(path)
    with open(path, "rb") as raw:
        first = raw.readline().decode("utf-8-sig")
    line = first[:-1] if first.endswith("\n") else first
    line = line[:-1] if line.endswith("\r") else line
    if not line.strip() or "\r" in line or "\n" in line or line.count('"') % 2:
        return None  # blank first line, old Mac line ends, or a header over several lines
    delimiter = mapping.delimiter or sniff_delimiter(first)
    header = [clean_text(h) for h in next(csv.reader([line], delimiter=delimiter))]
    width = len(header)
    if width < 2:
        return None  # a blank record would read as a row of one empty field
    resolver = mapping.resolver(path=source)
    targets = resolver.resolve(header)
    resolver.require()
    irregular: list[int] = []

    def ragged(_row: Any) -> str:
        irregular.append(1)
        return "skip"

    positions = {t: header.index(h) for h, t in targets.items()}
    check = _ArrowCsv(width, delimiter, ragged)
    # Arrow reads a blank line as a row of empty fields, where the csv module skips it: a row
    # whose required columns are all empty sends the file to the record reader
    required = [check.names[positions[c]] for c in REQUIRED_COLUMNS if c in positions]
    try:
        with pacsv.open_csv(
            path,
            read_options=check.read,
            parse_options=check.parse,
            convert_options=check.convert(required),
        ) as reader:
            for batch in reader:
                blank = None
                for name in required:
                    empty = pc.equal(pc.binary_length(batch.column(name)), 0)
                    blank = empty if blank is None else pc.and_(blank, empty)
                if irregular or (blank is not None and pc.any(blank).as_py()):
                    return None
    except (pa.ArrowException, OSError):
        return None  # an unclosed quote, a huge record, ...: the record reader says what
    if irregular or not required:
        return None
    _log_ignored(source, width, len(targets))
    return _csv_arrow_chunks(
        path, _ArrowCsv(width, delimiter, None), positions, chunk_rows, mapping.date_format
    )


def _csv_arrow_chunks(
    path: Path,
    opts: _ArrowCsv,
    positions: dict[str, int],
    chunk_rows: int,
    date_format: str | None,
) -> Iterator[RawChunk]:
    source = str(path)
    wanted = [opts.names[i] for i in positions.values()]
    ours = list(positions)
    pending: list[pa.RecordBatch] = []
    size = offset = 0

    def cut() -> RawChunk:
        columns = {
            target: pa.concat_arrays([b.column(name) for b in pending])
            for target, name in zip(ours, wanted, strict=True)
        }
        rows = range(offset + 1, offset + size + 1)
        return RawChunk(
            frame=make_frame_arrow(columns, source_file=source, source_rows=rows),
            rejected=empty_quarantine(),
            date_format=date_format,
        )

    try:
        with pacsv.open_csv(
            path,
            read_options=opts.read,
            parse_options=opts.parse,
            convert_options=opts.convert(wanted),
        ) as reader:
            for batch in reader:
                while batch.num_rows:
                    take = min(batch.num_rows, chunk_rows - size)
                    pending.append(batch.slice(0, take))
                    batch = batch.slice(take)
                    size += take
                    if size == chunk_rows:
                        yield cut()
                        offset += size
                        pending, size = [], 0
    except (pa.ArrowException, OSError) as exc:  # the file changed since it was checked
        raise UnreadableFileError(
            f"broken CSV ({type(exc).__name__})", path=source, row=offset + size + 1
        ) from None
    if size:
        yield cut()


def _read_csv_records(
    path: Path, mapping: ColumnMapping, chunk_rows: int, encoding: str
) -> Iterator[RawChunk]:
    """CSV record by record, through the csv module.

    The bytes are decoded with ``surrogateescape``, so a byte that is not text in the file's
    encoding survives as a marker instead of failing the read; a record holding one in a column
    we use is rejected as undecodable (by the chunk builder), shown as U+FFFD. Delimiters and
    quotes are ASCII in every encoding we accept, so the markers never disturb how records split.
    """
    source = str(path)
    # Raised, never lowered: the limit is process-wide and other code may rely on a higher one.
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="")
        record = 0
        try:
            first = text.readline()
            while first and not first.strip():
                first = text.readline()
            if not first:
                log.warning("ingest: %s is empty", source)
                return
            delimiter = mapping.delimiter or sniff_delimiter(first)
            reader = csv.reader(itertools.chain([first], text), delimiter=delimiter)
            header = [clean_text(h) for h in next(reader)]
            resolver = mapping.resolver(path=source)
            targets = resolver.resolve(header)
            resolver.require()
            _log_ignored(source, len(header), len(targets))
            positions = {t: header.index(h) for h, t in targets.items()}
            builder = ChunkBuilder(
                source_file=source,
                chunk_rows=chunk_rows,
                date_format=mapping.date_format,
                columns=list(positions),
                positions=list(positions.values()),
            )
            width = len(header)
            for record, cells in enumerate(reader, start=1):
                if not cells or (len(cells) == 1 and not cells[0]):
                    continue
                if len(cells) > width and any(c.strip() for c in cells[width:]):
                    # Usually an unquoted delimiter inside a note: every later field is shifted.
                    values = {t: cells[i] for t, i in positions.items()}
                    builder.reject(record, values, field=None, reason=Reason.MALFORMED_RECORD)
                else:
                    builder.add_cells(record, cells)
                if builder.full:
                    yield builder.flush()
        except csv.Error as exc:
            # csv's messages describe the structure ("field larger than field limit"), not data.
            raise UnreadableFileError(f"broken CSV: {exc}", path=source, row=record + 1) from None
        except UnicodeError as exc:  # only for a mapping-forced codec such as utf-16
            raise UnreadableFileError(
                f"cannot decode as {encoding} ({type(exc).__name__})", path=source, row=record + 1
            ) from None
    if not builder.empty:
        yield builder.flush()


def _log_ignored(source: str, n_headers: int, n_used: int) -> None:
    # Counts only: a headerless file's "headers" are a data row, possibly a note.
    if n_headers > n_used:
        log.debug("ingest: %s: %d column(s) not mapped, ignored", source, n_headers - n_used)


# --- JSON Lines -----------------------------------------------------------------------------


def _read_jsonl(path: Path, mapping: ColumnMapping, chunk_rows: int) -> Iterator[RawChunk]:
    """One JSON object per line, UTF-8. Keys are resolved as headers are, as they first appear.

    The required-column check runs once the first chunk's worth of records has been seen, so a
    writer that leaves out a null key on some records does not fail the file.
    """
    source = str(path)
    builder = ChunkBuilder(
        source_file=source, chunk_rows=chunk_rows, date_format=mapping.date_format
    )
    resolver = mapping.resolver(path=source)
    checked = parsed_any = False
    with open(path, "rb") as f:
        for line_no, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            text = line.decode("utf-8-sig" if line_no == 1 else "utf-8", errors="surrogateescape")
            try:
                record = json.loads(text)
            except json.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                # Nothing of a broken line can be trusted to be in the right column: the
                # quarantine row carries its position only.
                builder.reject(line_no, {}, field=None, reason=Reason.MALFORMED_RECORD)
            else:
                parsed_any = True
                builder.add(line_no, _record_values(record, resolver))
            if builder.full:
                if not checked and parsed_any:
                    resolver.require()
                    checked = True
                yield builder.flush()
    if not checked and parsed_any:
        resolver.require()
    if not builder.empty:
        yield builder.flush()


def _record_values(record: dict[str, object], resolver: ColumnResolver) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for key, value in record.items():
        target = resolver.target(key)
        if target is not None:
            values[target] = to_text(value)
    return values


# --- Parquet --------------------------------------------------------------------------------


def _read_parquet(path: Path, mapping: ColumnMapping, chunk_rows: int) -> Iterator[RawChunk]:
    """Parquet by row batches, reading only the columns we map (the file is columnar)."""
    source = str(path)
    try:
        # Streamed reads: without these a whole column chunk is fetched up front (a row group
        # of a million notes is hundreds of MB).
        parquet = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    except (pa.ArrowException, OSError) as exc:
        raise UnreadableFileError(
            f"not a readable Parquet file ({type(exc).__name__})", path=source
        ) from None
    with parquet:
        resolver = mapping.resolver(path=source)
        targets = resolver.resolve(parquet.schema_arrow.names)
        resolver.require()
        _log_ignored(source, len(parquet.schema_arrow.names), len(targets))
        offset = 0
        try:
            for batch in parquet.iter_batches(
                batch_size=chunk_rows, columns=list(targets), use_threads=False
            ):
                columns = {
                    target: _arrow_text(batch.column(batch.schema.get_field_index(header)))
                    for header, target in targets.items()
                }
                rows = range(offset + 1, offset + batch.num_rows + 1)
                offset += batch.num_rows
                frame = make_frame_arrow(columns, source_file=source, source_rows=rows)
                yield RawChunk(
                    frame=frame, rejected=empty_quarantine(), date_format=mapping.date_format
                )
        except (pa.ArrowException, OSError) as exc:
            raise UnreadableFileError(
                f"broken Parquet data ({type(exc).__name__})", path=source, row=offset + 1
            ) from None


def _arrow_text(array: pa.Array) -> pa.Array:
    """A column's values as Arrow text: strings as they are, other types the way a CSV would
    show them.

    Text columns (nearly all of an export) stay in Arrow: turning every note into a Python
    string and back cost more than the rest of reading. Other types go value by value through
    :func:`~pipeline.ingest.chunks.to_text`, so a number or date reads as in a CSV export.
    """
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array  # blanks become missing in make_frame_arrow
    return pa.array([to_text(v) for v in array.to_pylist()], type=pa.large_string())


# --- Excel ----------------------------------------------------------------------------------


def _read_xlsx(path: Path, mapping: ColumnMapping, chunk_rows: int) -> Iterator[RawChunk]:
    """The first worksheet (or the mapping's ``sheet``), in openpyxl's streaming read-only mode.

    The header is the first non-empty row. Cells are typed by Excel: dates arrive as datetimes
    and ids as numbers, and :func:`~pipeline.ingest.chunks.to_text` writes them the way a CSV
    export would. Cached formula results are read, not the formulas.
    """
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    source = str(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, BadZipFile, KeyError, OSError) as exc:
        raise UnreadableFileError(
            f"not a readable xlsx workbook ({type(exc).__name__})", path=source
        ) from None
    try:
        if mapping.sheet is not None:
            if mapping.sheet not in workbook.sheetnames:
                raise UnreadableFileError(f"no worksheet named {mapping.sheet!r}", path=source)
            sheet = workbook[mapping.sheet]
        else:
            sheet = workbook.worksheets[0]
        # Explicit bounds: left open, read-only openpyxl stops at the sheet's stored dimensions,
        # which some writers get wrong (rows past them would be silently lost).
        scan = sheet.iter_rows(
            min_row=1, max_row=_XLSX_MAX_ROWS, max_col=_XLSX_MAX_COLS, values_only=True
        )
        header: list[str] | None = None
        header_at = 0
        for n, cells in enumerate(scan, start=1):
            if any(c not in (None, "") for c in cells):
                header, header_at = ["" if c is None else str(c) for c in cells], n
                break
        scan.close()
        if header is None:
            log.warning("ingest: %s has an empty worksheet", source)
            return
        while header and not header[-1]:
            header.pop()
        resolver = mapping.resolver(path=source)
        targets = resolver.resolve(h for h in header if h)
        resolver.require()
        _log_ignored(source, sum(1 for h in header if h), len(targets))
        positions = [(target, header.index(h)) for h, target in targets.items()]
        builder = ChunkBuilder(
            source_file=source, chunk_rows=chunk_rows, date_format=mapping.date_format
        )
        rows = sheet.iter_rows(
            min_row=header_at + 1, max_row=_XLSX_MAX_ROWS, max_col=len(header), values_only=True
        )
        for sheet_row, cells in enumerate(rows, start=header_at + 1):
            if not any(c not in (None, "") for c in cells):
                continue
            values = {t: to_text(cells[i]) for t, i in positions}
            builder.add(sheet_row - header_at, values)
            if builder.full:
                yield builder.flush()
        if not builder.empty:
            yield builder.flush()
    finally:
        workbook.close()


# --- Delius JSON ----------------------------------------------------------------------------


def _read_delius(path: Path, mapping: ColumnMapping, chunk_rows: int) -> Iterator[RawChunk]:
    """A Delius contact-history document (one case, or a list of cases), parsed whole.

    A case file is small (one person's contacts), so it is loaded at once and only its rows are
    chunked. It is decoded like a CSV, with ``surrogateescape``, so a contact holding bytes that
    are not UTF-8 is rejected on its own. The column mapping does not apply: the shape is fixed.
    """
    source = str(path)
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig", errors="surrogateescape"))
    except json.JSONDecodeError as exc:
        raise UnreadableFileError(
            f"not valid JSON (line {exc.lineno}, column {exc.colno})", path=source
        ) from None
    cases = delius.cases_of(document)
    if not cases or not any("contacts" in c or "personalDetails" in c for c in cases):
        raise UnreadableFileError(
            "not a Delius contact-history document (no 'personalDetails' or 'contacts')",
            path=source,
        )
    builder = ChunkBuilder(
        source_file=source, chunk_rows=chunk_rows, date_format=mapping.date_format
    )
    try:
        for index, row, ok in delius.iter_contacts(cases):
            if not ok:
                builder.reject(index, row, field=None, reason=Reason.MALFORMED_RECORD)
            else:
                builder.add(index, row)
            if builder.full:
                yield builder.flush()
    except ValueError as exc:
        raise UnreadableFileError(f"unexpected shape: {exc}", path=source) from None
    if not builder.empty:
        yield builder.flush()


_XLSX_MAX_ROWS = 1_048_576  # Excel's own limits
_XLSX_MAX_COLS = 16_384

_READERS: dict[Format, Callable[[Path, ColumnMapping, int], Iterator[RawChunk]]] = {
    "csv": _read_csv,
    "jsonl": _read_jsonl,
    "parquet": _read_parquet,
    "xlsx": _read_xlsx,
    "delius": _read_delius,
}
