"""Write the measure outputs: ``measures.parquet|csv``, ``comparisons.parquet|csv``,
``delays.parquet`` and ``measures.json`` (the contract ``oversight report`` reads).

Every file is written beside its final name and renamed into place, so a reader never sees a
half-written file. Only aggregates leave this module: no contact ids, CRNs or note text.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.errors import MeasureOutputError
from pipeline.schema import MEASURE_ESTIMATE_COLUMNS

MEASURES_STEM = "measures"
COMPARISONS_STEM = "comparisons"
DELAYS_FILE = "delays.parquet"
SUMMARY_FILE = "measures.json"

MEASURES_SCHEMA = pa.schema(
    [
        pa.field("measure", pa.string()),
        pa.field("category", pa.string()),
        pa.field("by", pa.string()),
        pa.field("group", pa.string()),
        pa.field("unit", pa.string()),
        *[pa.field(c, pa.float64()) for c in MEASURE_ESTIMATE_COLUMNS],
        pa.field("adjusted", pa.bool_()),
        pa.field("method", pa.string()),
        pa.field("n", pa.int64()),
        pa.field("suppressed", pa.bool_()),
    ]
)
COMPARISONS_SCHEMA = pa.schema(
    [
        *[
            pa.field(c, pa.string())
            for c in ("measure", "category", "comparison", "group_a", "group_b")
        ],
        *[
            pa.field(c, pa.float64())
            for c in ("estimate_a", "estimate_b", "difference", "lower", "upper")
        ],
        pa.field("n_a", pa.int64()),
        pa.field("n_b", pa.int64()),
        pa.field("adjusted", pa.bool_()),
        pa.field("suppressed", pa.bool_()),
    ]
)
DELAYS_SCHEMA = pa.schema(
    [
        pa.field("by", pa.string()),
        pa.field("group", pa.string()),
        pa.field("delay_days", pa.int64()),
        pa.field("count", pa.int64()),
    ]
)


def _atomic(path: Path, write: Callable[[str], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file private; these aggregates are meant to be opened by others
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    frame = frame.astype(object).where(frame.notna(), None)
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def write_table(
    frame: pd.DataFrame, schema: pa.Schema, folder: Path, stem: str, *, csv: bool
) -> list[Path]:
    """``stem.parquet`` (typed by ``schema``) and, when ``csv``, ``stem.csv``."""
    table = _table(frame, schema)
    paths = [folder / f"{stem}.parquet"]
    _atomic(paths[0], lambda tmp: pq.write_table(table, tmp))
    if csv:
        paths.append(folder / f"{stem}.csv")
        _atomic(paths[1], lambda tmp: frame[schema.names].to_csv(tmp, index=False))
    return paths


def delay_histogram(
    delays: np.ndarray,
    groupings: Sequence[tuple[str, Sequence[str], np.ndarray]],
    *,
    threshold: int,
) -> pd.DataFrame:
    """Counts of events by delay (null: no response within the look-ahead) for each group of
    each grouping; groups with fewer than ``threshold`` events are left out."""
    rows = []
    missing = np.isnan(delays)
    for by, names, codes in groupings:
        for i, name in enumerate(names):
            sel = codes == i
            if sel.sum() < threshold:
                continue
            values, counts = np.unique(delays[sel & ~missing].astype(np.int64), return_counts=True)
            rows.extend(
                {"by": by, "group": name, "delay_days": int(v), "count": int(c)}
                for v, c in zip(values, counts, strict=True)
            )
            n_none = int((sel & missing).sum())
            if n_none:
                rows.append({"by": by, "group": name, "delay_days": None, "count": n_none})
    frame = pd.DataFrame(rows, columns=DELAYS_SCHEMA.names)
    frame["delay_days"] = frame["delay_days"].astype("Int64")
    return frame


def fingerprint(path: str | Path) -> dict[str, Any]:
    """A file's identity without reading its content: path, size, modification time, and a
    sha256 of those (for a folder, of its files')."""
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    h = hashlib.sha256()
    size = 0
    for f in files:
        st = f.stat()
        size += st.st_size
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return {"path": str(p), "bytes": size, "sha256": h.hexdigest()}


def write_summary(summary: dict[str, Any], folder: Path) -> Path:
    path = folder / SUMMARY_FILE
    text = json.dumps(summary, indent=2, default=_json_default, allow_nan=False) + "\n"
    _atomic(path, lambda tmp: Path(tmp).write_text(text, "utf-8"))
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(type(value).__name__)


def check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MeasureOutputError(
            f"cannot create the output folder ({type(exc).__name__})", path=str(folder)
        ) from None
    if not os.access(folder, os.W_OK):
        raise MeasureOutputError("the output folder is not writable", path=str(folder))


def clean_json(value: Any) -> Any:
    """NaN to None through nested dicts and lists (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if value is pd.NA:
        return None
    return value
