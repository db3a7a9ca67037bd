"""Likely mislabelled entries, found by confident learning on out-of-fold probabilities.

The method is confident learning (Northcutt, Jiang & Chuang 2021, "Confident Learning:
Estimating Uncertainty in Dataset Labels", Journal of Artificial Intelligence Research 70,
1373-1411), implemented here because the reference library, cleanlab, is AGPL-3.0:

1. **Out-of-fold probabilities** (:func:`out_of_fold_proba`): K folds grouped by case, so no
   model ever scores an entry of a case it was trained on; each entry is scored by the model
   that did not see its label.
2. **Per-class thresholds** (:func:`per_class_thresholds`): ``t_j`` = the mean probability of
   class j over the entries labelled j: the model's own confidence on its class.
3. **Confident joint** (:func:`confident_joint`): ``C[i, j]`` counts the entries labelled i
   whose probability of j reaches ``t_j`` (the largest such j when several do); calibrated so
   each row sums to the number labelled i, then divided by n it estimates the joint
   distribution of given and true labels (:func:`estimate_joint`).
4. **Prune by noise rate** (:func:`find_issues`): for every off-diagonal cell (given i, true j)
   flag the ``n * Q[i, j]`` entries labelled i with the largest margin ``p_j - p_i``.
5. **Rank** (:func:`label_quality`): flagged entries first, each ordered by its label quality,
   ``self_confidence`` (the probability of the given label) or ``normalized_margin`` (that
   probability minus the best other one, rescaled to [0, 1]); lower means more likely wrong.

:func:`find_label_issues` runs all five on a labelled frame (:mod:`pipeline.datasets`) for both
heads; :func:`write_label_issues` writes ``label_issues.csv`` / ``.parquet`` (redacted text only)
and ``label_issues_summary.json``. :func:`flipped_label_benchmark` measures how well flipped
labels are recovered on synthetic data (the figure in ``docs/benchmarks.md``).

Example:
    >>> from pipeline.datasets import load_labelled
    >>> from pipeline.annotate.label_issues import find_label_issues
    >>> result = find_label_issues(load_labelled("data/raw/synth"))  # doctest: +SKIP
    >>> result.table.head()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import LabelIssuesError

log = logging.getLogger(__name__)

#: How entries are ranked: by the probability of the given label, or its margin over the rest.
RANK_METHODS: tuple[str, ...] = ("self_confidence", "normalized_margin")
#: Columns of the issues table (one row per entry and head).
ISSUE_COLUMNS: tuple[str, ...] = (
    "head",
    "rank",
    "contact_id",
    "crn",
    "given_label",
    "suggested_label",
    "score",
    "p_given",
    "p_suggested",
    "is_issue",
    "text",
)
#: A fast baseline for out-of-fold scoring: no calibration folds, one thread.
FAST_BASELINE: dict[str, Any] = {"calibration": "none", "n_jobs": 1}
CITATION = (
    "Northcutt, Jiang & Chuang (2021), Confident Learning: Estimating Uncertainty in Dataset "
    "Labels, JAIR 70, 1373-1411"
)


# --- the confident-learning core (integer labels, a probability matrix) ------------------------


def _check(labels: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or y.ndim != 1 or len(y) != len(p):
        raise LabelIssuesError(
            f"need one label per probability row: labels {y.shape}, probabilities {p.shape}"
        )
    if len(y) and (y.min() < 0 or y.max() >= p.shape[1]):
        raise LabelIssuesError(f"labels must be class positions 0..{p.shape[1] - 1}")
    return y.astype(int), p


def per_class_thresholds(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """``t_j``: mean probability of class j over the entries labelled j (inf if none is)."""
    y, p = _check(labels, proba)
    k = p.shape[1]
    out = np.full(k, np.inf)
    for j in range(k):
        mask = y == j
        if mask.any():
            out[j] = p[mask, j].mean()
    return out


def confident_joint(
    labels: np.ndarray, proba: np.ndarray, *, thresholds: np.ndarray | None = None
) -> np.ndarray:
    """``C[i, j]``: entries labelled i confidently of class j (uncalibrated counts, K x K)."""
    y, p = _check(labels, proba)
    t = per_class_thresholds(y, p) if thresholds is None else np.asarray(thresholds, dtype=float)
    # A hair below the threshold, so an entry exactly at the mean counts (float rounding).
    above = p >= t[None, :] - 1e-9
    confident = above.any(axis=1)
    best = np.where(above, p, -np.inf).argmax(axis=1)
    k = p.shape[1]
    cj = np.zeros((k, k), dtype=np.int64)
    np.add.at(cj, (y[confident], best[confident]), 1)
    return cj


def estimate_joint(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """``Q[i, j]``: estimated share of entries with given label i and true label j (sums to 1).

    The confident joint, each row rescaled to the number of entries labelled i (a class whose
    entries were never confidently counted keeps them on the diagonal), divided by n.
    """
    y, p = _check(labels, proba)
    k = p.shape[1]
    cj = confident_joint(y, p).astype(float)
    counts = np.bincount(y, minlength=k).astype(float)
    rows = cj.sum(axis=1)
    for i in range(k):
        if rows[i] == 0:
            cj[i] = 0.0
            cj[i, i] = 1.0
            rows[i] = 1.0
    calibrated = cj / rows[:, None] * counts[:, None]
    n = max(len(y), 1)
    return calibrated / n


def label_quality(
    labels: np.ndarray, proba: np.ndarray, *, method: str = "self_confidence"
) -> np.ndarray:
    """Per-entry quality of its given label in [0, 1]; lower means more likely mislabelled."""
    if method not in RANK_METHODS:
        raise LabelIssuesError(f"unknown rank method {method!r}; choose one of {RANK_METHODS}")
    y, p = _check(labels, proba)
    given = p[np.arange(len(y)), y]
    if method == "self_confidence":
        return given
    others = p.copy()
    others[np.arange(len(y)), y] = -np.inf
    return (given - others.max(axis=1) + 1.0) / 2.0


def find_issues(
    labels: np.ndarray, proba: np.ndarray, *, min_kept_per_class: int = 1
) -> np.ndarray:
    """Boolean mask of likely mislabelled entries (prune by noise rate).

    For every given label i and other class j, the ``round(n * Q[i, j])`` entries labelled i
    with the largest ``p_j - p_i`` are flagged; at least ``min_kept_per_class`` entries of each
    given label stay unflagged.
    """
    y, p = _check(labels, proba)
    n, k = p.shape
    joint = estimate_joint(y, p)
    to_prune = np.rint(joint * n).astype(int)
    mask = np.zeros(n, dtype=bool)
    for i in range(k):
        members = np.flatnonzero(y == i)
        budget = max(len(members) - min_kept_per_class, 0)
        for j in range(k):
            if j == i or to_prune[i, j] <= 0 or budget <= 0:
                continue
            margin = p[members, j] - p[members, i]
            # Already-flagged entries are not counted twice.
            margin[mask[members]] = -np.inf
            take = min(to_prune[i, j], budget, int(np.isfinite(margin).sum()))
            if take <= 0:
                continue
            chosen = members[np.argsort(-margin, kind="stable")[:take]]
            mask[chosen] = True
            budget -= take
    return mask


def rank_issues(
    labels: np.ndarray, proba: np.ndarray, *, method: str = "self_confidence"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(order, is_issue, score)``: every entry's position ranked flagged-first, then by score.

    ``order[0]`` is the entry most likely mislabelled. Ties keep the input order.
    """
    y, p = _check(labels, proba)
    score = label_quality(y, p, method=method)
    issue = find_issues(y, p)
    order = np.lexsort((np.arange(len(y)), score, ~issue))
    return order, issue, score


# --- out-of-fold probabilities ---------------------------------------------------------------


def _folds(frame: pd.DataFrame, n_folds: int, seed: int) -> list[np.ndarray]:
    """Test positions of each fold: whole cases, in a seeded order, each case going to the fold
    with the fewest rows so far (folds of near-equal size; fast where sklearn's
    StratifiedGroupKFold takes seconds on a few hundred cases)."""
    if n_folds < 2:
        raise LabelIssuesError(f"folds must be 2 or more, got {n_folds}")
    groups = frame["group"].astype(str).to_numpy()
    keys, inverse = np.unique(groups, return_inverse=True)  # sorted: independent of row order
    inverse = inverse.ravel()
    if len(keys) < n_folds:
        raise LabelIssuesError(
            f"{len(keys)} case(s) cannot fill {n_folds} folds grouped by case; use fewer folds"
        )
    sizes = np.bincount(inverse, minlength=len(keys))
    assign = np.empty(len(keys), dtype=int)
    filled = np.zeros(n_folds, dtype=int)
    for g in np.random.default_rng(seed).permutation(len(keys)):
        f = int(filled.argmin())
        assign[g] = f
        filled[f] += sizes[g]
    row_fold = assign[inverse]
    return [np.flatnonzero(row_fold == f) for f in range(n_folds)]


def out_of_fold_proba(
    frame: pd.DataFrame,
    *,
    heads: Sequence[str] = ("oversight_type", "content"),
    folds: int = 5,
    model: str = "baseline",
    model_params: Mapping[str, Any] | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Each entry's probabilities (per head, columns in ``HEAD_LABELS`` order) from a model fitted
    on the other folds; folds are whole cases (``group``), so nothing leaks between them.

    ``progress(done, total)`` is called after each fold.
    """
    from pipeline.classify import HEAD_LABELS, make_model

    n = len(frame)
    out = {h: np.full((n, len(HEAD_LABELS[h])), np.nan) for h in heads}
    parts = _folds(frame, folds, seed)
    texts = frame["text"].tolist()
    y = {h: frame.get(h) for h in ("oversight_type", "content")}
    for done, test in enumerate(parts, start=1):
        train = np.setdiff1d(np.arange(n), test)
        clf = make_model(model, **dict(model_params or {}))
        clf.fit(
            [texts[i] for i in train],
            None if y["oversight_type"] is None else y["oversight_type"].iloc[train].tolist(),
            None if y["content"] is None else y["content"].iloc[train].tolist(),
        )
        proba = clf.predict_proba([texts[i] for i in test])
        for h in heads:
            if h not in proba:
                raise LabelIssuesError(f"the {h} head could not be fitted in fold {done}")
            out[h][test] = proba[h]
        if progress:
            progress(done, len(parts))
    return out


# --- on a labelled frame ---------------------------------------------------------------------


@dataclass
class LabelIssues:
    """What :func:`find_label_issues` found: the ranked table and a summary of the estimates."""

    table: pd.DataFrame
    summary: dict[str, Any]
    proba: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def issues(self, head: str | None = None) -> pd.DataFrame:
        """The flagged rows (of one head, or both), most likely wrong first."""
        t = self.table[self.table["is_issue"]]
        return t if head is None else t[t["head"] == head]


def _head_summary(
    head: str, labels: np.ndarray, proba: np.ndarray, classes: Sequence[str], issue: np.ndarray
) -> dict[str, Any]:
    joint = estimate_joint(labels, proba)
    cj = confident_joint(labels, proba)
    thresholds = per_class_thresholds(labels, proba)
    predicted = proba.argmax(axis=1)
    return {
        "n": int(len(labels)),
        "n_issues": int(issue.sum()),
        "issue_rate": float(issue.mean()) if len(labels) else 0.0,
        "estimated_noise_rate": float(1.0 - np.trace(joint)),
        "out_of_fold_accuracy": float((predicted == labels).mean()) if len(labels) else 0.0,
        "labels": list(classes),
        "thresholds": {
            c: (float(t) if np.isfinite(t) else None)
            for c, t in zip(classes, thresholds, strict=True)
        },
        "confident_joint": cj.tolist(),
        "estimated_joint": np.round(joint, 6).tolist(),
        "issues_by_given_label": {
            c: int((issue & (labels == j)).sum()) for j, c in enumerate(classes)
        },
    }


def find_label_issues(
    frame: pd.DataFrame,
    *,
    heads: Sequence[str] = ("oversight_type", "content"),
    folds: int = 5,
    model: str = "baseline",
    model_params: Mapping[str, Any] | None = None,
    rank_by: str = "self_confidence",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> LabelIssues:
    """Rank the entries of a labelled frame (``pipeline.datasets``) by how likely each head's
    label is wrong, and flag the likely wrong ones (confident learning, see the module doc).

    A head the frame has no label for is skipped; rows missing one head's label are left out of
    that head's table.
    """
    from pipeline.classify import HEAD_LABELS

    if rank_by not in RANK_METHODS:
        raise LabelIssuesError(f"unknown rank method {rank_by!r}; choose one of {RANK_METHODS}")
    missing = [c for c in ("text", "group") if c not in frame.columns]
    if missing:
        raise LabelIssuesError(f"the labelled frame has no {', '.join(missing)} column")
    heads = [h for h in heads if h in frame.columns and frame[h].notna().any()]
    if not heads:
        raise LabelIssuesError("no oversight_type or content labels to check")
    start = time.perf_counter()
    frame = frame.reset_index(drop=True)
    proba = out_of_fold_proba(
        frame,
        heads=heads,
        folds=folds,
        model=model,
        model_params=model_params,
        seed=seed,
        progress=progress,
    )
    tables, per_head = [], {}
    for h in heads:
        classes = list(HEAD_LABELS[h])
        keep = frame[h].notna().to_numpy()
        pos = {c: j for j, c in enumerate(classes)}
        y = np.asarray([pos[str(v)] for v in frame.loc[keep, h]], dtype=int)
        p = proba[h][keep]
        order, issue, score = rank_issues(y, p, method=rank_by)
        others = p.copy()
        others[np.arange(len(y)), y] = -np.inf
        suggested = others.argmax(axis=1)
        sub = frame.loc[keep].reset_index(drop=True)
        table = pd.DataFrame(
            {
                "head": h,
                "contact_id": sub["id"].astype("string") if "id" in sub else pd.NA,
                "crn": sub["crn"].astype("string") if "crn" in sub else pd.NA,
                "given_label": [classes[j] for j in y],
                "suggested_label": [classes[j] for j in suggested],
                "score": score,
                "p_given": p[np.arange(len(y)), y],
                "p_suggested": p[np.arange(len(y)), suggested],
                "is_issue": issue,
                "text": sub["text"].astype("string"),
            }
        ).iloc[order]
        table.insert(1, "rank", np.arange(1, len(table) + 1))
        tables.append(table)
        per_head[h] = _head_summary(h, y, p, classes, issue)
    table = pd.concat(tables, ignore_index=True)[list(ISSUE_COLUMNS)]
    summary = {
        "method": "confident learning: prune by noise rate, ranked by " + rank_by,
        "citation": CITATION,
        "n_entries": int(len(frame)),
        "n_cases": int(frame["group"].nunique()),
        "folds": folds,
        "seed": seed,
        "model": model,
        "model_params": {k: _jsonable(v) for k, v in dict(model_params or {}).items()},
        "seconds": round(time.perf_counter() - start, 2),
        "heads": per_head,
    }
    return LabelIssues(table=table, summary=summary, proba=proba)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def write_label_issues(
    result: LabelIssues, out_dir: str | os.PathLike[str], *, all_rows: bool = False
) -> dict[str, Path]:
    """Write ``label_issues.csv`` and ``.parquet`` (the flagged rows, or every row ranked with
    ``all_rows``; redacted text only) and ``label_issues_summary.json``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = result.table if all_rows else result.issues()
    paths = {
        "csv": out / "label_issues.csv",
        "parquet": out / "label_issues.parquet",
        "summary": out / "label_issues_summary.json",
    }
    table.to_csv(paths["csv"], index=False)
    table.to_parquet(paths["parquet"], index=False)
    summary = {**result.summary, "rows_written": int(len(table)), "all_rows": all_rows}
    paths["summary"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return paths


# --- the flipped-label benchmark -------------------------------------------------------------


def flip_labels(
    frame: pd.DataFrame,
    *,
    rate: float = 0.05,
    heads: Sequence[str] = ("oversight_type", "content"),
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A copy of ``frame`` with exactly ``round(rate * n)`` labels of each head changed to another
    label drawn at random; returns it and, per head, the mask of flipped rows."""
    from pipeline.classify import HEAD_LABELS

    if not 0 <= rate < 1:
        raise LabelIssuesError(f"rate must be in [0, 1), got {rate}")
    rng = np.random.default_rng(seed)
    out = frame.copy().reset_index(drop=True)
    masks = {}
    for h in heads:
        n = len(out)
        chosen = rng.choice(n, size=int(round(rate * n)), replace=False)
        values = out[h].astype(object).to_numpy(copy=True)
        for i in chosen:
            others = [c for c in HEAD_LABELS[h] if c != values[i]]
            values[i] = others[rng.integers(len(others))]
        out[h] = values
        mask = np.zeros(n, dtype=bool)
        mask[chosen] = True
        masks[h] = mask
    return out, masks


def recovery(
    result: LabelIssues, flipped: Mapping[str, Sequence[str]], *, top_fraction: float = 0.1
) -> dict[str, dict[str, float]]:
    """Per head: precision and recall of the known flipped entries (their contact ids) in the top
    ``top_fraction`` of the ranking, and of the flagged set."""
    if not 0 < top_fraction <= 1:
        raise LabelIssuesError(f"top_fraction must be in (0, 1], got {top_fraction}")
    out = {}
    for h, flipped_ids in flipped.items():
        wanted = {str(i) for i in flipped_ids}
        t = result.table[result.table["head"] == h]
        if t.empty:
            raise LabelIssuesError(f"no ranked rows for the {h} head")
        hit = t["contact_id"].astype(str).isin(wanted).to_numpy()
        k = max(1, int(round(top_fraction * len(t))))
        flagged = t["is_issue"].to_numpy()
        n_flipped = len(wanted)
        out[h] = {
            "n": int(len(t)),
            "n_flipped": n_flipped,
            "top_k": k,
            "precision_at_top": float(hit[:k].mean()),
            "recall_at_top": float(hit[:k].sum() / max(n_flipped, 1)),
            "n_flagged": int(flagged.sum()),
            "flagged_precision": float(hit[flagged].mean()) if flagged.any() else 0.0,
            "flagged_recall": float(hit[flagged].sum() / max(n_flipped, 1)),
        }
    return out


def flipped_label_benchmark(
    cases: int = 2000,
    *,
    rate: float = 0.05,
    seed: int = 0,
    folds: int = 5,
    model_params: Mapping[str, Any] | None = None,
    top_fraction: float = 0.1,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Generate ``cases`` synthetic cases without label noise, flip exactly ``rate`` of each head's
    labels, run :func:`find_label_issues` and measure how many flips the top of the ranking holds.
    """
    from pipeline.datasets import load_synth
    from pipeline.synth import generate, write_synth

    start = time.perf_counter()
    synth = generate(cases, seed=seed, noise_rate=0.0, workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        write_synth(synth, Path(tmp), fmt="parquet")
        frame = load_synth(tmp)
    noisy, masks = flip_labels(frame, rate=rate, seed=seed)
    result = find_label_issues(
        noisy, folds=folds, model_params=model_params, seed=seed, progress=progress
    )
    ids = noisy["id"].astype(str).to_numpy()
    return {
        "cases": cases,
        "entries": int(len(noisy)),
        "rate": rate,
        "folds": folds,
        "model_params": {k: _jsonable(v) for k, v in dict(model_params or {}).items()},
        "top_fraction": top_fraction,
        "heads": recovery(result, {h: ids[m] for h, m in masks.items()}, top_fraction=top_fraction),
        "estimated_noise_rate": {
            h: s["estimated_noise_rate"] for h, s in result.summary["heads"].items()
        },
        "seconds": round(time.perf_counter() - start, 1),
    }
