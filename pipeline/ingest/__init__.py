"""Ingest: read contact exports of any supported shape, map their columns, validate, quarantine.

The step in one loop::

    state = IngestState()
    for chunk in iter_exports(["exports/"], mapping="our-mapping.yaml"):
        good, quarantined = validate(chunk, state=state)
        ...  # hand `good` on; redact `quarantined` notes before writing it
    state.counts  # rows_in == rows_ok + rows_quarantined

Formats: CSV (UTF-8, UTF-8 with BOM, cp1252, UTF-16 with BOM), JSON Lines, Parquet, Excel
.xlsx and the Delius contact-history JSON shape (a file per case, or a folder of them).
Everything streams in chunks of ``chunk_rows`` rows. A file that cannot be used at all (missing
required column, not the format it claims) raises an :class:`~pipeline.errors.InputError`;
a row that cannot be used is quarantined with its ``field`` and ``reason``.
"""

from pipeline.ingest.chunks import (
    CHUNK_COLUMNS,
    QUARANTINE_COLUMNS,
    RawChunk,
    Reason,
)
from pipeline.ingest.columns import (
    ColumnMapping,
    example_mapping_path,
    load_mapping,
    normalise_header,
)
from pipeline.ingest.readers import DEFAULT_CHUNK_ROWS, expand_paths, iter_export, iter_exports
from pipeline.ingest.validate import (
    DEFAULT_MAX_NOTES_CHARS,
    IngestCounts,
    IngestState,
    iter_validated,
    validate,
)

__all__ = [
    "CHUNK_COLUMNS",
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_MAX_NOTES_CHARS",
    "QUARANTINE_COLUMNS",
    "ColumnMapping",
    "IngestCounts",
    "IngestState",
    "RawChunk",
    "Reason",
    "example_mapping_path",
    "expand_paths",
    "iter_export",
    "iter_exports",
    "iter_validated",
    "load_mapping",
    "normalise_header",
    "validate",
]
