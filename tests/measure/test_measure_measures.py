"""Each measure on small hand-made tables where the right answer is known, including empty
groups and groups under the suppression threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.measure.measures import MeasureSettings, compute
from pipeline.measure.tables import build_tables
from pipeline.measure.validation import Validation
from tests.measure.handmade import Book

RAW = MeasureSettings(n_boot=50, suppression_threshold=1)


def _rows(book: Book, settings: MeasureSettings = RAW, validation=None, by=("team",)):
    tables = build_tables(book.scored(), book.export())
    rows, _ = compute(tables, validation or Validation(), settings, by=list(by))
    return rows


def _get(rows, measure, *, by="overall", group="all", category=None):
    sel = (rows["measure"] == measure) & (rows["by"] == by) & (rows["group"] == group)
    sel &= rows["category"].isna() if category is None else rows["category"] == category
    found = rows.loc[sel]
    assert len(found) == 1, (measure, by, group, category)
    return found.iloc[0]


def _team_book() -> Book:
    """Team T1: 3 cases. Team T2: 1 case without any oversight entry (an empty group)."""
    b = Book()
    a = b.case("A000001", team="T1")
    a.entry(10, initiated_by="pp_request", content="defensive", otype="risk", code="MO1")
    a.entry(20, initiated_by="pp_request", content="substantive", otype="risk", code="RROD")
    a.entry(30, initiated_by="spo", content="defensive", otype="supervision", code="C002")
    c = b.case("B000002", team="T1")
    c.entry(10, initiated_by="unknown", content="defensive", otype="supervision", code="CRCO")
    c.entry(40, initiated_by="scheduled", content="defensive", otype="review", code="C416")
    d = b.case("C000003", team="T1")
    d.entry(15, initiated_by="pp_request", content="defensive", otype="risk", code="MO1")
    b.case("D000004", team="T2")
    return b


def test_entry_shares_raw():
    rows = _rows(_team_book())
    # known initiator: 5 of 6 entries; PP requests: 3
    r = _get(rows, "reactive_share")
    assert r["estimate"] == pytest.approx(3 / 5) and r["n"] == 5 and not r["adjusted"]
    assert r["lower"] < 0.6 < r["upper"]
    d = _get(rows, "defensive_share")
    assert d["estimate"] == pytest.approx(5 / 6) and d["n"] == 6
    risk = _get(rows, "defensive_share", category="risk")
    assert risk["estimate"] == pytest.approx(2 / 3) and risk["n"] == 3
    assert _get(rows, "defensive_share", category="review")["estimate"] == 1.0
    assert _get(rows, "type_mix", category="supervision")["estimate"] == pytest.approx(2 / 6)
    assert _get(rows, "type_mix", category="allocation")["estimate"] == 0.0
    ca = _get(rows, "catch_all_share")
    assert ca["estimate"] == pytest.approx(3 / 6) and ca["method"] == "wilson-deff"


def test_coverage_counts_cases_without_entries():
    rows = _rows(_team_book())
    cov = _get(rows, "coverage_substantive")
    assert cov["estimate"] == pytest.approx(1 / 4) and cov["n"] == 4
    assert _get(rows, "coverage_substantive", by="team", group="T1")["estimate"] == pytest.approx(
        1 / 3
    )
    t2 = _get(rows, "coverage_substantive", by="team", group="T2")
    assert t2["estimate"] == 0.0 and t2["n"] == 1


def test_empty_group_has_zero_count_and_no_figure():
    rows = _rows(_team_book(), settings=MeasureSettings(n_boot=50, suppression_threshold=1))
    t2 = _get(rows, "defensive_share", by="team", group="T2")
    assert t2["n"] == 0 and t2["suppressed"] and np.isnan(t2["estimate"])


def test_groups_under_the_threshold_are_suppressed():
    b = Book()
    small = b.case("A000001", region="Small")
    for i in range(9):
        small.entry(i + 1)
    big = b.case("B000002", region="Big")
    for i in range(10):
        big.entry(i + 1)
    rows = _rows(b, settings=MeasureSettings(n_boot=50), by=("region",))
    s = _get(rows, "defensive_share", by="region", group="Small")
    assert s["suppressed"] and s["n"] == 9
    assert s[["estimate", "lower", "upper", "raw_estimate", "raw_lower", "raw_upper"]].isna().all()
    big_row = _get(rows, "defensive_share", by="region", group="Big")
    assert not big_row["suppressed"] and big_row["estimate"] == 1.0
    # overall: 19 entries
    assert not _get(rows, "defensive_share")["suppressed"]


def test_quarterly_review_of_high_rosh_cases():
    b = Book()
    h = b.case("A000001", rosh="High", start=0, end=200)  # 2 full quarters: [0, 91), [91, 182)
    h.entry(50, otype="review")
    h.entry(150, otype="supervision")
    h.entry(190, otype="review")  # after the last full quarter: not counted
    v = b.case("B000002", rosh="Very High", start=0, end=100)  # 1 quarter
    v.entry(90, otype="review")
    b.case("C000003", rosh="Medium", start=0, end=400).entry(10, otype="review")
    b.case("D000004", rosh="High", start=0, end=60)  # no full quarter
    rows = _rows(b, by=("rosh_level",))
    q = _get(rows, "quarterly_review_high_rosh")
    assert q["n"] == 3 and q["estimate"] == pytest.approx(2 / 3)
    assert _get(rows, "quarterly_review_high_rosh", by="rosh_level", group="High")[
        "estimate"
    ] == pytest.approx(1 / 2)
    medium = _get(rows, "quarterly_review_high_rosh", by="rosh_level", group="Medium")
    assert medium["n"] == 0 and medium["suppressed"]


def _event_book() -> Book:
    b = Book()
    a = b.case("A000001", start=0, end=200)
    a.contact("CPOL", 50)  # risk entry 3 days later: a response within 5 days
    a.entry(53, otype="risk")
    a.contact("CSOC", 100)  # enforcement 7 days later: too late for 5, delay 7
    a.entry(107, otype="enforcement")
    a.contact("CHOU", 150)  # only a supervision entry follows: no response
    a.entry(151, otype="supervision")
    a.contact("ABRE", 120)  # breach action on a community order: not a risk event
    a.contact("CDTR", 160)  # drug test: not a risk event
    lic = b.case("B000002", sentence="Licence", start=0, end=200)
    lic.contact("ABRE", 60)  # breach action, then the recall consideration next day: one episode
    lic.contact("ABRE", 61)
    lic.entry(61, otype="enforcement")  # same day as the later one
    return b


def test_risk_events_and_responsiveness():
    b = _event_book()
    tables = build_tables(b.scored(), b.export())
    assert len(tables.events) == 4
    assert sorted(tables.events["code"]) == ["ABRE", "CHOU", "CPOL", "CSOC"]
    rows, _ = compute(tables, Validation(), RAW, by=[])
    r = _get(rows, "response_within_days")
    # no entry in the 30 days before any event, so no background to discount
    assert r["estimate"] == pytest.approx(2 / 4) and r["raw_estimate"] == pytest.approx(2 / 4)
    assert r["n"] == 4
    med = _get(rows, "median_response_delay_days")
    # delays of responded events within 30 days: 3, 7, 0 (the CHOU event finds none)
    assert med["estimate"] == 3 and med["n"] == 3 and med["unit"] == "days"


def test_responses_that_would_have_happened_anyway_are_discounted():
    """Risk entries at random, unrelated to the events: a window after an event holds one
    about 45% of the time, yet no event had a response."""
    rng = np.random.default_rng(7)
    b = Book()
    for i in range(150):
        c = b.case(f"A{i:06d}", start=0, end=300)
        c.contact("CPOL", 100)
        for d in np.flatnonzero(rng.random(300) < 0.1):
            c.entry(int(d), otype="risk")
    rows = _rows(b, by=())
    r = _get(rows, "response_within_days")
    assert 0.3 < r["raw_estimate"] < 0.6
    assert r["estimate"] < 0.12 and r["lower"] <= 0.0 + 1e-9


def test_adjustment_with_a_perfect_confusion_changes_nothing():
    perfect = Validation(
        confusions={
            "content": np.diag([50.0, 50.0]),
            "oversight_type": np.diag([20.0] * 6),
            "initiated_by": np.diag([30.0] * 4),
        }
    )
    rows = _rows(_team_book(), validation=perfect)
    shares_ = rows.loc[rows["unit"] == "share"].dropna(subset=["estimate"])
    shares_ = shares_.loc[shares_["measure"] != "response_within_days"]
    np.testing.assert_allclose(shares_["estimate"], shares_["raw_estimate"], atol=1e-9)
    assert shares_.loc[shares_["measure"] != "catch_all_share", "adjusted"].all()


def test_adjustment_with_a_known_confusion():
    """90 defensive and 10 substantive predictions; the model calls 20% of substantive entries
    defensive and never errs the other way: true defensive share = (0.9 - 0.2) / 0.8 = 0.875."""
    b = Book()
    for i in range(100):
        b.case(f"A{i:06d}").entry(5, content="defensive" if i < 90 else "substantive")
    val = Validation(confusions={"content": np.array([[1000.0, 0.0], [200.0, 800.0]])})
    rows = _rows(b, validation=val, by=())
    d = _get(rows, "defensive_share")
    assert d["raw_estimate"] == pytest.approx(0.9)
    assert d["estimate"] == pytest.approx(0.875)
    assert d["adjusted"] and d["method"] == "rogan-gladen+bootstrap"
    assert d["lower"] < 0.875 < d["upper"]
    # coverage: every case with a substantive prediction is covered for sure; a defensive
    # prediction hides a substantive entry with P = 0.2 * 0.125 / (0.2 * 0.125 + 0.875) = 1/36
    cov = _get(rows, "coverage_substantive")
    assert cov["raw_estimate"] == pytest.approx(0.1)
    assert cov["estimate"] == pytest.approx(0.1 + 0.9 * (0.025 / 0.9))


def test_month_groups_and_case_level_measures():
    b = Book()
    c = b.case("A000001", start=0, end=100)
    c.entry(5, content="defensive")  # 2024-01
    c.entry(40, content="substantive")  # 2024-02
    rows = _rows(b, by=("month",))
    assert _get(rows, "defensive_share", by="month", group="2024-01")["estimate"] == 1.0
    assert _get(rows, "defensive_share", by="month", group="2024-02")["estimate"] == 0.0
    month_rows = rows.loc[rows["by"] == "month"]
    assert "coverage_substantive" not in set(month_rows["measure"])
    assert isinstance(month_rows, pd.DataFrame)


def test_scored_only_leaves_out_the_measures_that_need_the_export():
    b = _team_book()
    tables = build_tables(b.scored())
    rows, _ = compute(tables, Validation(), RAW, by=[])
    measures = set(rows["measure"])
    assert "defensive_share" in measures
    assert not measures & {"coverage_substantive", "quarterly_review_high_rosh"}
    assert not measures & {"response_within_days", "median_response_delay_days"}
