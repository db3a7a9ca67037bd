"""The evaluator's report: one self-contained HTML file from the measure tables.

::

    from pipeline.report import render_report, check_report

    result = render_report("data/processed/measures", out="data/processed/report.html")
    check_report(result.path).ok  # opens in headless Chromium: no errors, every chart drawn

The report reads only the aggregated tables ``oversight measure`` writes (and, optionally, an
``oversight evaluate`` folder for the methods section): no entries, no case identifiers, no note
text. Groups under the suppression threshold (10) are not shown.
"""

from pipeline.report.browser import BrowserCheck, check_report, find_chromium, screenshot
from pipeline.report.render import (
    DEFAULT_TITLE,
    ReportResult,
    build_context,
    render_html,
    render_report,
)
from pipeline.report.tables import DEFAULT_SUPPRESSION_THRESHOLD, MeasureSet, read_measures

__all__ = [
    "DEFAULT_SUPPRESSION_THRESHOLD",
    "DEFAULT_TITLE",
    "BrowserCheck",
    "MeasureSet",
    "ReportResult",
    "build_context",
    "check_report",
    "find_chromium",
    "read_measures",
    "render_html",
    "render_report",
    "screenshot",
]
