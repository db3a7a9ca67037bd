"""Metrics, intervals, calibration and error analysis for the classifiers; plots and files.

Everything is computed from true labels and predicted probabilities (``model.predict_proba``),
one head at a time, and returned as plain dicts and DataFrames:

* **macro-F1**: the unweighted mean of the per-class F1 over the labels that occur in the true
  or the predicted labels (as scikit-learn's default), with a **bootstrap 95% interval**
  (percentile method, ``n_boot`` resamples): resampling entries, and, when ``groups`` (CRN) are
  given, resampling whole cases (a cluster bootstrap: entries of one case are not independent,
  so this interval is the honest one for a per-case sample). Per-class F1 gets the same
  intervals.
* **per class**: precision, recall, F1, support (true count) and predicted count.
* **confusion matrix** (rows true, columns predicted, the head's label order).
* **calibration**: top-label **expected calibration error** with ``n_bins`` equal-width
  confidence bins (default 15) over [0, 1]: bin ``b`` holds the entries whose top probability
  lies in ``(b/n, (b+1)/n]`` (the first bin also takes 0); ECE = sum over bins of
  (entries in bin / all entries) x |accuracy in bin - mean top probability in bin|. The
  reliability table gives each bin's count, confidence and accuracy.
* **errors**: the misclassified entries (id, head, true and predicted label, the predicted
  label's and the true label's probability, redacted text), most confident mistakes first.

:func:`write_evaluation` writes ``metrics.json``, ``per_class.csv``, ``reliability.csv``,
``errors.csv``, ``confusion_<head>.png`` and ``reliability_<head>.png`` (matplotlib's Agg
backend). Error texts are passed through the redactor once more before they are kept: texts
should arrive redacted already (the datasets are), and redacting twice changes nothing.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import EvaluationError

DEFAULT_BINS = 15
DEFAULT_BOOT = 1000
CONFIDENCE = 0.95
#: replicates per batch in the vectorised bootstrap (bounds memory)
_BATCH = 200


# --- confusion and F1 ------------------------------------------------------------------------


def _encode(values: Sequence[Any], labels: Sequence[str], what: str) -> np.ndarray:
    index = {lab: i for i, lab in enumerate(labels)}
    out = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        j = index.get(v)
        if j is None:
            raise EvaluationError(
                f"{what}: label {v!r} at position {i} is not one of {list(labels)}"
            )
        out[i] = j
    return out


def confusion(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """Counts, rows the true label and columns the predicted one, in ``labels`` order."""
    if len(y_true) != len(y_pred):
        raise EvaluationError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    k = len(labels)
    t = _encode(list(y_true), labels, "y_true")
    p = _encode(list(y_pred), labels, "y_pred")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _f1_parts(cm: np.ndarray) -> tuple[np.ndarray, ...]:
    """precision, recall, F1, support, predicted, present for a (..., k, k) stack."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        denom = support + predicted
        f1 = np.where(denom > 0, 2 * tp / denom, 0.0)
    present = (support + predicted) > 0
    return precision, recall, f1, support, predicted, present


def macro_f1_from_confusion(cm: np.ndarray) -> np.ndarray | float:
    """Macro-F1 of one confusion matrix (a float) or of a stack of them (an array): the mean
    F1 over the labels that occur in the true or the predicted labels."""
    _, _, f1, _, _, present = _f1_parts(cm)
    n = present.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n > 0, (f1 * present).sum(axis=-1) / np.maximum(n, 1), 0.0)
    return float(out) if np.ndim(out) == 0 else out


def macro_f1(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] | None = None
) -> float:
    """Macro-F1 (see :func:`macro_f1_from_confusion`)."""
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    return float(macro_f1_from_confusion(confusion(y_true, y_pred, labels)))


def per_class_table(cm: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """label, precision, recall, f1, support, predicted: one row per label."""
    precision, recall, f1, support, predicted, _ = _f1_parts(cm)
    return pd.DataFrame(
        {
            "label": list(labels),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype(int),
            "predicted": predicted.astype(int),
        }
    )


# --- bootstrap -------------------------------------------------------------------------------


def _cluster_confusions(t: np.ndarray, p: np.ndarray, k: int, groups: Sequence[Any]) -> np.ndarray:
    """One flattened confusion matrix per case."""
    pair = t * k + p
    _, g = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    g = g.ravel()
    n_groups = int(g.max()) + 1 if len(g) else 0
    flat = np.bincount(g * (k * k) + pair, minlength=n_groups * k * k)
    return flat.reshape(n_groups, k * k).astype(np.float64)


def bootstrap_confusions(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str],
    *,
    groups: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
) -> np.ndarray:
    """``n_boot`` resampled confusion matrices, shape (n_boot, k, k): entries drawn with
    replacement, or whole cases when ``groups`` is given (a cluster bootstrap)."""
    if n_boot < 1:
        raise EvaluationError("n_boot must be at least 1")
    if groups is not None and len(groups) != len(y_true):
        raise EvaluationError(f"{len(groups)} groups for {len(y_true)} entries")
    k = len(labels)
    t = _encode(list(y_true), labels, "y_true")
    p = _encode(list(y_pred), labels, "y_pred")
    if groups is not None and len(t) == 0:
        return np.zeros((n_boot, k, k))
    rng = np.random.default_rng(seed)
    if groups is None:
        # entries drawn with replacement: the resampled confusion counts are multinomial
        n = len(t)
        if n == 0:
            return np.zeros((n_boot, k, k))
        freq = np.bincount(t * k + p, minlength=k * k) / n
        return rng.multinomial(n, freq, size=n_boot).reshape(n_boot, k, k).astype(np.float64)
    units = _cluster_confusions(t, p, k, groups)
    m = len(units)
    out = np.empty((n_boot, k * k))
    for start in range(0, n_boot, _BATCH):
        b = min(_BATCH, n_boot - start)
        draws = rng.integers(0, m, size=(b, m))
        counts = np.bincount((np.arange(b)[:, None] * m + draws).ravel(), minlength=b * m)
        out[start : start + b] = counts.reshape(b, m).astype(np.float64) @ units
    return out.reshape(n_boot, k, k)


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(values, [alpha, 1.0 - alpha], axis=0)
    return lo, hi


def bootstrap_ci(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    labels: Sequence[str] | None = None,
    *,
    groups: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> dict[str, Any]:
    """Macro-F1 with a percentile bootstrap interval: ``{"point", "low", "high", "confidence",
    "n_boot", "resample" ("entries" or "cases"), "n_units"}``."""
    if not 0 < confidence < 1:
        raise EvaluationError("confidence must be between 0 and 1")
    labels = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    point = macro_f1(y_true, y_pred, labels)
    boots = bootstrap_confusions(y_true, y_pred, labels, groups=groups, n_boot=n_boot, seed=seed)
    lo, hi = _interval(np.asarray(macro_f1_from_confusion(boots)), confidence)
    return {
        "point": point,
        "low": float(lo),
        "high": float(hi),
        "confidence": confidence,
        "n_boot": n_boot,
        "resample": "cases" if groups is not None else "entries",
        "n_units": int(len(set(map(str, groups))) if groups is not None else len(y_true)),
    }


# --- calibration -----------------------------------------------------------------------------


def reliability_table(
    proba: np.ndarray, y_true_index: Sequence[int], n_bins: int = DEFAULT_BINS
) -> pd.DataFrame:
    """Per equal-width bin of the top probability: ``lower``, ``upper``, ``count``,
    ``confidence`` (mean top probability), ``accuracy`` (share whose top label is right),
    ``gap`` (accuracy - confidence). Empty bins have NaN confidence and accuracy."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise EvaluationError("proba must be a 2-D array (entries x classes)")
    if n_bins < 1:
        raise EvaluationError("n_bins must be at least 1")
    y = np.asarray(y_true_index, dtype=np.int64)
    if len(y) != len(proba):
        raise EvaluationError(f"{len(y)} true labels for {len(proba)} probability rows")
    conf = proba.max(axis=1) if len(proba) else np.zeros(0)
    correct = (proba.argmax(axis=1) == y).astype(np.float64) if len(proba) else np.zeros(0)
    b = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(b, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(b, weights=correct, minlength=n_bins) / count
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame(
        {
            "lower": edges[:-1],
            "upper": edges[1:],
            "count": count.astype(int),
            "confidence": confidence,
            "accuracy": accuracy,
            "gap": accuracy - confidence,
        }
    )


def expected_calibration_error(
    proba: np.ndarray, y_true_index: Sequence[int], n_bins: int = DEFAULT_BINS
) -> float:
    """Top-label ECE with ``n_bins`` equal-width bins (see the module docstring)."""
    table = reliability_table(proba, y_true_index, n_bins)
    n = table["count"].sum()
    if n == 0:
        return float("nan")
    filled = table[table["count"] > 0]
    return float((filled["count"] / n * (filled["accuracy"] - filled["confidence"]).abs()).sum())


# --- one head, all heads ---------------------------------------------------------------------


def _present(values: Sequence[Any]) -> np.ndarray:
    return np.asarray(
        [
            not (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or v == "")
            for v in values
        ],
        dtype=bool,
    )


def evaluate_head(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    *,
    groups: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = CONFIDENCE,
    n_bins: int = DEFAULT_BINS,
    seed: int = 0,
) -> dict[str, Any]:
    """All metrics of one head. ``proba`` columns follow ``classes``; entries whose true label
    is missing (None / NaN / "") are left out. Returns a dict with ``n``, ``labels``,
    ``macro_f1``, ``macro_f1_ci`` (entries), ``macro_f1_ci_cases`` (when ``groups``),
    ``accuracy``, ``ece``, ``ece_bins``, ``per_class`` (DataFrame with F1 intervals),
    ``confusion`` (array) and ``reliability`` (DataFrame)."""
    proba = np.asarray(proba, dtype=np.float64)
    y_true = list(y_true)
    if len(y_true) != len(proba):
        raise EvaluationError(f"{len(y_true)} true labels for {len(proba)} probability rows")
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise EvaluationError(f"proba must have one column per class ({len(classes)})")
    keep = _present(y_true)
    y = [v for v, k in zip(y_true, keep, strict=True) if k]
    proba = proba[keep]
    g = [v for v, k in zip(groups, keep, strict=True) if k] if groups is not None else None
    labels = list(classes)
    pred = [labels[i] for i in proba.argmax(axis=1)] if len(proba) else []
    cm = confusion(y, pred, labels)
    table = per_class_table(cm, labels)
    boots = bootstrap_confusions(y, pred, labels, n_boot=n_boot, seed=seed)
    f1_boot = _f1_parts(boots)[2]
    lo, hi = _interval(f1_boot, confidence)
    table["f1_low"], table["f1_high"] = lo, hi
    macro_boot = np.asarray(macro_f1_from_confusion(boots))
    m_lo, m_hi = _interval(macro_boot, confidence)
    point = float(macro_f1_from_confusion(cm))
    out: dict[str, Any] = {
        "n": len(y),
        "labels": labels,
        "macro_f1": point,
        "macro_f1_ci": {
            "low": float(m_lo),
            "high": float(m_hi),
            "confidence": confidence,
            "n_boot": n_boot,
            "resample": "entries",
            "n_units": len(y),
        },
        "accuracy": float(np.trace(cm) / cm.sum()) if cm.sum() else float("nan"),
    }
    if g is not None:
        cboots = bootstrap_confusions(y, pred, labels, groups=g, n_boot=n_boot, seed=seed)
        c_lo, c_hi = _interval(np.asarray(macro_f1_from_confusion(cboots)), confidence)
        out["macro_f1_ci_cases"] = {
            "low": float(c_lo),
            "high": float(c_hi),
            "confidence": confidence,
            "n_boot": n_boot,
            "resample": "cases",
            "n_units": len(set(map(str, g))),
        }
        f_lo, f_hi = _interval(_f1_parts(cboots)[2], confidence)
        table["f1_low_cases"], table["f1_high_cases"] = f_lo, f_hi
    y_index = _encode(y, labels, "y_true")
    out["ece"] = expected_calibration_error(proba, y_index, n_bins)
    out["ece_bins"] = n_bins
    out["per_class"] = table
    out["confusion"] = cm
    out["reliability"] = reliability_table(proba, y_index, n_bins)
    return out


def _safe_texts(texts: Sequence[Any]) -> list[str]:
    from pipeline.nlp.redact import redact

    return [redact(t if isinstance(t, str) else "")[0] for t in texts]


def error_table(
    y_true: Mapping[str, Sequence[str]],
    proba: Mapping[str, np.ndarray],
    classes: Mapping[str, Sequence[str]],
    texts: Sequence[str],
    *,
    ids: Sequence[Any] | None = None,
    max_rows: int | None = None,
) -> pd.DataFrame:
    """Misclassified entries of every head, most confident mistakes first: ``id``, ``head``,
    ``true``, ``pred``, ``proba_pred``, ``proba_true``, ``text`` (redacted again, to be safe)."""
    frames = []
    ids = list(ids) if ids is not None else list(range(len(texts)))
    for head, yt in y_true.items():
        p = np.asarray(proba[head], dtype=np.float64)
        labels = list(classes[head])
        keep = _present(yt)
        if not keep.any():
            continue
        pos = np.flatnonzero(keep)
        t_idx = _encode([yt[i] for i in pos], labels, f"{head} y_true")
        pred_idx = p[pos].argmax(axis=1)
        wrong = pred_idx != t_idx
        if not wrong.any():
            continue
        rows = pos[wrong]
        frames.append(
            pd.DataFrame(
                {
                    "id": [ids[i] for i in rows],
                    "head": head,
                    "true": [labels[j] for j in t_idx[wrong]],
                    "pred": [labels[j] for j in pred_idx[wrong]],
                    "proba_pred": p[rows, pred_idx[wrong]],
                    "proba_true": p[rows, t_idx[wrong]],
                    "_row": rows,
                }
            )
        )
    columns = ["id", "head", "true", "pred", "proba_pred", "proba_true", "text"]
    if not frames:
        return pd.DataFrame(columns=columns)
    errors = pd.concat(frames, ignore_index=True)
    errors = errors.sort_values(
        ["proba_pred", "head", "id"], ascending=[False, True, True], kind="stable"
    )
    if max_rows is not None:
        errors = errors.head(max_rows)
    errors["text"] = _safe_texts([texts[i] for i in errors["_row"]])
    return errors[columns].reset_index(drop=True)


def evaluate(
    y_true: Mapping[str, Sequence[str]],
    proba: Mapping[str, np.ndarray],
    classes: Mapping[str, Sequence[str]],
    *,
    texts: Sequence[str] | None = None,
    ids: Sequence[Any] | None = None,
    groups: Sequence[Any] | None = None,
    n_boot: int = DEFAULT_BOOT,
    confidence: float = CONFIDENCE,
    n_bins: int = DEFAULT_BINS,
    seed: int = 0,
    max_errors: int | None = 500,
) -> dict[str, Any]:
    """Every head's metrics (:func:`evaluate_head`) plus the error table (when ``texts``):
    ``{"heads": {head: {...}}, "errors": DataFrame | None}``."""
    heads = {}
    for head, yt in y_true.items():
        if head not in proba:
            raise EvaluationError(f"no probabilities for head {head!r}")
        heads[head] = evaluate_head(
            yt,
            proba[head],
            classes[head],
            groups=groups,
            n_boot=n_boot,
            confidence=confidence,
            n_bins=n_bins,
            seed=seed,
        )
    errors = (
        error_table(y_true, proba, classes, texts, ids=ids, max_rows=max_errors)
        if texts is not None
        else None
    )
    return {"heads": heads, "errors": errors}


def evaluate_model(
    model: Any,
    frame: pd.DataFrame,
    *,
    features: pd.DataFrame | None = None,
    heads: Sequence[str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Score a fitted model on a labelled frame (``text``, the head columns, optional ``id``
    and ``group``: a dataset split as a DataFrame) and evaluate it (kwargs go to
    :func:`evaluate`; ``groups`` defaults to the frame's ``group`` column)."""
    if "text" not in frame.columns:
        raise EvaluationError("the frame has no 'text' column")
    texts = frame["text"].tolist()
    proba = model.predict_proba(texts, features=features)
    heads = [h for h in (heads or proba.keys()) if h in frame.columns and h in proba]
    if not heads:
        raise EvaluationError("the frame holds none of the model's heads")
    kwargs.setdefault("groups", frame["group"].tolist() if "group" in frame.columns else None)
    kwargs.setdefault("ids", frame["id"].tolist() if "id" in frame.columns else None)
    return evaluate(
        {h: frame[h].tolist() for h in heads},
        {h: proba[h] for h in heads},
        {h: model.classes_[h] for h in heads},
        texts=texts,
        **kwargs,
    )


# --- plots and files -------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(
    cm: np.ndarray, labels: Sequence[str], path: str | os.PathLike[str], *, title: str = ""
) -> Path:
    """A confusion-matrix PNG: cells shaded by the share of their true label (row), annotated
    with the count and that share."""
    plt = _pyplot()
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm, dtype=float), where=rows > 0)
    k = len(labels)
    fig, ax = plt.subplots(figsize=(1.2 * k + 2.5, 1.1 * k + 2.0), dpi=120)
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), labels=list(labels), rotation=35, ha="right")
    ax.set_yticks(range(k), labels=list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{share[i, j]:.0%}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if share[i, j] > 0.6 else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true label")
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_reliability(
    table: pd.DataFrame, path: str | os.PathLike[str], *, title: str = "", ece: float | None = None
) -> Path:
    """A reliability diagram PNG: per confidence bin, the accuracy (bar) and the mean top
    probability (dot; the gap between them is the miscalibration), against the diagonal, with
    the number of entries per bin below."""
    plt = _pyplot()
    fig, (ax, axn) = plt.subplots(
        2, 1, figsize=(5.5, 6.0), dpi=120, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    width = float((table["upper"] - table["lower"]).iloc[0]) if len(table) else 0.1
    centres = ((table["lower"] + table["upper"]) / 2).to_numpy()
    filled = table["count"].to_numpy() > 0
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    ax.bar(
        centres[filled],
        table["accuracy"].to_numpy()[filled],
        width=width * 0.9,
        color="#4c72b0",
        alpha=0.8,
        label="accuracy",
    )
    ax.plot(
        centres[filled],
        table["confidence"].to_numpy()[filled],
        "o",
        color="#dd8452",
        ms=4,
        label="mean confidence in bin",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    name = title or "reliability"
    ax.set_title(f"{name} (ECE {ece:.3f})" if ece is not None else name)
    ax.legend(loc="upper left", fontsize=8)
    axn.bar(centres, table["count"].to_numpy(), width=width * 0.9, color="grey")
    counts = table["count"].to_numpy()
    if counts.max(initial=0) > 100 * max(counts[counts > 0].min(initial=1), 1):
        axn.set_yscale("log")
    axn.set_xlabel(f"top-label probability ({len(table)} equal-width bins)")
    axn.set_ylabel("entries")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out


def metrics_dict(evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-ready part of an evaluation: scalars, intervals, confusion matrices and
    per-class rows for every head."""
    out: dict[str, Any] = {}
    for head, r in evaluation["heads"].items():
        out[head] = {
            "n": r["n"],
            "labels": list(r["labels"]),
            "macro_f1": r["macro_f1"],
            "macro_f1_ci": r["macro_f1_ci"],
            **({"macro_f1_ci_cases": r["macro_f1_ci_cases"]} if "macro_f1_ci_cases" in r else {}),
            "accuracy": r["accuracy"],
            "ece": r["ece"],
            "ece_bins": r["ece_bins"],
            "confusion": np.asarray(r["confusion"]).tolist(),
            "per_class": r["per_class"].to_dict("records"),
        }
    return out


def write_evaluation(
    evaluation: Mapping[str, Any], folder: str | os.PathLike[str]
) -> dict[str, Path]:
    """Write ``metrics.json``, ``per_class.csv``, ``reliability.csv``, ``errors.csv`` and the
    PNGs under ``folder``; returns the paths by name."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    metrics = metrics_dict(evaluation)
    paths["metrics"] = out / "metrics.json"
    paths["metrics"].write_text(json.dumps(metrics, indent=2, default=float) + "\n", "utf-8")
    per_class = pd.concat(
        [r["per_class"].assign(head=h) for h, r in evaluation["heads"].items()], ignore_index=True
    )
    paths["per_class"] = out / "per_class.csv"
    per_class[["head", *[c for c in per_class.columns if c != "head"]]].to_csv(
        paths["per_class"], index=False
    )
    reliability = pd.concat(
        [r["reliability"].assign(head=h) for h, r in evaluation["heads"].items()], ignore_index=True
    )
    paths["reliability"] = out / "reliability.csv"
    reliability[["head", *[c for c in reliability.columns if c != "head"]]].to_csv(
        paths["reliability"], index=False
    )
    errors = evaluation.get("errors")
    if errors is not None:
        paths["errors"] = out / "errors.csv"
        errors.to_csv(paths["errors"], index=False)
    for head, r in evaluation["heads"].items():
        paths[f"confusion_{head}"] = plot_confusion(
            r["confusion"], r["labels"], out / f"confusion_{head}.png", title=f"{head} (n={r['n']})"
        )
        paths[f"reliability_{head}"] = plot_reliability(
            r["reliability"], out / f"reliability_{head}.png", title=head, ece=r["ece"]
        )
    return paths
