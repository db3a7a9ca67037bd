"""Render the evaluator's report: one self-contained HTML file from a measures folder.

The file needs nothing beside it: styles, charts (inline SVG) and the small script that checks
the charts drew are all inside, and a Content-Security-Policy forbids every network request, so
it opens the same from a shared drive, an e-mail attachment or a locked-down laptop.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from pipeline import __version__
from pipeline.errors import ReportInputError
from pipeline.report import charts
from pipeline.report.tables import MeasureSet, read_measures

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_TITLE = "Management oversight culture: reactive and defensive oversight"

#: Display order and names of the measures (the contract's names are the keys).
MEASURE_LABELS: dict[str, str] = {
    "reactive_share": "Reactive share",
    "defensive_share": "Defensive share",
    "coverage_substantive": "Coverage: cases with substantive oversight",
    "quarterly_review_high_rosh": "High-RoSH quarters reviewed",
    "response_within_days": "Risk events answered within the window",
    "median_response_delay_days": "Median delay to a response",
    "catch_all_share": "Filed under catch-all codes",
    "type_mix": "Type mix",
}
#: Shorter names for chart panels, where space is tight.
CHART_LABELS: dict[str, str] = {
    "coverage_substantive": "Cases with substantive oversight",
    "quarterly_review_high_rosh": "High-RoSH quarters reviewed",
    "catch_all_share": "Filed under catch-all codes",
}
#: Used when measures.json brings no definitions of its own.
MEASURE_DEFINITIONS: dict[str, str] = {
    "reactive_share": "Oversight entries raised at the practitioner's request, of all entries "
    "whose initiator is known.",
    "defensive_share": "Defensive entries (recording that oversight happened, without "
    "case-specific analysis) of all oversight entries.",
    "coverage_substantive": "Cases with at least one substantive oversight entry in the period, "
    "of all cases with oversight entries.",
    "quarterly_review_high_rosh": "Quarters of high or very high RoSH cases that hold a "
    "review, of all such case-quarters.",
    "response_within_days": "Risk events (police call-out, arrest, domestic abuse, child "
    "protection concern, lost accommodation, recall consideration) followed by a risk or "
    "enforcement oversight entry within the response window.",
    "median_response_delay_days": "Median days from a risk event to the first risk or "
    "enforcement oversight entry, among events that drew one.",
    "catch_all_share": "Oversight entries filed under the catch-all codes MO1 or C002.",
    "type_mix": "Oversight entries of each touch-point type, of all oversight entries.",
}
#: Methods named in the tables, in words.
METHOD_NOTES: dict[str, str] = {
    "rogan-gladen+bootstrap": "the share of predicted labels corrected by inverting the "
    "model's validated confusion matrix (Rogan-Gladen; the matrix form for more than two "
    "classes); interval from a bootstrap by case that also redraws the validation confusion",
    "posterior+bootstrap": "'at least one' measures (coverage, quarterly review, response): "
    "each case, quarter or event counts with the probability that at least one of its entries "
    "truly is of the kind wanted, from the validated confusion matrix; bootstrap by case that "
    "also redraws the validation confusion",
    "posterior+background+bootstrap": "as posterior+bootstrap, less the share of units that "
    "would have drawn an entry of that kind within the window by chance (the background rate "
    "in the weeks before each event); bootstrap by case that also redraws the validation "
    "confusion",
    "wilson-deff": "a plain share with its Wilson interval, widened for entries clustered "
    "within cases (design effect); no classifier correction",
    "wilson": "a plain share with its Wilson score interval; no classifier correction",
    "bootstrap-median": "the median with a bootstrap percentile interval (resampling cases)",
}
LEVEL_TITLES: dict[str, str] = {
    "region": "region",
    "pdu": "PDU",
    "team": "team",
    "rosh_level": "RoSH level",
    "month": "month",
}
# Measures drawn per group level; tables beside the charts hold all of them.
REGION_PANELS = (
    "reactive_share",
    "defensive_share",
    "coverage_substantive",
    "quarterly_review_high_rosh",
    "response_within_days",
    "catch_all_share",
)
PDU_PANELS = ("reactive_share", "defensive_share", "response_within_days")
TREND_PANELS = ("reactive_share", "defensive_share", "response_within_days", "catch_all_share")
GLOSSARY: tuple[tuple[str, str], ...] = (
    (
        "Adjusted / raw",
        "Raw: the share of entries the classifier labelled so. Adjusted: the same "
        "share corrected for the classifier's known error rates, from its validation.",
    ),
    (
        "95% interval",
        "The range of values compatible with the data: intervals made this way "
        "hold the true figure 95 times in 100. Wider when a group is small.",
    ),
    (
        "Defensive entry",
        "Records that oversight happened, to evidence or protect, without "
        "case-specific analysis: bare endorsement, 'noted', 'discussed, NFA', retrospective "
        "sign-off.",
    ),
    (
        "Substantive entry",
        "Engages with the case: names risk or need factors, gives a rationale, "
        "sets actions with an owner or timescale, or a review point.",
    ),
    (
        "Reactive oversight",
        "Oversight that happens because the practitioner raised a concern, "
        "rather than because the SPO or a schedule started it.",
    ),
    ("PDU", "Probation Delivery Unit, the local unit within a region."),
    ("PP / SPO", "Probation practitioner / senior probation officer (the PP's manager)."),
    (
        "RoSH",
        "Risk of serious harm: low, medium, high, very high. High and very high RoSH cases "
        "are meant to be reviewed every quarter.",
    ),
    (
        "Risk event",
        "A police call-out, arrest, domestic abuse incident, child protection "
        "concern, lost accommodation or recall consideration.",
    ),
    (
        "Catch-all codes",
        "MO1 'Management Oversight - General' and C002 'Management Oversight': "
        "codes that say nothing about the kind of oversight.",
    ),
    (
        "SBAR",
        "Situation, Background, Assessment, Recommendation: the structure Wales' 'human "
        "factors' model uses to present concerns.",
    ),
    (
        "Suppressed",
        "A group with fewer entries than the threshold is not shown, so that no "
        "person or case can be singled out.",
    ),
)
REPORT_LIMITATIONS: tuple[str, ...] = (
    "The figures describe what was written in case notes, not the quality of the supervision "
    "that took place: oversight that was never recorded cannot be measured.",
    "Adjusted estimates assume the classifier errs on these notes as it did on its validation "
    "data; notes written differently (another region's habits, a new template) can break that.",
    "Groups with fewer entries than the suppression threshold are not shown; their entries "
    "still count in the overall figures.",
)


@dataclass
class ReportResult:
    """What ``render_report`` wrote."""

    path: Path
    charts: list[str] = field(default_factory=list)
    suppressed_rows: int = 0
    bytes: int = 0


# -- formatting -------------------------------------------------------------------------------


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_value(x: Any, unit: str, *, digits: int = 1) -> str:
    """A share as a percentage, days as days; blank values as an en dash."""
    if _nan(x):
        return "–"
    if unit == "days":
        return f"{x:.{digits}f}"
    return f"{x * 100:.{digits}f}%"


def fmt_interval(lo: Any, hi: Any, unit: str) -> str:
    if _nan(lo) or _nan(hi):
        return "no interval"
    if unit == "days":
        return f"{lo:.1f}–{hi:.1f} days"
    return f"{lo * 100:.1f}–{hi * 100:.1f}%"


def _cell(row: pd.Series | None, threshold: int) -> dict[str, Any]:
    if row is None:
        return {"text": "–", "sub": "", "suppressed": False, "empty": True}
    if row["suppressed"]:
        return {"text": f"n < {threshold}", "sub": "not shown", "suppressed": True, "empty": False}
    unit = row["unit"] or "share"
    text = fmt_value(row["estimate"], unit)
    if unit == "days" and text != "–":
        text += " d"
    return {
        "text": text,
        "sub": f"{fmt_interval(row['lower'], row['upper'], unit)} · n = {int(row['n']):,}",
        "suppressed": False,
        "empty": False,
    }


# -- sections ---------------------------------------------------------------------------------


def _order(measures: Sequence[str]) -> list[str]:
    known = [m for m in MEASURE_LABELS if m in measures]
    return known + sorted(set(measures) - set(known))


def _headline(
    ms: MeasureSet, definitions: dict[str, str], labels: dict[str, str]
) -> list[dict[str, Any]]:
    overall = ms.measures[(ms.measures["by"] == "overall") & ms.measures["category"].isna()]
    cards = []
    for measure in _order(list(overall["measure"].unique())):
        row = overall[overall["measure"] == measure].iloc[0]
        unit = row["unit"] or "share"
        cards.append(
            {
                "measure": measure,
                "label": labels.get(measure, measure),
                "definition": definitions.get(measure, ""),
                "suppressed": bool(row["suppressed"]),
                "value": fmt_value(row["estimate"], unit) + (" days" if unit == "days" else ""),
                "interval": fmt_interval(row["lower"], row["upper"], unit),
                "raw": fmt_value(row["raw_estimate"], unit) + (" days" if unit == "days" else ""),
                "raw_interval": fmt_interval(row["raw_lower"], row["raw_upper"], unit),
                "show_raw": bool(row["adjusted"]) and not _nan(row["raw_estimate"]),
                "adjusted": bool(row["adjusted"]),
                "method": row["method"] or "",
                "n": None if _nan(row["n"]) else int(row["n"]),
            }
        )
    return cards


def _wide_table(ms: MeasureSet, by: str, labels: dict[str, str]) -> dict[str, Any] | None:
    frame = ms.measures[(ms.measures["by"] == by) & ms.measures["category"].isna()]
    if frame.empty:
        return None
    columns = _order(list(frame["measure"].unique()))
    groups = charts.order_groups(by, frame["group"].dropna().unique())
    lookup = {(r["measure"], r["group"]): r for _, r in frame.iterrows()}
    rows = [
        {"group": g, "cells": [_cell(lookup.get((m, g)), ms.threshold) for m in columns]}
        for g in groups
    ]
    hidden = sum(1 for r in rows for c in r["cells"] if c["suppressed"])
    return {
        "columns": [labels.get(m, m) for m in columns],
        "rows": rows,
        "hidden": hidden,
        "n_groups": len(groups),
    }


def _category_rows(ms: MeasureSet, measure: str) -> list[dict[str, Any]]:
    frame = ms.measures[
        (ms.measures["measure"] == measure)
        & (ms.measures["by"] == "overall")
        & ms.measures["category"].notna()
    ]
    return [
        {
            "category": r["category"],
            **_cell(r, ms.threshold),
            "raw": fmt_value(r["raw_estimate"], r["unit"] or "share"),
            "adjusted": bool(r["adjusted"]),
        }
        for _, r in frame.iterrows()
    ]


def _delay_table(ms: MeasureSet, window: int, lookahead: int | None) -> list[dict[str, Any]]:
    frame = ms.delays[ms.delays["by"] == "overall"]
    total = float(frame["count"].sum())
    if not total:
        return []
    d = frame["delay_days"]
    bands = [
        (f"0–{window} days (in time)", d.notna() & (d <= window)),
        (f"{window + 1}–14 days", d.notna() & (d > window) & (d <= 14)),
        ("15–30 days", d.notna() & (d > 14) & (d <= 30)),
        ("over 30 days", d.notna() & (d > 30)),
        (
            f"no response within {lookahead} days" if lookahead else "no response",
            d.isna(),
        ),
    ]
    rows = []
    for name, mask in bands:
        count = float(frame.loc[mask, "count"].sum())
        rows.append({"band": name, "count": f"{int(count):,}", "share": f"{count / total:.1%}"})
    return rows


def _comparisons(ms: MeasureSet, labels: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for _, r in ms.comparisons.iterrows():
        unit = "days" if r["measure"] == "median_response_delay_days" else "share"
        suffix = " days" if unit == "days" else ""
        diff = r["difference"]
        rows.append(
            {
                "measure": labels.get(r["measure"], r["measure"])
                + (f" ({r['category']})" if r["category"] else ""),
                "comparison": r["comparison"],
                "a": f"{r['group_a']}: {fmt_value(r['estimate_a'], unit)}{suffix}",
                "b": f"{r['group_b']}: {fmt_value(r['estimate_b'], unit)}{suffix}",
                "suppressed": bool(r["suppressed"]),
                "difference": "–"
                if _nan(diff)
                else (f"{diff:+.1f} days" if unit == "days" else f"{diff * 100:+.1f} pts"),
                "interval": "–"
                if _nan(r["lower"])
                else (
                    f"{r['lower']:+.1f} to {r['upper']:+.1f}"
                    if unit == "days"
                    else f"{r['lower'] * 100:+.1f} to {r['upper'] * 100:+.1f}"
                ),
                "n": "–" if r["suppressed"] else f"{int(r['n_a']):,} / {int(r['n_b']):,}",
                "adjusted": bool(r["adjusted"]),
            }
        )
    return rows


def _evaluation(folder: Path | None) -> dict[str, Any] | None:
    """Validation scores and confusion matrices from an ``oversight evaluate`` folder."""
    if folder is None:
        return None
    path = Path(folder) / "metrics.json"
    if not path.exists():
        raise ReportInputError("no metrics.json in the evaluation folder", path=str(path))
    try:
        metrics = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"not valid JSON (line {exc.lineno})", path=str(path)) from None
    heads = []
    for head, m in metrics.items():
        if not isinstance(m, dict) or "confusion" not in m or "labels" not in m:
            continue
        labels = list(m["labels"])
        matrix = []
        for label, counts in zip(labels, m["confusion"], strict=False):
            total = sum(counts) or 1
            matrix.append(
                {
                    "label": label,
                    "cells": [f"{c / total:.0%}" for c in counts],
                    "diag": [i == labels.index(label) for i in range(len(counts))],
                    "n": sum(counts),
                }
            )
        ci = m.get("macro_f1_ci") or {}
        heads.append(
            {
                "head": head,
                "n": m.get("n"),
                "macro_f1": m.get("macro_f1"),
                "ci": (ci.get("low"), ci.get("high")),
                "accuracy": m.get("accuracy"),
                "ece": m.get("ece"),
                "labels": labels,
                "matrix": matrix,
            }
        )
    return {"path": str(folder), "heads": heads}


def build_context(
    ms: MeasureSet,
    *,
    evaluation_dir: str | Path | None = None,
    title: str = DEFAULT_TITLE,
    generated: datetime | None = None,
) -> tuple[dict[str, Any], list[charts.Chart]]:
    """Everything the template shows, and the charts drawn for it."""
    summary = ms.summary
    settings = summary.get("settings") or {}
    window = int(settings.get("response_window_days", 5))
    definitions = {**MEASURE_DEFINITIONS, **(summary.get("definitions") or {})}
    m = ms.measures
    labels = dict(MEASURE_LABELS)
    labels["response_within_days"] = f"Risk events answered within {window} days"
    short = {**labels, **CHART_LABELS}
    short["response_within_days"] = f"Answered within {window} days"

    overall = m[(m["by"] == "overall") & m["category"].isna()]
    overall_est = dict(zip(overall["measure"], overall["estimate"], strict=True))
    drawn: list[charts.Chart] = []

    def add(chart: charts.Chart | None) -> charts.Chart | None:
        if chart is not None:
            drawn.append(chart)
        return chart

    head_rows = overall[(overall["unit"] == "share") & ~overall["suppressed"]].copy()
    head_rows["label_key"] = head_rows["measure"]
    head_rows = head_rows.set_index("measure").loc[_order(list(head_rows["measure"]))].reset_index()
    headline_chart = (
        add(charts.draw(charts.headline_chart, head_rows, labels=labels))
        if len(head_rows)
        else None
    )

    levels = []
    for by in ("region", "pdu", "team", "rosh_level"):
        table = _wide_table(ms, by, labels)
        if table is None:
            continue
        panels = {"region": REGION_PANELS, "pdu": PDU_PANELS}.get(by)
        chart = None
        if panels:
            chart = add(
                charts.draw(
                    charts.group_chart,
                    m,
                    by=by,
                    panels=panels,
                    labels=short,
                    overall=overall_est,
                    title_by=LEVEL_TITLES[by],
                    threshold=ms.threshold,
                )
            )
        levels.append({"by": by, "title": LEVEL_TITLES[by], "table": table, "chart": chart})

    trend = add(charts.draw(charts.trend_chart, m, panels=TREND_PANELS, labels=short))
    mix_rows = m[(m["measure"] == "type_mix") & (m["by"] == "overall") & m["category"].notna()]
    def_rows = m[
        (m["measure"] == "defensive_share") & (m["by"] == "overall") & m["category"].notna()
    ]
    mix_chart = add(charts.draw(charts.type_mix_chart, mix_rows, def_rows))
    delay = add(charts.draw(charts.delay_chart, ms.delays, window=window))
    comparison = add(charts.draw(charts.comparison_chart, ms.comparisons, labels=short))

    methods_used = sorted({x for x in m["method"].dropna().unique() if x})
    model = summary.get("model") or {}
    validation = model.get("validation") or {}
    context = {
        "title": title,
        "generated": (generated or datetime.now(timezone.utc)).strftime("%d %B %Y, %H:%M UTC"),
        "measured": summary.get("generated"),
        "version": __version__,
        "threshold": ms.threshold,
        "window": window,
        "confidence": settings.get("confidence", 0.95),
        "settings": settings,
        "headline": _headline(ms, definitions, labels),
        "headline_chart": headline_chart,
        "levels": levels,
        "trend": trend,
        "trend_table": _wide_table(ms, "month", labels),
        "mix_chart": mix_chart,
        "mix_rows": _category_rows(ms, "type_mix"),
        "defensive_by_type": _category_rows(ms, "defensive_share"),
        "delay_chart": delay,
        "delay_rows": _delay_table(ms, window, settings.get("lookahead_days")),
        "comparison_chart": comparison,
        "comparisons": _comparisons(ms, labels),
        "model": {
            "version": model.get("version") or "not recorded",
            "validation": [
                {
                    "head": head,
                    **{k: v for k, v in (scores or {}).items() if not isinstance(v, (dict, list))},
                }
                for head, scores in validation.items()
            ],
        },
        "evaluation": _evaluation(Path(evaluation_dir) if evaluation_dir else None),
        "methods_used": [{"name": x, "note": METHOD_NOTES.get(x, "")} for x in methods_used],
        "adjusted_any": bool(m["adjusted"].any()),
        "limitations": [*summary.get("limitations", []), *REPORT_LIMITATIONS],
        "definitions": [
            {"label": labels.get(k, k), "text": definitions[k]}
            for k in _order([k for k in definitions if k in set(m["measure"])])
        ],
        "glossary": GLOSSARY,
        "missing": ms.missing,
        "suppressed_rows": int(m["suppressed"].sum()),
        "n_charts": len(drawn),
    }
    return context, drawn


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every group label and string from the tables is escaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["svg"] = lambda chart: Markup(chart.svg) if chart is not None else ""
    env.filters["pct"] = lambda x: "–" if _nan(x) else f"{x * 100:.1f}%"
    env.filters["num"] = lambda x, d=3: "–" if _nan(x) else f"{x:.{d}f}"
    return env


def render_html(
    ms: MeasureSet,
    *,
    evaluation_dir: str | Path | None = None,
    title: str = DEFAULT_TITLE,
    generated: datetime | None = None,
) -> tuple[str, list[charts.Chart]]:
    """The report as one HTML string, and the charts in it."""
    context, drawn = build_context(
        ms, evaluation_dir=evaluation_dir, title=title, generated=generated
    )
    html = _environment().get_template("report.html").render(**context)
    return html, drawn


def render_report(
    measures_dir: str | Path,
    *,
    out: str | Path,
    evaluation_dir: str | Path | None = None,
    title: str = DEFAULT_TITLE,
    threshold: int | None = None,
    generated: datetime | None = None,
) -> ReportResult:
    """Read a measures folder (``oversight measure``'s output) and write the report to ``out``.

    ``evaluation_dir`` (an ``oversight evaluate`` folder) adds the validation confusion
    matrices to the methods section. The file appears atomically.
    """
    ms = read_measures(measures_dir, threshold=threshold)
    html, drawn = render_html(ms, evaluation_dir=evaluation_dir, title=title, generated=generated)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(html)
        # mkstemp makes the file private; the report holds only aggregates and is meant to be
        # shared, so give it the usual permissions.
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return ReportResult(
        path=out,
        charts=[c.key for c in drawn],
        suppressed_rows=int(ms.measures["suppressed"].sum()),
        bytes=out.stat().st_size,
    )
