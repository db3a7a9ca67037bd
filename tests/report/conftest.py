"""Hand-made measure folders that follow the measure contract (pipeline/report/tables.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.labels import OversightType

REGIONS = {"Wales": 140, "London": 220, "North East": 95, "Tiny Region": 6}
PDUS = {"Cardiff": 70, "Lewisham": 120, "Teesside": 60, "Small PDU": 4}
MONTHS = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
SHARE_MEASURES = (
    "reactive_share",
    "defensive_share",
    "coverage_substantive",
    "quarterly_review_high_rosh",
    "response_within_days",
    "catch_all_share",
)
ADJUSTED = {"reactive_share", "defensive_share", "coverage_substantive", "type_mix"}


def row(measure, by, group, estimate, n, *, category=None, unit="share", half=0.05):
    """One contract row; figures blank when n < 10, like the measure step writes them."""
    suppressed = n < 10
    adjusted = measure in ADJUSTED
    raw = estimate + (0.03 if adjusted else 0.0)
    value = {
        "measure": measure,
        "category": category,
        "by": by,
        "group": group,
        "unit": unit,
        "estimate": estimate,
        "lower": estimate - half,
        "upper": estimate + half,
        "raw_estimate": raw,
        "raw_lower": raw - half,
        "raw_upper": raw + half,
        "adjusted": adjusted,
        "method": "rogan-gladen+bootstrap"
        if adjusted
        else ("bootstrap-median" if unit == "days" else "wilson"),
        "n": n,
        "suppressed": suppressed,
    }
    if suppressed:
        for key in ("estimate", "lower", "upper", "raw_estimate", "raw_lower", "raw_upper"):
            value[key] = None
    return value


def make_measures() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = []
    for i, measure in enumerate(SHARE_MEASURES):
        base = 0.3 + 0.08 * i
        rows.append(row(measure, "overall", "all", base, 455))
        for j, (region, n) in enumerate(REGIONS.items()):
            rows.append(row(measure, "region", region, base + 0.05 * j - 0.05, n))
        for j, (pdu, n) in enumerate(PDUS.items()):
            rows.append(row(measure, "pdu", pdu, base - 0.04 * j + 0.02, n))
        for j, month in enumerate(MONTHS):
            rows.append(row(measure, "month", month, base + 0.02 * (j % 3), 60 + j))
        for j, level in enumerate(("Low", "Medium", "High", "Very High")):
            rows.append(row(measure, "rosh_level", level, base + 0.01 * j, [200, 150, 90, 8][j]))
        for team in ("Team A", "Team B"):
            rows.append(row(measure, "team", team, base, 30))
    rows.append(
        row("median_response_delay_days", "overall", "all", 4.0, 120, unit="days", half=1.0)
    )
    for region, n in REGIONS.items():
        rows.append(
            row("median_response_delay_days", "region", region, 5.0, n, unit="days", half=1.5)
        )
    types = list(OversightType)
    mix = [0.2, 0.25, 0.2, 0.1, 0.15, 0.1]
    for t, share in zip(types, mix, strict=True):
        rows.append(row("type_mix", "overall", "all", share, 455, category=t.value, half=0.03))
        n = 8 if t is OversightType.ENFORCEMENT else 80
        rows.append(row("defensive_share", "overall", "all", 0.4 + share, n, category=t.value))
    measures = pd.DataFrame(rows)
    comparisons = pd.DataFrame(
        [
            {
                "measure": "defensive_share",
                "category": None,
                "comparison": "region: Wales vs others",
                "group_a": "Wales",
                "group_b": "others",
                "estimate_a": 0.3,
                "estimate_b": 0.45,
                "difference": -0.15,
                "lower": -0.22,
                "upper": -0.08,
                "n_a": 140,
                "n_b": 315,
                "adjusted": True,
                "suppressed": False,
            },
            {
                "measure": "reactive_share",
                "category": None,
                "comparison": "period: 2024-H1 vs 2024-H2",
                "group_a": "2024-H1",
                "group_b": "2024-H2",
                "estimate_a": 0.6,
                "estimate_b": 0.58,
                "difference": 0.02,
                "lower": -0.05,
                "upper": 0.09,
                "n_a": 200,
                "n_b": 255,
                "adjusted": True,
                "suppressed": False,
            },
            {
                "measure": "reactive_share",
                "category": None,
                "comparison": "region: Tiny Region vs others",
                "group_a": "Tiny Region",
                "group_b": "others",
                "estimate_a": None,
                "estimate_b": None,
                "difference": None,
                "lower": None,
                "upper": None,
                "n_a": 6,
                "n_b": 449,
                "adjusted": True,
                "suppressed": True,
            },
        ]
    )
    delays = pd.DataFrame(
        [
            *(
                {"by": "overall", "group": "all", "delay_days": d, "count": c}
                for d, c in [(0, 10), (1, 14), (2, 12), (3, 9), (5, 8), (8, 6), (20, 3), (45, 2)]
            ),
            {"by": "overall", "group": "all", "delay_days": None, "count": 25},
            {"by": "region", "group": "Wales", "delay_days": 1, "count": 12},
            {"by": "region", "group": "Tiny Region", "delay_days": 2, "count": 3},
        ]
    )
    delays["delay_days"] = delays["delay_days"].astype("Int64")
    return measures, comparisons, delays


SUMMARY = {
    "generated": "2026-11-23T12:00:00+00:00",
    "inputs": {"scored": "scored.parquet"},
    "model": {
        "version": "baseline@abc123",
        "validation": {
            "oversight_type": {"macro_f1": 0.91, "accuracy": 0.92, "n": 300},
            "content": {"macro_f1": 0.88, "accuracy": 0.9, "n": 300},
        },
    },
    "settings": {
        "response_window_days": 5,
        "suppression_threshold": 10,
        "confidence": 0.95,
        "bootstrap": 200,
        "seed": 0,
    },
    "definitions": {"reactive_share": "Entries raised at the PP's request, of known initiators."},
    "headline": [],
    "limitations": ["Initiator comes from rules, not the classifier."],
}


def write_measures(
    folder: Path, *, measures=None, comparisons=None, delays=None, summary=None
) -> Path:
    """Write a measures folder as ``oversight measure`` does (Parquet, CSV twins, JSON)."""
    default = make_measures()
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in zip(
        ("measures", "comparisons", "delays"),
        (
            default[0] if measures is None else measures,
            default[1] if comparisons is None else comparisons,
            default[2] if delays is None else delays,
        ),
        strict=True,
    ):
        frame.to_parquet(folder / f"{name}.parquet", index=False)
        if name != "delays":
            frame.to_csv(folder / f"{name}.csv", index=False)
    (folder / "measures.json").write_text(json.dumps(summary or SUMMARY), "utf-8")
    return folder


@pytest.fixture
def measures_dir(tmp_path) -> Path:
    return write_measures(tmp_path / "measures")
