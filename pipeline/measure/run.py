"""The measure step end to end: scored entries (+ exports) in, measure tables and summary out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.errors import MeasureOptionError
from pipeline.measure import io
from pipeline.measure.compare import (
    GroupComparison,
    PeriodComparison,
    compare,
    parse_group,
    parse_periods,
)
from pipeline.measure.measures import (
    GROUPINGS,
    MeasureSettings,
    compute,
    definitions,
    make_grouping,
)
from pipeline.measure.tables import build_tables, read_contacts, read_scored
from pipeline.measure.validation import (
    Validation,
    initiator_confusion,
    load_validation,
    scores_from_confusion,
)

DEFAULT_OUT = Path("data/processed/measures")


@dataclass
class MeasureResult:
    """What a run wrote and the headline figures."""

    measures: pd.DataFrame
    comparisons: pd.DataFrame
    delays: pd.DataFrame
    summary: dict[str, Any]
    paths: dict[str, str] = field(default_factory=dict)
    #: limitations of this run in particular (no initiator validation, no export, ...)
    warnings: list[str] = field(default_factory=list)


def parse_by(text: str | Sequence[str]) -> list[str]:
    """``region,pdu,team,rosh,month`` to grouping names (``rosh`` = ``rosh_level``)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        b = item.strip().lower().replace("-", "_")
        if not b:
            continue
        b = "rosh_level" if b == "rosh" else b
        if b not in GROUPINGS:
            raise MeasureOptionError(
                f"--by takes a comma-separated list of {', '.join(GROUPINGS)}; "
                f"{item.strip()!r} is not one"
            )
        out.append(b)
    return out


def _warnings(validation: Validation, settings: MeasureSettings, has_export: bool) -> list[str]:
    """Limitations of this run in particular (also printed by the CLI)."""
    out = []
    if "initiated_by" not in validation.confusions or not settings.adjust:
        out.append(
            "Reactive share is the raw figure from the rules' initiator: no initiator validation "
            "was given (--initiator-validation), so it is not adjusted."
        )
    if not settings.adjust or not validation.confusions:
        out.append("No classifier-error adjustment: estimates are the raw shares.")
    if not has_export:
        out.append(
            "No export was given (--export): coverage, quarterly review and responsiveness need "
            "every case and the risk events, and are not measured."
        )
    return out


def _limitations(settings: MeasureSettings) -> list[str]:
    return [
        "Adjusted figures assume the validation confusion matrix holds for these entries: the "
        "same model, on notes like those it was validated on.",
        "Entries missed by oversight detection, or contacts wrongly taken for oversight, are not "
        "adjusted for; the classifier's confusion covers labels only.",
        "Defensive share by type adjusts the joint (type, content) label assuming the two heads "
        "err independently given the truth.",
        "Coverage, quarterly review and responsiveness adjust each entry by P(true label | "
        "predicted label), taking entries' errors as independent.",
        f"Responsiveness counts a risk or enforcement entry within "
        f"{settings.response_window_days} days of a risk event as its response; entries that "
        f"would have fallen there anyway are discounted with the rate of such entries in the "
        f"{settings.background_days} days before each event. The median delay uses predicted "
        "labels, unadjusted and undiscounted, so unrelated entries shorten it.",
        "Quarterly review counts any review entry in the quarter (MAPPA and other panels "
        "included), not only the scheduled high-RoSH review.",
        f"Groups with fewer than {settings.suppression_threshold} units behind a figure are "
        "suppressed (shown as null).",
    ]


def _model_version(path: Path) -> str | None:
    try:
        if path.suffix.lower() == ".csv":
            v = pd.read_csv(path, usecols=["model_version"], nrows=1, dtype=str)
        else:
            if "model_version" not in pq.read_schema(path).names:
                return None
            v = pd.read_parquet(path, columns=["model_version"]).head(1)
    except (OSError, ValueError, KeyError):
        return None
    return None if v.empty else str(v.iloc[0, 0])


def measure(
    scored: str | Path,
    *,
    exports: Sequence[str | Path] = (),
    out_dir: str | Path = DEFAULT_OUT,
    by: str | Sequence[str] = GROUPINGS,
    validation: str | Path | None = None,
    initiator_validation: str | Path | None = None,
    compare_groups: Sequence[str] = (),
    compare_periods: Sequence[str] = (),
    settings: MeasureSettings | None = None,
    mapping: str | Path | None = None,
    csv: bool = True,
    progress: Callable[[str], None] | None = None,
) -> MeasureResult:
    """Compute every culture measure from ``scored`` (the output of ``oversight score``) and
    the ``exports`` it came from, adjusted with the confusion in ``validation`` (an
    evaluation's ``metrics.json``), and write the contract's files under ``out_dir``.

    ``initiator_validation``: entries of a labelled export (or a JSON confusion) to adjust the
    rules' initiator with. ``compare_groups``: ``"region=Wales"`` style; ``compare_periods``:
    ``"2024-01:2024-06,2024-07:2024-12"`` style.
    """
    settings = settings or MeasureSettings()
    groupings = parse_by(by)
    specs: list[GroupComparison | PeriodComparison] = [parse_group(c) for c in compare_groups]
    specs += [parse_periods(c) for c in compare_periods]
    out = Path(out_dir)
    io.check_writable(out)
    scored_path = Path(scored)

    entries = read_scored(scored_path)
    contacts = read_contacts(exports, mapping=mapping) if exports else None
    tables = build_tables(entries, contacts)
    if progress:
        progress("read")
    val = load_validation(validation) if settings.adjust else Validation()
    if initiator_validation is not None and settings.adjust:
        counts = initiator_confusion(initiator_validation)
        val.confusions["initiated_by"] = counts
        val.scores["initiated_by"] = scores_from_confusion(counts)
        val.sources["initiated_by"] = str(initiator_validation)

    rows, engine = compute(tables, val, settings, by=groupings, progress=progress)
    comparisons = compare(engine, specs)
    ev_groupings = []
    for b in dict.fromkeys(["overall", *groupings]):
        g = make_grouping(tables, b)
        ev_groupings.append((g.by, g.names, g.codes(tables.events)))
    delays = io.delay_histogram(
        engine.delays, ev_groupings, threshold=settings.suppression_threshold
    )

    warnings = _warnings(val, settings, tables.has_export)
    headline_cols = [
        "measure", "category", "estimate", "lower", "upper", "raw_estimate", "n", "adjusted",
    ]  # fmt: skip
    headline = rows.loc[rows["by"] == "overall", headline_cols]
    summary = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "inputs": {
            "scored": io.fingerprint(scored_path),
            "exports": [io.fingerprint(p) for p in exports],
            "validation": str(validation) if validation is not None else None,
            "initiator_validation": str(initiator_validation) if initiator_validation else None,
            "cases": tables.n_cases,
            "entries": len(tables.entries),
            "high_rosh_case_quarters": len(tables.quarters),
            "risk_events": len(tables.events),
        },
        "model": {
            "version": _model_version(scored_path),
            "validation": {h: val.scores[h] for h in val.scores},
            "adjusted_heads": sorted(engine.m),
        },
        "settings": {
            **asdict(settings),
            "bootstrap": settings.n_boot,
            "by": groupings,
        },
        "definitions": definitions(
            window=settings.response_window_days, lookahead=settings.lookahead_days
        ),
        "headline": io.clean_json(headline.astype(object).to_dict("records")),
        "limitations": _limitations(settings) + warnings,
    }
    paths: dict[str, str] = {}
    for stem, frame, schema in (
        (io.MEASURES_STEM, rows, io.MEASURES_SCHEMA),
        (io.COMPARISONS_STEM, comparisons, io.COMPARISONS_SCHEMA),
    ):
        for p in io.write_table(frame, schema, out, stem, csv=csv):
            paths[p.name] = str(p)
    delays_path = out / io.DELAYS_FILE
    io._atomic(delays_path, lambda tmp: pq.write_table(io._table(delays, io.DELAYS_SCHEMA), tmp))
    paths[io.DELAYS_FILE] = str(delays_path)
    summary["outputs"] = dict(paths)
    paths[io.SUMMARY_FILE] = str(io.write_summary(io.clean_json(summary), out))
    return MeasureResult(rows, comparisons, delays, summary, paths, warnings)
