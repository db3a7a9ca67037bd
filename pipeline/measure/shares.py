"""Interval and classifier-error adjustment maths for the culture measures.

Everything here works on stacks of *replicates*: row 0 is the data as observed (weights of one,
the validation confusion as counted) and rows 1..B are bootstrap replicates, so the point
estimate and its interval come out of one vectorised code path.

* :func:`case_weights`: the cluster bootstrap. Cases are resampled with replacement (entries,
  quarters and events of one case are not independent), as multinomial counts per case.
* :func:`confusion_draws`: the validation confusion matrix as ``M[pred, true] = P(pred | true)``,
  with B draws from a Dirichlet per true class, so intervals carry the uncertainty of a
  validation set of finite size.
* :func:`rogan_gladen`: multiclass Rogan-Gladen, ``p_true = M^-1 p_obs``, clipped at 0 and
  renormalised.
* :func:`posterior_in_set`: P(true label in a set | predicted label) by Bayes' rule from ``M`` and
  the adjusted prevalence, for measures of the "at least one entry of this kind" shape.
* :func:`wilson` and :func:`wilson_deff`: score intervals for raw shares, the latter with the
  effective sample size implied by the cluster bootstrap's variance.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.stats import norm

#: Added to every validation count before drawing from the Dirichlet (Jeffreys' prior).
DIRICHLET_PRIOR = 0.5


def z_value(confidence: float) -> float:
    """The two-sided normal quantile for ``confidence`` (1.96 for 0.95)."""
    return float(norm.ppf(0.5 + confidence / 2))


def wilson(
    successes: np.ndarray | float, n: np.ndarray | float, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``successes`` out of ``n`` (arrays broadcast; NaN where n=0)."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi


def wilson_deff(
    p: np.ndarray,
    n: np.ndarray,
    boot_var: np.ndarray,
    n_cases: np.ndarray,
    *,
    confidence: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson interval on the effective sample size ``p(1-p) / var`` (Kish's design effect, with
    the variance from the cluster bootstrap), capped at ``n``. When the share is 0 or 1 the
    bootstrap cannot tell the design effect, so the number of distinct cases is used: entries of
    one case tend to agree, and counting them as independent would overstate certainty."""
    p = np.asarray(p, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        from_var = p * (1 - p) / np.asarray(boot_var, dtype=float)
    interior = (p > 0) & (p < 1) & np.isfinite(from_var) & (from_var > 0)
    n_eff = np.where(interior, np.clip(from_var, 1, np.maximum(n, 1)), np.minimum(n_cases, n))
    return wilson(p * n_eff, n_eff, confidence=confidence)


def percentile_interval(reps: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 of bootstrap replicates (NaN replicates ignored)."""
    alpha = (1 - confidence) / 2
    if reps.shape[0] == 0:
        nan = np.full(reps.shape[1:], np.nan)
        return nan, nan
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a group empty in every replicate
        lo = np.nanquantile(reps, alpha, axis=0)
        hi = np.nanquantile(reps, 1 - alpha, axis=0)
    return lo, hi


def case_weights(n_cases: int, *, n_boot: int, seed: int) -> np.ndarray:
    """Replicate weights per case, shape ``(n_boot + 1, n_cases)``: row 0 is all ones (the
    data as observed), rows 1.. how often each case is drawn in a cluster-bootstrap resample."""
    w = np.ones((n_boot + 1, n_cases), dtype=np.float32)
    if n_boot and n_cases:
        rng = np.random.default_rng(seed)
        w[1:] = rng.multinomial(n_cases, np.full(n_cases, 1 / n_cases), size=n_boot)
    return w


def confusion_to_rates(counts: np.ndarray) -> np.ndarray:
    """``M[pred, true] = P(pred | true)`` from a confusion of counts (rows true, columns
    predicted, as ``oversight evaluate`` writes it). A true class never seen in validation is
    taken as always predicted correctly: there is no evidence to adjust it with."""
    c = np.asarray(counts, dtype=float)
    rows = c.sum(axis=1, keepdims=True)
    rates = np.where(rows > 0, c / np.where(rows > 0, rows, 1), np.eye(len(c)))
    return rates.T


def confusion_draws(counts: np.ndarray, *, n_boot: int, seed: int) -> np.ndarray:
    """Shape ``(n_boot + 1, K, K)``: row 0 the counted rates, rows 1.. Dirichlet draws of each
    true class's prediction distribution (validation uncertainty)."""
    c = np.asarray(counts, dtype=float)
    k = len(c)
    out = np.empty((n_boot + 1, k, k))
    out[0] = confusion_to_rates(c)
    if n_boot:
        rng = np.random.default_rng(seed)
        for true in range(k):
            if c[true].sum() == 0:
                out[1:, :, true] = np.eye(k)[true]
            else:
                out[1:, :, true] = rng.dirichlet(c[true] + DIRICHLET_PRIOR, size=n_boot)
    return out


def joint_confusion(m_a: np.ndarray, m_b: np.ndarray) -> np.ndarray:
    """The confusion of a pair of labels (a, b), index ``a * K_b + b``, from each label's own,
    assuming the two heads err independently given the truth: ``kron`` per replicate."""
    r, ka, _ = m_a.shape
    kb = m_b.shape[1]
    return np.einsum("rab,rcd->racbd", m_a, m_b).reshape(r, ka * kb, ka * kb)


def rogan_gladen(p_obs: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Multiclass Rogan-Gladen: the true class shares that the observed (predicted) shares
    imply, ``solve(M, p_obs)``, clipped at 0 and renormalised to sum to one.

    ``p_obs`` is ``(R, G, K)`` (replicates, groups, classes), ``rates`` ``(R, K, K)``. A group
    with no observations (NaN shares) stays NaN. A singular confusion (a class the model never
    predicts) falls back to the pseudo-inverse."""
    try:
        inv = np.linalg.inv(rates)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(rates)
    p = np.einsum("rkj,rgj->rgk", inv, p_obs)
    p = np.clip(p, 0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = p.sum(axis=-1, keepdims=True)
        p = np.where(total > 0, p / total, np.nan)
    return p


def posterior_in_set(rates: np.ndarray, prevalence: np.ndarray, in_set: np.ndarray) -> np.ndarray:
    """P(true label in the set | predicted label j), shape ``(R, G, K)``, by Bayes' rule from
    ``rates`` ``(R, K, K)`` (``M[pred, true]``) and the true prevalence ``(R, G, K)``."""
    joint = rates[:, None, :, :] * prevalence[:, :, None, :]  # (R, G, pred, true)
    with np.errstate(invalid="ignore", divide="ignore"):
        num = (joint * in_set[None, None, None, :]).sum(axis=-1)
        den = joint.sum(axis=-1)
        q = np.where(den > 0, num / den, 0.0)
    return q


def class_totals(
    case_idx: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    cls: np.ndarray,
    n_classes: int,
    weights: np.ndarray,
) -> np.ndarray:
    """Weighted counts ``(R, G, K)`` of units by group and class: each unit counts with its
    case's weight in each replicate. Units with group or class -1 are left out."""
    keep = (group >= 0) & (cls >= 0)
    n_cases = weights.shape[1]
    a = sp.csr_matrix(
        (
            np.ones(int(keep.sum()), dtype=np.float32),
            (case_idx[keep], group[keep] * n_classes + cls[keep]),
        ),
        shape=(n_cases, max(n_groups, 1) * n_classes),
    )
    out = np.asarray((a.T @ weights.T).T, dtype=float)
    return out.reshape(weights.shape[0], max(n_groups, 1), n_classes)[:, :n_groups]


def unit_totals(
    case_idx: np.ndarray, group: np.ndarray, n_groups: int, values: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Weighted sums ``(R, G)`` of a per-unit value, which may differ by replicate
    (``values`` of shape ``(n_units,)`` or ``(R, n_units)``)."""
    keep = group >= 0
    idx = np.flatnonzero(keep)
    g = sp.csr_matrix(
        (np.ones(len(idx), dtype=np.float32), (np.arange(len(idx)), group[idx])),
        shape=(len(idx), max(n_groups, 1)),
    )
    w = weights[:, case_idx[idx]]
    v = values[..., idx] if values.ndim == 2 else values[idx][None, :]
    return np.asarray((g.T @ (w * v).T).T, dtype=float)[:, :n_groups]


def weighted_medians(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The (lower) weighted median of ``values`` for each row of ``weights`` ``(R, n)``; NaN
    where a row's weights are all zero."""
    if values.size == 0:
        return np.full(weights.shape[0], np.nan)
    order = np.argsort(values, kind="stable")
    v = values[order].astype(float)
    cum = np.cumsum(weights[:, order], axis=1)
    total = cum[:, -1]
    idx = np.argmax(cum >= total[:, None] / 2, axis=1)
    return np.where(total > 0, v[idx], np.nan)


def expand(labels: Sequence[str], values: Sequence[str | None]) -> np.ndarray:
    """Codes of ``values`` in ``labels`` (-1 for a value not among them, or missing)."""
    lookup = {lab: i for i, lab in enumerate(labels)}
    return np.fromiter((lookup.get(v, -1) for v in values), dtype=np.int64, count=len(values))
