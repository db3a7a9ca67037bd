"""Exports to the entries table: read, validate, detect, redact, attribute; one streaming pass.

``prepare`` reads any mix of export files chunk by chunk, quarantines rows it cannot use, runs the
spaCy pipeline, and writes

- ``entries.parquet``: one row per management-oversight entry, redacted text and attributes;
- ``quarantine.parquet``: every row set aside, with file, row, field and reason (notes redacted,
  names replaced);
- ``prepare_summary.json``: the counts, which must balance:
  rows in = entries out + non-oversight contacts + rows quarantined.

Only redacted text is ever written. Outputs appear atomically when the run has finished.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
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
from pipeline.nlp.batch import NoteResult, process
from pipeline.nlp.redact import redact
from pipeline.schema import ENTRIES_SCHEMA, ENTRY_METADATA_COLUMNS

ENTRIES_FILE = "entries.parquet"
QUARANTINE_FILE = "quarantine.parquet"
SUMMARY_FILE = "prepare_summary.json"

#: Columns of a quarantined row that name people: replaced before the file is written.
_NAME_FIELDS = ("pop_forename", "pop_surname", "staff_name", "created_by")
QUARANTINE_SCHEMA = pa.schema(
    [pa.field(c, pa.int64() if c == "source_row" else pa.string()) for c in QUARANTINE_COLUMNS]
)


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


def redact_quarantine(frame: pd.DataFrame) -> pd.DataFrame:
    """Quarantined rows as they may be stored: notes redacted, people's names replaced."""
    out = frame.copy()
    person = PiiKind.PERSON.placeholder
    names = [[_clean_text(r.get(c)) for c in _NAME_FIELDS] for r in frame.to_dict("records")]
    notes = []
    for text, known in zip(frame["notes"].tolist(), names, strict=True):
        text = _clean_text(text)
        notes.append(redact(text, known_names=[n for n in known if n])[0] if text else text)
    out["notes"] = notes
    for c in _NAME_FIELDS:
        out[c] = [None if _clean_text(v) is None else person for v in frame[c].tolist()]
    for c in QUARANTINE_COLUMNS:
        if c not in ("source_row", "notes", *_NAME_FIELDS):
            out[c] = [_clean_text(v) for v in out[c].tolist()]
    return out[list(QUARANTINE_COLUMNS)]


def _entries_frame(good: pd.DataFrame, results: Sequence[NoteResult]) -> pd.DataFrame:
    keep = [i for i, r in enumerate(results) if r.is_oversight]
    meta = good.iloc[keep][[*ENTRY_METADATA_COLUMNS, "source_file", "source_row"]]
    meta = meta.reset_index(drop=True)
    chosen = [results[i] for i in keep]
    cols: dict[str, Any] = {
        c: meta[c].astype(object).where(meta[c].notna(), None).tolist()
        for c in ENTRY_METADATA_COLUMNS
    }
    cols["text"] = [r.redacted if r.redacted is not None else "" for r in chosen]
    cols["n_blocks"] = [len(r.blocks) for r in chosen]
    cols["n_pii"] = [len(r.pii_spans or ()) for r in chosen]
    cols["oversight_reason"] = [r.oversight_reason for r in chosen]
    cols["initiated_by"] = [r.initiated_by for r in chosen]
    for a in ATTRIBUTES:
        cols[a] = [bool(getattr(r, a)) for r in chosen]
    cols["risk_factor_terms"] = [list(r.risk_factor_terms) for r in chosen]
    cols["source_file"] = meta["source_file"].astype(str).tolist()
    cols["source_row"] = meta["source_row"].astype("int64").tolist()
    return pd.DataFrame(cols, columns=list(ENTRIES_SCHEMA.names))


class _AtomicParquet:
    """A Parquet file written chunk by chunk under a temporary name, renamed on success."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.schema = path, schema
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")

    def write(self, frame: pd.DataFrame) -> None:
        if len(frame):
            self.writer.write_table(
                pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
            )

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
    entries = _AtomicParquet(out / ENTRIES_FILE, ENTRIES_SCHEMA)
    quarantine = _AtomicParquet(out / QUARANTINE_FILE, QUARANTINE_SCHEMA)
    by_reason: Counter[str] = Counter()
    start = time.perf_counter()
    try:
        for chunk in iter_exports(paths, mapping=mapping, chunk_rows=chunk_rows):
            good, bad = validate(chunk, state=state)
            quarantine.write(redact_quarantine(bad))
            records = good.to_dict("records")
            results = list(process(records, batch_size=batch_size, n_process=n_process))
            frame = _entries_frame(good, results)
            entries.write(frame)
            by_reason.update(frame["oversight_reason"])
            summary.entries_out += len(frame)
            summary.non_oversight += len(good) - len(frame)
            summary.empty_notes += int(good["notes"].isna().sum())
            if progress:
                progress(chunk.rows_in)
    except BaseException:
        entries.abort()
        quarantine.abort()
        raise
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
