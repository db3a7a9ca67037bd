"""Sampling strategies: deterministic, respect exclusions, spread strata, rank by uncertainty."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pipeline.annotate.sampling import STRATEGIES, select, uncertainty
from pipeline.errors import ConfigError


def _probas(rows: int, labels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.random((rows, labels))
    return p / p.sum(axis=1, keepdims=True)


def test_uncertainty_is_one_minus_margin_averaged_over_heads():
    type_p = np.array([[1.0, 0.0, 0.0], [0.4, 0.4, 0.2], [0.7, 0.2, 0.1]])
    content_p = np.array([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    u = uncertainty(type_p, content_p)
    np.testing.assert_allclose(u, [0.0, 1.0, ((1 - 0.5) + (1 - 0.8)) / 2])
    assert ((u >= 0) & (u <= 1)).all()


def test_uncertainty_orders_most_uncertain_first():
    type_p = np.array([[0.9, 0.1], [0.55, 0.45], [0.7, 0.3], [0.51, 0.49], [1.0, 0.0]])
    picked = select(5, strategy="uncertainty", type_proba=type_p, content_proba=type_p)
    assert picked.tolist() == [3, 1, 2, 0, 4]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_is_deterministic_for_a_seed_and_returns_distinct_rows(strategy):
    tp, cp = _probas(60, 6, 1), _probas(60, 2, 2)
    strata = [f"s{i % 4}" for i in range(60)]
    kwargs = dict(strategy=strategy, type_proba=tp, content_proba=cp, strata=strata)
    a = select(20, seed=3, **kwargs)
    b = select(20, seed=3, **kwargs)
    assert a.tolist() == b.tolist()
    assert len(set(a.tolist())) == 20
    assert a.min() >= 0 and a.max() < 60


def test_random_depends_on_the_seed():
    assert (
        select(10, strategy="random", n_rows=100, seed=1).tolist()
        != select(10, strategy="random", n_rows=100, seed=2).tolist()
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_exclude_never_picks_labelled_rows(strategy):
    tp, cp = _probas(30, 6, 4), _probas(30, 2, 5)
    exclude = np.zeros(30, dtype=bool)
    exclude[::2] = True
    picked = select(
        30,
        strategy=strategy,
        type_proba=tp,
        content_proba=cp,
        strata=[i % 3 for i in range(30)],
        exclude=exclude,
    )
    assert not exclude[picked].any()
    # Asking for more than is left gives every remaining row once.
    assert sorted(picked.tolist()) == list(range(1, 30, 2))


def test_stratified_spreads_evenly_even_when_strata_are_unbalanced():
    strata = ["big"] * 80 + ["mid"] * 15 + ["rare"] * 5
    picked = select(12, strategy="stratified", strata=strata, seed=0)
    counts = Counter(strata[i] for i in picked)
    assert counts == {"big": 4, "mid": 4, "rare": 4}
    # A rare stratum runs out, the rest of the batch fills from the others.
    more = select(30, strategy="stratified", strata=strata, seed=0)
    counts = Counter(strata[i] for i in more)
    assert counts["rare"] == 5 and counts["big"] + counts["mid"] == 25
    assert abs(counts["big"] - counts["mid"]) <= 1


def test_uncertainty_ties_are_broken_by_the_seed():
    flat = np.full((50, 2), 0.5)
    a = select(5, strategy="uncertainty", type_proba=flat, seed=0)
    b = select(5, strategy="uncertainty", type_proba=flat, seed=1)
    assert a.tolist() != b.tolist()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(strategy="entropy", n_rows=10),
        dict(strategy="uncertainty", n_rows=10),
        dict(strategy="stratified", n_rows=10),
        dict(strategy="random"),
        dict(strategy="random", n_rows=10, exclude=np.zeros(9, dtype=bool)),
        dict(strategy="random", n_rows=10, exclude=np.zeros(10, dtype=int)),
    ],
)
def test_bad_inputs_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        select(3, **kwargs)


def test_heads_must_have_the_same_rows():
    with pytest.raises(ConfigError, match="rows"):
        uncertainty(_probas(5, 6, 0), _probas(4, 2, 0))
