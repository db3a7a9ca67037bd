"""Read the measures folder that ``oversight measure`` writes, check it against the contract,
and apply small-number suppression again before anything reaches the report.

The report only ever sees these aggregated tables: no entry, case identifier or note text.
Suppression is re-applied here (not only trusted from the measure step) so that a table
written with another threshold, or edited by hand, still cannot put a small group on screen.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import ReportInputError, ReportPrivacyError
from pipeline.schema import COMPARISONS_COLUMNS, MEASURE_ESTIMATE_COLUMNS, MEASURES_COLUMNS

MEASURES_FILE = "measures.parquet"
COMPARISONS_FILE = "comparisons.parquet"
DELAYS_FILE = "delays.parquet"
SUMMARY_FILE = "measures.json"

#: Groups under this many entries (cases, events...) are not shown, whatever the tables say.
DEFAULT_SUPPRESSION_THRESHOLD = 10

DELAY_COLUMNS: tuple[str, ...] = ("by", "group", "delay_days", "count")

# A letter and six digits: the shape of a CRN. No group label may look like one.
_CRN_SHAPE = re.compile(r"\b[A-Za-z]\d{6}\b")


@dataclass
class MeasureSet:
    """Everything the report shows, as read from one measures folder.

    ``measures`` is the long table (one row per measure, category, by, group); ``comparisons``
    and ``delays`` may be empty; ``summary`` is ``measures.json`` (``{}`` when absent).
    """

    folder: Path
    measures: pd.DataFrame
    comparisons: pd.DataFrame
    delays: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
    missing: list[str] = field(default_factory=list)

    def rows(
        self, measure: str, *, by: str = "overall", category: str | None = None
    ) -> pd.DataFrame:
        """The rows of one measure at one level (``category=None``: the overall rows)."""
        m = self.measures
        mask = (m["measure"] == measure) & (m["by"] == by)
        mask &= m["category"].isna() if category is None else (m["category"] == category)
        return m[mask]

    def levels(self) -> list[str]:
        """The ``by`` levels present, in the table's order."""
        return list(dict.fromkeys(self.measures["by"]))


def _read_table(
    folder: Path, name: str, columns: tuple[str, ...], *, required: bool
) -> pd.DataFrame:
    """Parquet first, the CSV twin second; an absent optional table is an empty frame."""
    parquet = folder / name
    csv = parquet.with_suffix(".csv")
    if parquet.exists():
        path = parquet
        try:
            frame = pd.read_parquet(parquet)
        except Exception as exc:  # pyarrow raises several kinds for a broken file
            raise ReportInputError(
                f"cannot read the table ({type(exc).__name__})", path=str(parquet)
            ) from None
    elif csv.exists():
        path = csv
        frame = pd.read_csv(csv, keep_default_na=True)
    elif required:
        raise ReportInputError(
            "the measures folder has no measures table; run `oversight measure` first",
            path=str(parquet),
        )
    else:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    for column in columns:
        if column not in frame.columns:
            raise ReportInputError(
                "a column of the measure contract is missing", path=str(path), field=column
            )
    return frame


def _as_bool(series: pd.Series) -> pd.Series:
    """Booleans from Parquet bools or CSV text ('True'/'false'/1)."""
    if series.dtype == bool:
        return series
    text = series.astype(str).str.strip().str.lower()
    return text.isin(("true", "1", "yes", "y"))


def _as_text(series: pd.Series) -> pd.Series:
    """Strings as Python objects, missing (and empty) as None; pandas' string dtype would turn
    None back into NaN."""
    values = [
        None
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v == ""
        else str(v)
        for v in series.tolist()
    ]
    return pd.Series(values, index=series.index, dtype=object)


def _as_float(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = frame[column].notna() & values.isna()
    if bad.any():
        raise ReportInputError(
            f"non-numeric value in row {int(np.flatnonzero(bad.to_numpy())[0])}",
            path=str(path),
            field=column,
        )
    return values.astype(float)


def _check_labels(frame: pd.DataFrame, columns: tuple[str, ...], table: str) -> None:
    """Refuse group labels shaped like a case reference: a case must never be identifiable."""
    for column in columns:
        if column not in frame.columns or frame.empty:
            continue
        text = frame[column].dropna().astype(str)
        if text.str.contains(_CRN_SHAPE).any():
            raise ReportPrivacyError(
                f"{table}: column {column!r} holds a value shaped like a case reference (CRN); "
                "the report shows aggregated groups only"
            )


def _suppress(frame: pd.DataFrame, n: pd.Series, threshold: int) -> pd.DataFrame:
    small = n.isna() | (n < threshold)
    frame["suppressed"] = _as_bool(frame["suppressed"]) | small
    return frame


def read_measures(folder: str | Path, *, threshold: int | None = None) -> MeasureSet:
    """Read and check a measures folder; rows under ``threshold`` are marked suppressed and
    their figures blanked. ``threshold`` defaults to the one in ``measures.json`` and is never
    below :data:`DEFAULT_SUPPRESSION_THRESHOLD` (a stricter one may be asked for)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportInputError("the measures folder does not exist", path=str(folder))
    summary: dict[str, Any] = {}
    missing: list[str] = []
    summary_path = folder / SUMMARY_FILE
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise ReportInputError(
                f"not valid JSON (line {exc.lineno})", path=str(summary_path)
            ) from None
        if not isinstance(summary, dict):
            raise ReportInputError("expected a JSON object", path=str(summary_path))
    else:
        missing.append(SUMMARY_FILE)
    settings = summary.get("settings") or {}
    if threshold is None:
        threshold = int(settings.get("suppression_threshold", DEFAULT_SUPPRESSION_THRESHOLD))
    # Never below the house rule: a lower threshold anywhere must not unmask small groups.
    threshold = max(int(threshold), DEFAULT_SUPPRESSION_THRESHOLD)

    measures = _read_table(folder, MEASURES_FILE, MEASURES_COLUMNS, required=True)
    measures = measures[list(MEASURES_COLUMNS)].copy()
    path = folder / MEASURES_FILE
    for column in MEASURE_ESTIMATE_COLUMNS:
        measures[column] = _as_float(measures, column, path)
    measures["n"] = _as_float(measures, "n", path)
    measures["adjusted"] = _as_bool(measures["adjusted"])
    for column in ("measure", "category", "by", "group", "unit", "method"):
        measures[column] = _as_text(measures[column])
    measures = _suppress(measures, measures["n"], threshold)
    measures.loc[measures["suppressed"], list(MEASURE_ESTIMATE_COLUMNS)] = np.nan
    _check_labels(measures, ("group", "category"), MEASURES_FILE)

    comparisons = _read_table(folder, COMPARISONS_FILE, COMPARISONS_COLUMNS, required=False)
    comparisons = comparisons[list(COMPARISONS_COLUMNS)].copy()
    if not (folder / COMPARISONS_FILE).exists() and not (folder / "comparisons.csv").exists():
        missing.append(COMPARISONS_FILE)
    cpath = folder / COMPARISONS_FILE
    for column in ("estimate_a", "estimate_b", "difference", "lower", "upper", "n_a", "n_b"):
        comparisons[column] = _as_float(comparisons, column, cpath)
    comparisons["adjusted"] = _as_bool(comparisons["adjusted"])
    for column in ("measure", "category", "comparison", "group_a", "group_b"):
        comparisons[column] = _as_text(comparisons[column])
    smallest = comparisons[["n_a", "n_b"]].min(axis=1, skipna=False)
    comparisons = _suppress(comparisons, smallest, threshold)
    comparisons.loc[
        comparisons["suppressed"], ["estimate_a", "estimate_b", "difference", "lower", "upper"]
    ] = np.nan
    _check_labels(comparisons, ("comparison", "group_a", "group_b"), COMPARISONS_FILE)

    delays = _read_table(folder, DELAYS_FILE, DELAY_COLUMNS, required=False)
    delays = delays[list(DELAY_COLUMNS)].copy()
    if not (folder / DELAYS_FILE).exists() and not (folder / "delays.csv").exists():
        missing.append(DELAYS_FILE)
    dpath = folder / DELAYS_FILE
    delays["delay_days"] = _as_float(delays, "delay_days", dpath)
    delays["count"] = _as_float(delays, "count", dpath).fillna(0)
    delays["by"] = _as_text(delays["by"])
    delays["group"] = _as_text(delays["group"])
    if not delays.empty:
        # A group's whole distribution is hidden when it rests on fewer events than the threshold.
        totals = delays.groupby(["by", "group"])["count"].transform("sum")
        delays = delays[totals >= threshold].reset_index(drop=True)
    _check_labels(delays, ("group",), DELAYS_FILE)

    return MeasureSet(
        folder=folder,
        measures=measures.reset_index(drop=True),
        comparisons=comparisons.reset_index(drop=True),
        delays=delays,
        summary=summary,
        threshold=threshold,
        missing=missing,
    )
