"""Comparisons: syntax, group against the rest, two periods, suppression."""

from __future__ import annotations

import pytest

from pipeline.errors import MeasureOptionError
from pipeline.measure.compare import compare, parse_group, parse_periods
from pipeline.measure.measures import Engine, MeasureSettings
from pipeline.measure.tables import build_tables
from pipeline.measure.validation import Validation
from tests.measure.handmade import Book


def test_parse_group_and_periods():
    g = parse_group("Region = Wales")
    assert (g.by, g.value, g.label) == ("region", "Wales", "region: Wales vs others")
    assert parse_group("rosh=High").by == "rosh_level"
    p = parse_periods("2024-01:2024-06, 2024-07:2024-12")
    assert p.a == ("2024-01", "2024-06") and p.b == ("2024-07", "2024-12")
    assert parse_periods("2024-01,2024-02").label == "period: 2024-01 vs 2024-02"
    for bad in ("Wales", "crn=X123456", "region="):
        with pytest.raises(MeasureOptionError):
            parse_group(bad)
    for bad in ("2024-01:2024-06", "2024-13:2024-14,2024-01", "2024-06:2024-01,2024-07"):
        with pytest.raises(MeasureOptionError):
            parse_periods(bad)


def _book() -> Book:
    """Wales: 12 entries, 3 defensive. Elsewhere: 20 entries, 15 defensive. January: 16 entries
    (all of Wales' first 6 and 10 elsewhere)."""
    b = Book()
    for i in range(12):
        b.case(f"W{i:06d}", region="Wales").entry(
            5 if i < 6 else 40, content="defensive" if i < 3 else "substantive"
        )
    for i in range(20):
        b.case(f"E{i:06d}", region="London").entry(
            5 if i < 10 else 40, content="defensive" if i < 15 else "substantive"
        )
    return b


def _engine(threshold: int = 10) -> Engine:
    b = _book()
    tables = build_tables(b.scored(), b.export())
    return Engine(
        tables, Validation(), MeasureSettings(n_boot=200, suppression_threshold=threshold)
    )


def _row(frame, measure, category=None):
    sel = frame["measure"] == measure
    sel &= frame["category"].isna() if category is None else frame["category"] == category
    assert sel.sum() == 1
    return frame.loc[sel].iloc[0]


def test_group_against_the_rest():
    out = compare(_engine(), [parse_group("region=Wales")])
    d = _row(out, "defensive_share")
    assert (d["group_a"], d["group_b"]) == ("Wales", "others")
    assert d["estimate_a"] == pytest.approx(3 / 12) and d["estimate_b"] == pytest.approx(15 / 20)
    assert d["difference"] == pytest.approx(3 / 12 - 15 / 20)
    assert d["lower"] < d["difference"] < d["upper"] < 0  # a clear difference
    assert (d["n_a"], d["n_b"]) == (12, 20) and not d["suppressed"]
    cov = _row(out, "coverage_substantive")
    assert cov["difference"] == pytest.approx(9 / 12 - 5 / 20)


def test_periods_and_suppression():
    out = compare(_engine(), [parse_periods("2024-01,2024-02")])
    d = _row(out, "defensive_share")
    # January: Wales 3 of 6 defensive, London 10 of 10; February: 0 of 6 and 5 of 10
    assert d["estimate_a"] == pytest.approx(13 / 16) and d["estimate_b"] == pytest.approx(5 / 16)
    assert "coverage_substantive" not in set(out["measure"])  # not defined by period
    small = compare(_engine(threshold=13), [parse_group("region=Wales")])
    s = _row(small, "defensive_share")
    assert s["suppressed"] and s["difference"] != s["difference"]  # NaN


def test_unknown_group_value_is_an_error():
    with pytest.raises(MeasureOptionError):
        compare(_engine(), [parse_group("region=Atlantis")])
