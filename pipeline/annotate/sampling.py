"""Which entries to label next: uncertainty, random and stratified sampling.

Labelled notes are costly, so each batch sent to annotators should teach the model most. Three
strategies, all deterministic for a seed:

- ``uncertainty``: the rows the current model is least sure of (smallest margin between its two
  most likely labels, averaged over the oversight_type and content heads). Margin sampling is the
  classic pool-based active-learning rule (Settles 2009, "Active Learning Literature Survey").
- ``random``: a seeded permutation; the honest baseline every active-learning claim is measured by.
- ``stratified``: spreads the batch evenly over strata (e.g. predicted type x region), random
  within each, so rare strata are seen at all.

Example:
    >>> import numpy as np
    >>> from pipeline.annotate.sampling import select
    >>> select(2, strategy="uncertainty",
    ...        type_proba=np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]]),
    ...        content_proba=np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]])).tolist()
    [1, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.errors import ConfigError

STRATEGIES: tuple[str, ...] = ("uncertainty", "random", "stratified")


def _margin_uncertainty(proba: np.ndarray, *, name: str) -> np.ndarray:
    """1 - (top1 - top2) per row: 0 when the model is certain, 1 when its top two labels tie."""
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ConfigError(f"{name} must be a 2-D array (rows x labels); got shape {p.shape}")
    if p.shape[1] == 1:
        # A one-label head has nothing to hesitate between.
        return np.zeros(p.shape[0])
    top2 = -np.partition(-p, 1, axis=1)[:, :2]
    return np.clip(1.0 - (top2[:, 0] - top2[:, 1]), 0.0, 1.0)


def uncertainty(type_proba: np.ndarray, content_proba: np.ndarray | None) -> np.ndarray:
    """Per-row uncertainty in [0, 1] combining both heads: the mean of 1 - margin.

    ``content_proba`` may be None to rank on the oversight_type head alone.
    """
    u = _margin_uncertainty(type_proba, name="type_proba")
    if content_proba is None:
        return u
    c = _margin_uncertainty(content_proba, name="content_proba")
    if c.shape[0] != u.shape[0]:
        raise ConfigError(
            f"type_proba has {u.shape[0]} rows but content_proba has {c.shape[0]}; "
            "they must describe the same entries"
        )
    return (u + c) / 2.0


def _row_count(
    *,
    n_rows: int | None,
    type_proba: np.ndarray | None,
    content_proba: np.ndarray | None,
    strata: Sequence[Any] | None,
    exclude: np.ndarray | None,
) -> int:
    """The number of rows, taken from whichever inputs were given (they must agree)."""
    counts = {
        name: len(value)
        for name, value in (
            ("n_rows", range(n_rows) if n_rows is not None else None),
            ("type_proba", type_proba),
            ("content_proba", content_proba),
            ("strata", strata),
            ("exclude", exclude),
        )
        if value is not None
    }
    if not counts:
        raise ConfigError(
            "cannot tell how many rows there are: give n_rows, the probabilities, strata or exclude"
        )
    if len(set(counts.values())) > 1:
        detail = ", ".join(f"{k}={v}" for k, v in counts.items())
        raise ConfigError(f"inputs disagree on the number of rows ({detail})")
    return next(iter(counts.values()))


def _round_robin(groups: list[np.ndarray]) -> np.ndarray:
    """Interleave groups (one from each in turn), so every prefix spreads evenly across them."""
    longest = max((len(g) for g in groups), default=0)
    out = [g[i] for i in range(longest) for g in groups if i < len(g)]
    return np.asarray(out, dtype=int)


def select(
    n: int,
    *,
    strategy: str = "uncertainty",
    type_proba: np.ndarray | None = None,
    content_proba: np.ndarray | None = None,
    strata: Sequence[Any] | None = None,
    exclude: np.ndarray | None = None,
    seed: int = 0,
    n_rows: int | None = None,
) -> np.ndarray:
    """Positions (ints, into the rows) of the n rows to label next, most useful first.

    Args:
        n: how many rows to pick; fewer come back when fewer are available.
        strategy: one of ``STRATEGIES``.
        type_proba, content_proba: the current model's probabilities (rows x labels) for the
            two heads; ``uncertainty`` needs at least ``type_proba``.
        strata: one key per row (e.g. ``f"{predicted_type}|{region}"``); ``stratified`` needs it
            and spreads ``n`` evenly across strata, random within each.
        exclude: boolean mask of rows already labelled (never picked again).
        seed: random seed (the random order, and tie-breaks for uncertainty).
        n_rows: the number of rows, for ``random`` when no other input tells it.

    Raises:
        ConfigError: unknown strategy, missing or inconsistent input, negative ``n``.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown sampling strategy {strategy!r}; choose one of {STRATEGIES}")
    if n < 0:
        raise ConfigError(f"n must be 0 or more, got {n}")
    total = _row_count(
        n_rows=n_rows,
        type_proba=type_proba,
        content_proba=content_proba,
        strata=strata,
        exclude=exclude,
    )
    available = np.ones(total, dtype=bool)
    if exclude is not None:
        mask = np.asarray(exclude)
        if mask.dtype != bool:
            raise ConfigError("exclude must be a boolean mask (True = already labelled)")
        available &= ~mask
    rng = np.random.default_rng(seed)
    # A seeded shuffle first makes every strategy's tie-breaks random but reproducible.
    order = rng.permutation(total)
    order = order[available[order]]

    if strategy == "random":
        picked = order
    elif strategy == "uncertainty":
        if type_proba is None and content_proba is None:
            raise ConfigError("the uncertainty strategy needs the model's probabilities")
        if type_proba is None:
            scores = uncertainty(content_proba, None)  # type: ignore[arg-type]
        else:
            scores = uncertainty(type_proba, content_proba)
        # Stable sort on the shuffled order: most uncertain first, seeded tie-breaks.
        picked = order[np.argsort(-scores[order], kind="stable")]
    else:
        if strata is None:
            raise ConfigError("the stratified strategy needs strata (one key per row)")
        keys = np.asarray([str(s) for s in strata], dtype=object)
        groups: dict[str, list[int]] = {}
        for pos in order:
            groups.setdefault(keys[pos], []).append(int(pos))
        # Strata visited in a seeded order so no stratum is always first in line.
        names = sorted(groups)
        names = [names[i] for i in rng.permutation(len(names))]
        picked = _round_robin([np.asarray(groups[k], dtype=int) for k in names])
    return np.asarray(picked[:n], dtype=int)
