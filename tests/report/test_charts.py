"""Chart functions: inline SVG with alt text, nothing drawn from nothing, reading order."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipeline.report import charts
from pipeline.report.tables import read_measures
from tests.report.conftest import make_measures, write_measures


def test_group_chart_is_accessible_svg_and_names_hidden_groups(tmp_path):
    ms = read_measures(write_measures(tmp_path / "m"))
    chart = charts.draw(
        charts.group_chart,
        ms.measures,
        by="region",
        panels=("reactive_share", "defensive_share"),
        labels={},
        overall={"reactive_share": 0.3},
        title_by="region",
    )
    assert chart.key == "by-region" and chart.svg.startswith("<svg")
    assert 'role="img"' in chart.svg and 'aria-labelledby="by-region-title"' in chart.svg
    assert "<metadata>" not in chart.svg and 'width="' not in chart.svg.split(">", 1)[0]
    # Text stays text (system fonts), and every id carries the chart's prefix.
    assert "<text" in chart.svg and "Tiny Region (n &lt; 10, not shown)" in chart.svg
    ids = re.findall(r'\bid="([^"]+)"', chart.svg)
    assert ids and all(i.startswith("by-region-") for i in ids)
    refs = re.findall(r"url\(#([^)]+)\)", chart.svg)
    assert set(refs) <= set(ids)
    # Two panels drawn: one whisker set per shown group (3 regions) in each.
    assert "2 measures by region for 4 groups" in chart.alt


def test_nothing_to_draw_gives_none():
    measures, comparisons, delays = make_measures()
    empty = measures.iloc[0:0].assign(suppressed=pd.Series(dtype=bool))
    assert (
        charts.draw(
            charts.group_chart,
            empty,
            by="region",
            panels=("reactive_share",),
            labels={},
            overall={},
            title_by="region",
        )
        is None
    )
    assert charts.draw(charts.trend_chart, empty, panels=("reactive_share",), labels={}) is None
    assert charts.draw(charts.type_mix_chart, empty, empty) is None
    assert charts.draw(charts.delay_chart, delays.iloc[0:0], window=5) is None
    all_hidden = comparisons.assign(suppressed=True)
    assert charts.draw(charts.comparison_chart, all_hidden, labels={}) is None


def test_delay_chart_counts_add_up():
    delays = pd.DataFrame(
        {"by": "overall", "group": "all", "delay_days": [0, 3, 9, np.nan], "count": [5, 5, 5, 5]}
    )
    chart = charts.draw(charts.delay_chart, delays, window=5)
    # 10 of 20 within 5 days, 5 of 20 never answered.
    assert "over 20 risk events: 50% answered within 5 days, 25% with no response" in chart.alt


def test_group_order():
    assert charts.order_groups("rosh_level", ["Very High", "Low", "High", "Medium"]) == [
        "Low",
        "Medium",
        "High",
        "Very High",
    ]
    assert charts.order_groups("month", ["2024-10", "2024-02"]) == ["2024-02", "2024-10"]
    assert charts.order_groups("region", ["Wales", "London"]) == ["London", "Wales"]


def test_dollar_signs_are_not_mathtext(tmp_path):
    measures, _, _ = make_measures()
    measures.loc[measures["group"] == "Wales", "group"] = "Cost $5 to $10 region"
    ms = read_measures(write_measures(tmp_path / "m", measures=measures))
    chart = charts.draw(
        charts.group_chart,
        ms.measures,
        by="region",
        panels=("reactive_share",),
        labels={},
        overall={},
        title_by="region",
    )
    assert "Cost $5 to $10 region" in chart.svg
