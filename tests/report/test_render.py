"""The HTML report from hand-made measure tables: self-contained, figures as in the tables,
small groups not shown, nothing identifying, every section present."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timezone
from html import unescape
from pathlib import Path

import pandas as pd
import pytest

from pipeline.report import read_measures, render_html, render_report
from tests.report.conftest import SUMMARY, make_measures, write_measures

WHEN = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    folder = write_measures(tmp_path_factory.mktemp("m") / "measures")
    evaluation = tmp_path_factory.mktemp("evaluation")
    (evaluation / "metrics.json").write_text(
        json.dumps(
            {
                "content": {
                    "n": 50,
                    "labels": ["defensive", "substantive"],
                    "macro_f1": 0.8,
                    "macro_f1_ci": {"low": 0.7, "high": 0.9},
                    "accuracy": 0.82,
                    "ece": 0.03,
                    "confusion": [[18, 2], [7, 23]],
                }
            }
        ),
        "utf-8",
    )
    out = folder.parent / "report.html"
    result = render_report(folder, out=out, evaluation_dir=evaluation, generated=WHEN)
    return result, out.read_text("utf-8")


def _text(html: str) -> str:
    """Visible text, roughly: tags out, whitespace squeezed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_self_contained_no_network(rendered):
    result, html = rendered
    assert result.path.exists() and result.bytes == len(html.encode("utf-8"))
    assert not list(result.path.parent.glob(".report.html.*"))  # no temp file left behind
    assert result.path.stat().st_mode & 0o777 == 0o644  # readable by whoever it is shared with
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    for pattern in (r"<link\b", r"<img\b[^>]*src=\"(?!data:)", r"<script\b[^>]*\bsrc=", r"@import"):
        assert not re.search(pattern, html, re.IGNORECASE), pattern
    # The only URLs are XML namespaces inside the inline SVGs.
    urls = set(re.findall(r"https?://[^\s\"')]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def test_every_chart_is_inline_svg_with_alt_text(rendered):
    result, html = rendered
    assert result.charts == [
        "headline",
        "by-region",
        "by-pdu",
        "trends",
        "type-mix",
        "delays",
        "comparisons",
    ]
    figures = re.findall(r'<figure class="chart".*?</figure>', html, re.DOTALL)
    assert len(figures) == len(result.charts)
    for figure in figures:
        assert '<svg class="chart-svg" role="img"' in figure
        assert re.search(r"<title id=\"[\w-]+-title\">[^<]{20,}</title>", figure)
        assert "<figcaption>" in figure
    # Ids are unique across the page (matplotlib's are unique per figure only).
    ids = Counter(re.findall(r'\bid="([^"]+)"', html))
    assert not [i for i, n in ids.items() if n > 1]


def test_headline_figures_match_the_tables(rendered):
    _, html = rendered
    text = _text(html)
    # Reactive share: 0.30 [0.25, 0.35], raw 0.33, n = 455, adjusted.
    card = re.search(r'data-measure="reactive_share".*?</div>\s*</div>', html, re.DOTALL).group(0)
    card_text = _text(card)
    assert "30.0%" in card_text and "25.0–35.0%" in card_text and "n = 455" in card_text
    assert "adjusted" in card_text and "raw" in card_text and "33.0%" in card_text
    # An unadjusted measure shows no separate raw figure.
    card = re.search(r'data-measure="catch_all_share".*?</div>\s*</div>', html, re.DOTALL).group(0)
    assert "raw" not in _text(card).replace("raw share", "")
    assert "4.0 days" in text and "3.0–5.0 days" in text  # the median delay, in days
    assert "Entries raised at the PP's request, of known initiators." in text  # JSON definition


def test_small_groups_are_not_shown(rendered):
    _, html = rendered
    text = _text(html)
    assert "n &lt; 10" in html and "not shown" in text and "n < 10" in text
    # Tiny Region (n = 6) is named only as hidden: none of its figures reach the page.
    region_table = re.search(r'id="by-region".*?</section>', html, re.DOTALL).group(0)
    tiny = re.search(r"Tiny Region</th>(.*?)</tr>", region_table, re.DOTALL).group(1)
    assert "%" not in tiny and tiny.count("n &lt; 10") == 7  # six shares and the median delay
    assert "Tiny Region (n &lt; 10, not shown)" in html  # named as such in the chart
    assert not re.search(r"n = [0-9]\b", text)  # no count under 10 anywhere
    # The suppressed comparison says so instead of a difference.
    assert "n &lt; 10 in one group, not shown" in html


def test_sections_and_methods(rendered):
    _, html = rendered
    for anchor in (
        "headline",
        "by-region",
        "by-pdu",
        "by-team",
        "by-rosh_level",
        "trends",
        "type-mix",
        "responsiveness",
        "comparisons",
        "methods",
        "glossary",
    ):
        assert f'id="{anchor}"' in html, anchor
    text = _text(html)
    assert "baseline@abc123" in text
    assert "Rogan" in text and "rogan-gladen+bootstrap" in text
    assert "Initiator comes from rules, not the classifier." in text  # limitations from JSON
    assert "02 January 2026" in text
    # The evaluation folder's confusion matrix, row-normalised: 18/20 and 23/30.
    assert "Confusion matrix: content" in text and "90%" in text and "77%" in text
    # RoSH in its natural order, not alphabetical.
    rosh = re.search(r'id="by-rosh_level".*?</section>', html, re.DOTALL).group(0)
    order = [g for g in re.findall(r'<th scope="row">([^<]+)</th>', rosh)]
    assert order == ["Low", "Medium", "High", "Very High"]


def test_nothing_identifying_and_labels_escaped(tmp_path):
    measures, comparisons, delays = make_measures()
    measures.loc[measures["group"] == "Wales", "group"] = 'Wales <script>alert("x")</script> & Co'
    folder = write_measures(tmp_path / "m", measures=measures)
    html, _ = render_html(read_measures(folder), generated=WHEN)
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert not re.search(r"\b[A-Z]\d{6}\b", html)  # nothing shaped like a CRN


def test_empty_levels_and_tables_are_left_out(tmp_path):
    measures, comparisons, delays = make_measures()
    only_overall = measures[measures["by"] == "overall"]
    folder = write_measures(
        tmp_path / "m",
        measures=only_overall,
        comparisons=comparisons.iloc[0:0],
        delays=delays.iloc[0:0],
    )
    result = render_report(folder, out=tmp_path / "r.html", generated=WHEN)
    html = result.path.read_text("utf-8")
    assert result.charts == ["headline", "type-mix"]
    assert 'id="by-region"' not in html and 'id="trends"' not in html
    assert "No comparisons in the measures folder." in html
    assert "No delay distribution in the measures folder" in html


def test_an_all_suppressed_measure_is_not_drawn(tmp_path):
    measures, _, _ = make_measures()
    measures.loc[measures["measure"] == "reactive_share", "n"] = 3
    folder = write_measures(tmp_path / "m", measures=measures)
    html, charts = render_html(read_measures(folder), generated=WHEN)
    card = re.search(r'data-measure="reactive_share".*?</div>\s*</div>', html, re.DOTALL).group(0)
    assert "not shown" in card and "%" not in _text(card).split("Entries")[0]
    headline = next(c for c in charts if c.key == "headline")
    assert "Reactive share" not in headline.svg


def test_same_tables_same_report(tmp_path, measures_dir):
    a = render_report(measures_dir, out=tmp_path / "a.html", generated=WHEN).path.read_bytes()
    b = render_report(measures_dir, out=tmp_path / "b.html", generated=WHEN).path.read_bytes()
    assert a == b


def test_summary_without_optional_parts(tmp_path):
    bare = {"settings": {"response_window_days": 7}}
    folder = write_measures(tmp_path / "m", summary=bare)
    html, _ = render_html(read_measures(folder), generated=WHEN)
    text = _text(html)
    assert "not recorded" in text  # no model version
    assert "Risk events answered within 7 days" in text
    assert isinstance(pd.read_parquet(Path(folder) / "measures.parquet"), pd.DataFrame)
    assert SUMMARY["model"]["version"] not in text
