"""Interval and adjustment maths: Wilson, Rogan-Gladen, confusion draws, the cluster bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.measure import shares
from pipeline.measure.measures import Engine, Grouping, MeasureSettings, intervals
from pipeline.measure.tables import MeasureTables, _empty_events, _empty_quarters
from pipeline.measure.validation import Validation


def test_wilson_matches_known_values():
    lo, hi = shares.wilson(np.array([5.0, 0.0]), np.array([10.0, 10.0]))
    assert lo[0] == pytest.approx(0.2366, abs=1e-4) and hi[0] == pytest.approx(0.7634, abs=1e-4)
    assert lo[1] == 0 and hi[1] == pytest.approx(0.2775, abs=1e-4)
    lo, hi = shares.wilson(0.0, 0.0)
    assert np.isnan(lo) and np.isnan(hi)


def test_wilson_deff_widens_for_clustered_data_and_uses_cases_at_the_edges():
    p, n = np.array([0.5, 1.0]), np.array([100.0, 100.0])
    binom_var = 0.25 / 100
    lo, hi = shares.wilson_deff(p, n, np.array([4 * binom_var, 0.0]), np.array([10, 10]))
    plain_lo, plain_hi = shares.wilson(p * n, n)
    assert hi[0] - lo[0] > 1.8 * (plain_hi[0] - plain_lo[0])  # design effect 4: twice as wide
    # all entries alike: as uncertain as 10 cases, not as 100 entries
    lo10, _ = shares.wilson(10.0, 10.0)
    assert lo[1] == pytest.approx(lo10)


def test_confusion_to_rates_is_p_pred_given_true_and_identity_for_unseen_classes():
    rates = shares.confusion_to_rates(np.array([[8, 2, 0], [1, 9, 0], [0, 0, 0]]))
    np.testing.assert_allclose(rates[:, 0], [0.8, 0.2, 0.0])
    np.testing.assert_allclose(rates[:, 1], [0.1, 0.9, 0.0])
    np.testing.assert_allclose(rates[:, 2], [0.0, 0.0, 1.0])


def test_rogan_gladen_recovers_the_true_shares_on_a_known_confusion():
    truth = np.array([0.5, 0.3, 0.2])
    rates = np.array([[0.8, 0.1, 0.2], [0.15, 0.85, 0.1], [0.05, 0.05, 0.7]])  # columns: true
    observed = rates @ truth
    assert not np.allclose(observed, truth)
    got = shares.rogan_gladen(observed[None, None, :], rates[None])[0, 0]
    np.testing.assert_allclose(got, truth, atol=1e-12)


def test_rogan_gladen_clips_impossible_shares_and_keeps_empty_groups_empty():
    rates = np.array([[[0.9, 0.2], [0.1, 0.8]]])
    p = np.array([[[0.05, 0.95], [np.nan, np.nan]]])  # below the false-positive rate
    got = shares.rogan_gladen(p, rates)
    np.testing.assert_allclose(got[0, 0], [0.0, 1.0])
    assert np.isnan(got[0, 1]).all()


def test_confusion_draws_vary_around_the_counted_rates():
    counts = np.array([[90, 10], [20, 80]])
    draws = shares.confusion_draws(counts, n_boot=2000, seed=1)
    np.testing.assert_allclose(draws[0], shares.confusion_to_rates(counts))
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    assert draws[1:, 0, 0].std() > 0.01
    assert draws[1:, 0, 0].mean() == pytest.approx(0.9, abs=0.01)


def test_joint_confusion_is_the_kronecker_product():
    rng = np.random.default_rng(0)
    a, b = rng.dirichlet(np.ones(3), size=3).T, rng.dirichlet(np.ones(2), size=2).T
    got = shares.joint_confusion(a[None], b[None])[0]
    np.testing.assert_allclose(got, np.kron(a, b))


def test_posterior_in_set_follows_bayes():
    rates = np.array([[[0.9, 0.2], [0.1, 0.8]]])  # P(pred | true)
    prev = np.array([[[0.5, 0.5]]])
    q = shares.posterior_in_set(rates, prev, np.array([0.0, 1.0]))[0, 0]
    assert q[0] == pytest.approx(0.2 / 1.1) and q[1] == pytest.approx(0.8 / 0.9)


def test_case_weights_and_weighted_medians():
    w = shares.case_weights(7, n_boot=5, seed=3)
    assert (w[0] == 1).all() and (w.sum(axis=1) == 7).all()
    med = shares.weighted_medians(np.array([5.0, 1.0, 3.0]), np.array([[1, 1, 1], [0, 3, 0]]))
    np.testing.assert_allclose(med, [3.0, 1.0])


def _simulated_tables(rng, *, n_cases: int, p_true: float, tpr: float, fpr: float):
    """Cases of 1-6 entries with a case-level tilt (clustered), labels misread by the model."""
    sizes = rng.integers(1, 7, size=n_cases)
    case = np.repeat(np.arange(n_cases), sizes)
    tilt = rng.normal(0, 0.6, size=n_cases)[case]
    logit = np.log(p_true / (1 - p_true)) + tilt
    true_def = rng.random(len(case)) < 1 / (1 + np.exp(-logit))
    pred_def = np.where(true_def, rng.random(len(case)) < tpr, rng.random(len(case)) < fpr)
    entries = pd.DataFrame(
        {
            "case": case,
            "day": 0,
            "month": "2024-01",
            "otype": 0,
            "content": np.where(pred_def, 0, 1),
            "initiator": 0,
            "catch_all": False,
        }
    )
    cases = pd.DataFrame(
        {"crn": [f"X{i:06d}" for i in range(n_cases)], "region": "R", "start": 0, "end": 1}
    )
    for c in ("pdu", "team", "rosh_level"):
        cases[c] = "x"
    return MeasureTables(cases, entries, _empty_quarters(), _empty_events(), has_export=False)


def test_adjusted_interval_covers_the_truth_in_simulation_where_the_raw_one_does_not():
    """The point of the adjustment: with a model that errs, the raw share is biased and its
    interval misses; the adjusted interval (bootstrap over cases and validation) covers."""
    rng = np.random.default_rng(42)
    p_true, tpr, fpr = 0.3, 0.85, 0.2
    # the population share of the simulation (the case tilt moves it off p_true)
    target = _population_share(p_true)
    covered = raw_covered = 0
    sims = 40
    for s in range(sims):
        tables = _simulated_tables(rng, n_cases=150, p_true=p_true, tpr=tpr, fpr=fpr)
        # a validation set of 400 labelled entries
        n_def = rng.binomial(400, 0.5)
        tp = rng.binomial(n_def, tpr)
        fp = rng.binomial(400 - n_def, fpr)
        counts = np.array([[tp, n_def - tp], [fp, 400 - n_def - fp]])
        val = Validation(confusions={"content": counts})
        engine = Engine(tables, val, MeasureSettings(n_boot=200, seed=s))
        est = engine.defensive(Grouping("overall", ["all"]))[0]
        iv = intervals(est, confidence=0.95)
        covered += iv["lower"][0] <= target <= iv["upper"][0]
        raw_covered += iv["raw_lower"][0] <= target <= iv["raw_upper"][0]
    assert covered / sims >= 0.85
    assert raw_covered / sims <= 0.2


def _population_share(p_true: float) -> float:
    """E[sigmoid(logit(p) + N(0, 0.6))] by quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(60)
    lg = np.log(p_true / (1 - p_true)) + 0.6 * x
    return float((w * (1 / (1 + np.exp(-lg)))).sum() / w.sum())
