"""Exports to the entries table: read, validate, detect, redact, attribute; one streaming pass.

``prepare`` reads any mix of export files chunk by chunk, quarantines rows it cannot use, runs the
spaCy pipeline, and writes

- ``entries.parquet``: one row per management-oversight entry, redacted text and attributes;
- ``quarantine.parquet``: every row set aside, with file, row, field and reason (notes redacted,
  names replaced);
- ``prepare_summary.json``: the counts, which must balance:
  rows in = entries out + non-oversight contacts + rows quarantined.

Only redacted text is ever written. Outputs appear atomically when the run has finished.

Speed: the nlp step is the costly part, so with ``n_process`` > 1 it runs in that many worker
processes while this process reads and validates the next chunk (validation must stay in one
process: it remembers the contact ids seen). Each chunk's good rows go to the workers as Arrow
record batches (a few slices per chunk, so the workers share the load) and come back as
entries tables, which are written in input order, one row group per chunk: the output is the
same for any number of workers. Workers are forked from this process after the pipeline is
built, so they start at once; small inputs (under :data:`PARALLEL_MIN_ROWS` rows) are prepared
in this process. Rows travel as columns from the reader to the writer: no per-row dicts.
"""

from __future__ import annotations

import gc
import json
import math
import multiprocessing
import os
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.errors import PrepareInvariantError
from pipeline.ingest import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_MAX_NOTES_CHARS,
    QUARANTINE_COLUMNS,
    IngestState,
    expand_paths,
    iter_exports,
    validate,
)
from pipeline.labels import ATTRIBUTES, PiiKind
from pipeline.nlp.batch import NOTE_FIELDS, find_entries
from pipeline.nlp.components import get_nlp
from pipeline.nlp.people import NAME_COLUMNS, NameIndex
from pipeline.nlp.redact import get_redactor
from pipeline.schema import ENTRIES_SCHEMA, ENTRY_METADATA_COLUMNS

if TYPE_CHECKING:
    from spacy.language import Language

ENTRIES_FILE = "entries.parquet"
QUARANTINE_FILE = "quarantine.parquet"
SUMMARY_FILE = "prepare_summary.json"

#: Columns of a quarantined row that name people: replaced before the file is written.
_NAME_FIELDS = ("pop_forename", "pop_surname", "staff_name", "created_by")
QUARANTINE_SCHEMA = pa.schema(
    [pa.field(c, pa.int64() if c == "source_row" else pa.string()) for c in QUARANTINE_COLUMNS]
)
#: Columns of a quarantined row written as read: the reason for quarantine and where it is from
#: (checked to hold no text from the notes: a value such as a contact id or a code).
_KEPT_FIELDS = ("field", "reason", "source_file")
#: Key and code columns kept as read when they hold one short token (an id, a CRN, a date, a
#: code), which the data owner needs to find the row; any other value is redacted like notes.
_KEY_FIELDS = (
    "contact_id",
    "crn",
    "contact_date",
    "contact_start_time",
    "contact_type_code",
    "outcome_code",
    "sensitive",
    "system_generated",
    "created_datetime",
    "tier",
    "rosh_level",
    "mappa_level",
    "mappa_category",
)
_KEY_VALUE = re.compile(r"[\w\-/:.+]{0,32}")
#: The columns of a good row the nlp step and the entries table need.
WORK_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys([*NOTE_FIELDS, *ENTRY_METADATA_COLUMNS, "source_file", "source_row"])
)
#: Work columns that hold a few values repeated on many rows and that the nlp step does not
#: read: sent to the workers dictionary-encoded (see :func:`work_table`).
_REPEATED_COLUMNS: tuple[str, ...] = tuple(
    c
    for c in (
        "outcome_description",
        "sensitive",
        "region",
        "pdu",
        "team",
        "tier",
        "rosh_level",
        "mappa_level",
        "mappa_category",
        "sentence_type",
        "source_file",
    )
    if c in WORK_COLUMNS and c not in NOTE_FIELDS
)
#: Inputs smaller than this (estimated rows) are prepared in this process whatever
#: ``n_process`` says: starting workers would cost more than it saves.
PARALLEL_MIN_ROWS = 20_000
#: Rows per piece of work sent to a worker (a chunk is cut into pieces so workers share it).
WORK_ROWS = 10_000


@dataclass
class PrepareSummary:
    """What a prepare run read and wrote. ``rows_in`` always balances the other three."""

    inputs: list[str]
    rows_in: int = 0
    entries_out: int = 0
    non_oversight: int = 0
    quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    entries_by_reason: dict[str, int] = field(default_factory=dict)
    empty_notes: int = 0
    #: what the first pass gathered for the redactor (counts only)
    names: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    rows_per_second: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    version: str = __version__

    def check(self) -> None:
        if self.rows_in != self.entries_out + self.non_oversight + self.quarantined:
            raise PrepareInvariantError(
                rows_in=self.rows_in,
                entries=self.entries_out,
                non_oversight=self.non_oversight,
                quarantined=self.quarantined,
            )


def _clean_text(value: Any) -> str | None:
    """Text safe to write: lone surrogates (undecodable bytes) become U+FFFD."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def gather_names(
    inputs: str | Path | Iterable[str | Path],
    *,
    mapping: str | Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> NameIndex:
    """The first pass: every name the inputs know (all files of one run), before any text is
    redacted. Quarantined rows count too: their names are still names."""
    index = NameIndex()
    wanted = (*NAME_COLUMNS, "crn", "notes")
    for chunk in iter_exports(expand_paths(inputs), mapping=mapping, chunk_rows=chunk_rows):
        for frame in (chunk.frame, chunk.rejected):
            if len(frame):
                index.add_columns(
                    {c: frame[c].tolist() for c in wanted if c in frame.columns}
                )
    return index


def redact_quarantine(frame: pd.DataFrame, names: NameIndex | None = None) -> pd.DataFrame:
    """Quarantined rows as they may be stored: every text field redacted, people's names
    replaced.

    Not only the notes: a CSV record with a stray quote swallows the rows after it, and their
    text lands in whatever column the broken record ends in (region, team, MAPPA level...)."""
    out = frame.copy()
    person = PiiKind.PERSON.placeholder
    redactor = get_redactor()
    export = names.export if names is not None else ()
    rows = frame.to_dict("records")
    known = [[_clean_text(r.get(c)) for c in _NAME_FIELDS] for r in rows]
    crns = [_clean_text(r.get("crn")) for r in rows]

    def clean(text: str | None, row: int) -> str | None:
        if not text:
            return text
        case = names.case(crns[row]) if names is not None else ()
        return redactor.redact(
            text, [n for n in known[row] if n], export_names=export, case_names=case
        )[0]

    for c in QUARANTINE_COLUMNS:
        if c == "source_row":
            continue
        if c in _NAME_FIELDS:
            out[c] = [None if _clean_text(v) is None else person for v in frame[c].tolist()]
        elif c in _KEPT_FIELDS:
            out[c] = [_clean_text(v) for v in frame[c].tolist()]
        elif c in _KEY_FIELDS:
            out[c] = [
                v if v is None or _KEY_VALUE.fullmatch(v) else clean(v, i)
                for i, v in enumerate(map(_clean_text, frame[c].tolist()))
            ]
        else:
            out[c] = [clean(_clean_text(v), i) for i, v in enumerate(frame[c].tolist())]
    return out[list(QUARANTINE_COLUMNS)]


def work_table(good: pd.DataFrame) -> pa.Table:
    """The good rows' :data:`WORK_COLUMNS` as an Arrow table (no copy of the text).

    The columns in :data:`_REPEATED_COLUMNS` are dictionary-encoded: the table is copied to a
    worker and back by this process, whose CPU the workers need, and these few values repeat on
    every row (the file name most of all). The nlp step never reads them, and
    :func:`entries_table` casts them back to plain text, so the entries are the same.
    """
    table = pa.Table.from_pandas(good[list(WORK_COLUMNS)], preserve_index=False, nthreads=1)
    for name in _REPEATED_COLUMNS:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pc.dictionary_encode(table.column(i)))
    return table.replace_schema_metadata(None)


def entries_table(
    rows: pa.Table, nlp: Language, batch_size: int, names: NameIndex | None = None
) -> pa.Table:
    """The entries (ENTRIES_SCHEMA) among validated rows given as an Arrow table of
    :data:`WORK_COLUMNS`, in row order; ``names``: the run's :func:`gather_names`."""
    cols = {c: rows.column(c).to_pylist() for c in NOTE_FIELDS}
    found = find_entries(cols, nlp=nlp, batch_size=batch_size, names=names)
    meta = rows.take(pa.array(found.rows, pa.int64()))
    arrays: dict[str, pa.Array | pa.ChunkedArray] = {
        c: meta.column(c).cast(pa.string()) for c in ENTRY_METADATA_COLUMNS
    }
    arrays["text"] = pa.array(found.text, pa.string())
    arrays["n_blocks"] = pa.array(found.n_blocks, pa.int32())
    arrays["n_pii"] = pa.array(found.n_pii, pa.int32())
    arrays["oversight_reason"] = pa.array(found.oversight_reason, pa.string())
    arrays["initiated_by"] = pa.array(found.initiated_by, pa.string())
    for a in ATTRIBUTES:
        arrays[a] = pa.array(found.attributes[a], pa.bool_())
    arrays["risk_factor_terms"] = pa.array(found.risk_factor_terms, pa.list_(pa.string()))
    arrays["source_file"] = meta.column("source_file").cast(pa.string())
    arrays["source_row"] = meta.column("source_row").cast(pa.int64())
    return pa.Table.from_arrays([arrays[c] for c in ENTRIES_SCHEMA.names], schema=ENTRIES_SCHEMA)


def _to_ipc(table: pa.Table) -> pa.Buffer:
    """An Arrow IPC stream: how tables travel to and from workers (a slice is sent as just its
    rows, where pickling it would send the whole chunk)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _from_ipc(buffer: pa.Buffer | bytes) -> pa.Table:
    return pa.ipc.open_stream(buffer).read_all()


# -- workers ---------------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}

#: What a worker does with the entries table of its piece before sending it back (the scoring
#: engine labels the entries there, so the model runs in the workers too).
Finisher = Callable[[pa.Table], pa.Table]


def _worker_init(
    batch_size: int, finish: Finisher | None = None, names: NameIndex | None = None
) -> None:
    # forked after the parent built the pipeline: get_nlp() returns the inherited one
    _WORKER["nlp"] = get_nlp()
    _WORKER["batch_size"] = batch_size
    _WORKER["finish"] = finish
    _WORKER["names"] = names
    gc.freeze()  # the pipeline's objects are permanent: keep the collector off them


def _worker_entries(payload: pa.Buffer | bytes) -> pa.Buffer:
    rows = _from_ipc(payload)
    table = entries_table(rows, _WORKER["nlp"], _WORKER["batch_size"], _WORKER.get("names"))
    finish = _WORKER.get("finish")
    return _to_ipc(finish(table) if finish is not None else table)


def estimated_rows(paths: Iterable[Path]) -> int:
    """Roughly how many rows the inputs hold (Parquet: exactly, from its footer; other formats
    from their size), to decide whether workers are worth starting."""
    total = 0
    for p in paths:
        if p.suffix.lower() in (".parquet", ".pq"):
            try:
                total += pq.read_metadata(p).num_rows
                continue
            except (pa.ArrowException, OSError):
                pass
        total += p.stat().st_size // 256
    return total


class WorkerPool:
    """Worker processes that turn the validated rows of a chunk (:data:`WORK_COLUMNS`) into
    entries tables, piece by piece, in order; ``finish`` (optional) is applied to each piece's
    entries in the worker (the scoring engine classifies there).

    Workers are forked from this process, so they inherit the pipeline and whatever ``finish``
    holds (a loaded model) without pickling; where fork is missing they are spawned and
    ``finish`` must pickle. Tables travel as Arrow IPC streams, not pickled frames.
    """

    def __init__(
        self,
        n_process: int,
        *,
        batch_size: int = 512,
        finish: Finisher | None = None,
        schema: pa.Schema = ENTRIES_SCHEMA,
        names: NameIndex | None = None,
    ) -> None:
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        get_nlp()  # built before the fork, so every worker inherits it
        self.pool = ctx.Pool(n_process, initializer=_worker_init, initargs=(batch_size, finish, names))
        self.n_process = n_process
        self.schema = schema

    def submit(self, rows: pa.Table) -> list[Any]:
        """Send a chunk's rows to the workers; returns the jobs for :meth:`collect`."""
        n = rows.num_rows
        pieces = max(1, min(math.ceil(n / WORK_ROWS), 4 * self.n_process))
        # at least one piece per worker, so that no worker idles on a chunk
        if n >= self.n_process * 500:
            pieces = max(pieces, self.n_process)
        size = math.ceil(n / pieces) if n else 0
        return [
            self.pool.apply_async(_worker_entries, (_to_ipc(rows.slice(start, size)),))
            for start in range(0, n, size or 1)
        ]

    def collect(self, jobs: list[Any]) -> pa.Table:
        """The finished tables of :meth:`submit`'s jobs, concatenated in order."""
        tables = [_from_ipc(job.get()) for job in jobs]
        return pa.concat_tables(tables) if tables else self.schema.empty_table()

    def close(self, *, ok: bool) -> None:
        if ok:
            self.pool.close()
        else:
            self.pool.terminate()
        self.pool.join()


class _AtomicParquet:
    """A Parquet file written chunk by chunk under a temporary name, renamed on success."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.schema = path, schema
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")

    def write(self, frame: pd.DataFrame | pa.Table) -> None:
        if isinstance(frame, pd.DataFrame):
            frame = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if frame.num_rows:
            self.writer.write_table(frame)

    def commit(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)


def prepare(
    inputs: str | Path | Iterable[str | Path],
    *,
    out_dir: str | Path,
    mapping: str | Path | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    max_notes_chars: int = DEFAULT_MAX_NOTES_CHARS,
    n_process: int = 1,
    batch_size: int = 512,
    progress: Callable[[int], None] | None = None,
) -> PrepareSummary:
    """Turn exports into the entries table under ``out_dir``; returns the balanced summary."""
    paths = expand_paths(inputs)  # raises a clear error for a missing or unknown input
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = PrepareSummary(inputs=[str(p) for p in paths])
    state = IngestState(max_notes_chars=max_notes_chars)
    start = time.perf_counter()
    nlp = get_nlp()  # built before any worker is forked, so the workers inherit it
    names = gather_names(paths, mapping=mapping, chunk_rows=chunk_rows)
    summary.names = names.stats()
    workers = (
        WorkerPool(n_process, batch_size=batch_size, names=names)
        if n_process > 1 and estimated_rows(paths) >= PARALLEL_MIN_ROWS
        else None
    )
    entries = _AtomicParquet(out / ENTRIES_FILE, ENTRIES_SCHEMA)
    quarantine = _AtomicParquet(out / QUARANTINE_FILE, QUARANTINE_SCHEMA)
    by_reason: Counter[str] = Counter()
    #: chunks whose entries are still being made: (jobs or table, good rows, rows in)
    pending: deque[tuple[Any, int, int]] = deque()

    def finish() -> None:
        work, n_good, rows_in = pending.popleft()
        table = work if isinstance(work, pa.Table) else workers.collect(work)
        entries.write(table)
        if table.num_rows:
            counts = pc.value_counts(table.column("oversight_reason")).to_pylist()
            by_reason.update({c["values"]: c["counts"] for c in counts})
        summary.entries_out += table.num_rows
        summary.non_oversight += n_good - table.num_rows
        if progress:
            progress(rows_in)

    ok = False
    try:
        for chunk in iter_exports(paths, mapping=mapping, chunk_rows=chunk_rows):
            good, bad = validate(chunk, state=state)
            if len(bad):
                quarantine.write(redact_quarantine(bad, names))
            summary.empty_notes += int(good["notes"].isna().sum())
            rows = work_table(good)
            if workers is None:
                pending.append(
                    (entries_table(rows, nlp, batch_size, names), len(good), chunk.rows_in)
                )
            else:
                pending.append((workers.submit(rows), len(good), chunk.rows_in))
            del good, bad, rows, chunk
            while len(pending) > (1 if workers is not None else 0):
                finish()
        while pending:
            finish()
        ok = True
    except BaseException:
        entries.abort()
        quarantine.abort()
        raise
    finally:
        if workers is not None:
            workers.close(ok=ok)
    counts = state.counts
    summary.rows_in = counts.rows_in
    summary.quarantined = counts.rows_quarantined
    summary.quarantined_by_reason = dict(sorted(counts.by_reason.items()))
    summary.entries_by_reason = dict(sorted(by_reason.items()))
    summary.seconds = round(time.perf_counter() - start, 3)
    summary.rows_per_second = round(summary.rows_in / summary.seconds, 1) if summary.seconds else 0
    try:
        summary.check()
    except PrepareInvariantError:
        entries.abort()
        quarantine.abort()
        raise
    entries.commit()
    quarantine.commit()
    summary.outputs = {
        "entries": str(out / ENTRIES_FILE),
        "quarantine": str(out / QUARANTINE_FILE),
        "summary": str(out / SUMMARY_FILE),
    }
    tmp = out / f".{SUMMARY_FILE}.tmp"
    tmp.write_text(json.dumps(asdict(summary), indent=2) + "\n", "utf-8")
    os.replace(tmp, out / SUMMARY_FILE)
    return summary


def redaction_spans(
    inputs: str | Path | Iterable[str | Path], *, mapping: str | Path | None = None
) -> dict[str, list[tuple[int, int, str]]]:
    """contact id -> the PII spans that ``prepare`` finds in its notes, for every good row
    (oversight or not): what the redaction benchmarks score. Spans only, never text."""
    paths = expand_paths(inputs)
    names = gather_names(paths, mapping=mapping)
    state = IngestState()
    nlp = get_nlp()
    out: dict[str, list[tuple[int, int, str]]] = {}
    for chunk in iter_exports(paths, mapping=mapping):
        good, _bad = validate(chunk, state=state)
        cols = {c: work_table(good).column(c).to_pylist() for c in NOTE_FIELDS}
        found = find_entries(cols, nlp=nlp, names=names, every_row=True)
        for i, spans in zip(found.rows, found.spans, strict=True):
            out[cols["contact_id"][i]] = [tuple(s) for s in spans]
    return out


def entries_frame(
    good: pd.DataFrame, *, nlp: Language | None = None, batch_size: int = 512
) -> pd.DataFrame:
    """The entries (ENTRIES_SCHEMA columns) among validated rows, as a DataFrame in row order.

    The one-chunk form of what :func:`prepare` does, for steps that score as they go (the local
    and Spark scoring engines), so every engine detects, redacts and extracts the same way.
    """
    table = entries_table(work_table(good), nlp or get_nlp(), batch_size)
    return table.to_pandas(types_mapper=None)
