"""The learning-curve experiment: does uncertainty sampling beat random for the same labels?

A simulated annotator labels synthetic entries (the generator's clean labels, optionally with a
share flipped, as a tired annotator would). The entries are split by case into a pool and a
test set; for every seed, each strategy starts from the same random seed set, then in rounds
fits the model on what is labelled, scores the test set (macro-F1 of both heads) and asks
:func:`pipeline.annotate.sampling.select` for the next batch of the pool. Seeds give the spread.

:func:`simulate` returns the long table of the curves; :func:`summarise` the means, spreads and
the head-to-head comparison; :func:`plot_curves` the PNG (mean and a band of one standard
deviation across seeds); :func:`run_learning_curve` does it all, writes the files and records
an MLflow run (parameters, metrics per step, the plot and tables; never any text).

Example:
    >>> from pipeline.annotate.learning_curve import run_learning_curve
    >>> run_learning_curve(cases=400, seed_size=30, batch=30, rounds=6, seeds=3,
    ...                    out_dir="data/processed/learning_curve")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.annotate.sampling import STRATEGIES, select
from pipeline.errors import LearningCurveError

log = logging.getLogger(__name__)

HEADS: tuple[str, ...] = ("oversight_type", "content")
#: Columns of the curve table: one row per strategy, seed and round.
CURVE_COLUMNS: tuple[str, ...] = (
    "strategy",
    "seed",
    "round",
    "n_labelled",
    "oversight_type_macro_f1",
    "content_macro_f1",
)
#: The baseline as the experiment fits it: its own probabilities (isotonic calibration needs
#: more examples per class than a seed set has) and one thread (many small fits).
CURVE_BASELINE: dict[str, Any] = {"calibration": "none", "n_jobs": 1}
#: The strategies compared by default.
DEFAULT_STRATEGIES: tuple[str, ...] = ("uncertainty", "random")
EXPERIMENT = "learning-curve"


@dataclass
class LearningCurve:
    """What :func:`run_learning_curve` produced."""

    curve: pd.DataFrame
    summary: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None


@contextmanager
def _quiet_classifier() -> Iterator[None]:
    """Tiny seed sets miss some labels by design; the classifier's per-fit warnings about it
    would drown the progress bar, so they are held back while the experiment runs."""
    logger = logging.getLogger("pipeline.classify")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_config(
    *, n_pool: int, seed_size: int, batch: int, rounds: int, seeds: int, strategies: Sequence[str]
) -> None:
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad or not strategies:
        raise LearningCurveError(f"strategies must be some of {STRATEGIES}, got {list(strategies)}")
    if seed_size < 2 or batch < 1 or rounds < 0 or seeds < 1:
        raise LearningCurveError(
            "need seed_size >= 2, batch >= 1, rounds >= 0 and seeds >= 1; got "
            f"seed_size={seed_size}, batch={batch}, rounds={rounds}, seeds={seeds}"
        )
    needed = seed_size + batch * rounds
    if needed > n_pool:
        raise LearningCurveError(
            f"seed_size + batch x rounds = {needed} labels, but the pool holds {n_pool} entries; "
            "use more cases or fewer rounds"
        )


def simulate(
    pool: pd.DataFrame,
    test: pd.DataFrame,
    *,
    seed_size: int = 30,
    batch: int = 30,
    rounds: int = 8,
    seeds: int = 3,
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    model: str = "baseline",
    model_params: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """The curves: for each seed and strategy, macro-F1 on ``test`` after each round.

    ``pool`` holds the annotator's labels (revealed only once an entry is selected); ``test``
    the labels scored against. Round 0 is the random seed set, the same for every strategy of a
    seed; each later round adds ``batch`` entries chosen by the strategy. ``progress(done,
    total)`` is called after each fit.
    """
    from pipeline.classify import HEAD_LABELS, make_model
    from pipeline.evaluate import macro_f1

    _check_config(
        n_pool=len(pool),
        seed_size=seed_size,
        batch=batch,
        rounds=rounds,
        seeds=seeds,
        strategies=strategies,
    )
    texts = pool["text"].tolist()
    y_pool = {h: pool[h].to_numpy(dtype=object) for h in HEADS}
    test_texts = test["text"].tolist()
    y_test = {h: test[h].astype(str).tolist() for h in HEADS}
    params = dict(CURVE_BASELINE if model_params is None else model_params)
    total = seeds * len(strategies) * (rounds + 1)
    done = 0
    rows: list[dict[str, Any]] = []
    with _quiet_classifier():
        for s in range(seeds):
            initial = select(seed_size, strategy="random", n_rows=len(pool), seed=s)
            for strategy in strategies:
                labelled = np.zeros(len(pool), dtype=bool)
                labelled[initial] = True
                for r in range(rounds + 1):
                    idx = np.flatnonzero(labelled)
                    clf = make_model(model, **params)
                    try:
                        clf.fit(
                            [texts[i] for i in idx],
                            y_pool["oversight_type"][idx],
                            y_pool["content"][idx],
                        )
                    except ValueError as exc:  # ModelInputError: too few labels of a head
                        raise LearningCurveError(
                            f"seed {s}, {strategy}, round {r}: cannot fit on {len(idx)} "
                            f"labelled entries ({exc}); use a larger seed_size"
                        ) from None
                    pred = clf.predict(test_texts)
                    row: dict[str, Any] = {
                        "strategy": strategy,
                        "seed": s,
                        "round": r,
                        "n_labelled": int(len(idx)),
                    }
                    for h in HEADS:
                        row[f"{h}_macro_f1"] = macro_f1(
                            y_test[h], pred[h].astype(str).tolist(), labels=HEAD_LABELS[h]
                        )
                    rows.append(row)
                    done += 1
                    if progress:
                        progress(done, total)
                    if r == rounds:
                        break
                    labelled[
                        _next_batch(clf, texts, labelled, strategy, batch, seed=s * 1000 + r)
                    ] = True
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def _next_batch(
    clf: Any, texts: list[str], labelled: np.ndarray, strategy: str, batch: int, *, seed: int
) -> np.ndarray:
    """The pool positions the strategy picks next (only the model's view, never the labels)."""
    if strategy == "random":
        return select(batch, strategy="random", exclude=labelled, seed=seed)
    proba = clf.predict_proba(texts)
    if strategy == "uncertainty":
        return select(
            batch,
            strategy="uncertainty",
            type_proba=proba.get("oversight_type"),
            content_proba=proba.get("content"),
            exclude=labelled,
            seed=seed,
        )
    # stratified: spread over the predicted oversight type x content
    strata = [
        f"{t}|{c}"
        for t, c in zip(
            proba["oversight_type"].argmax(axis=1), proba["content"].argmax(axis=1), strict=True
        )
    ]
    return select(batch, strategy="stratified", strata=strata, exclude=labelled, seed=seed)


def summarise(curve: pd.DataFrame) -> dict[str, Any]:
    """Means and standard deviations per strategy and step, and how the strategies compare.

    ``area`` is the mean macro-F1 over the rounds (the normalised area under the curve): one
    number for "better with few labels". ``vs_random`` gives, per other strategy and head, the
    mean difference in area, how many seeds it was ahead, and the difference at every step.
    """
    out: dict[str, Any] = {"steps": sorted(int(n) for n in curve["n_labelled"].unique())}
    by_strategy: dict[str, Any] = {}
    for strategy, part in curve.groupby("strategy", sort=False):
        heads = {}
        for h in HEADS:
            col = f"{h}_macro_f1"
            grouped = part.groupby("n_labelled")[col]
            per_seed_area = part.groupby("seed")[col].mean()
            heads[h] = {
                "mean": [round(float(v), 4) for v in grouped.mean()],
                "sd": [round(float(v), 4) for v in grouped.std(ddof=1).fillna(0.0)],
                "final_mean": round(float(grouped.mean().iloc[-1]), 4),
                "area_mean": round(float(per_seed_area.mean()), 4),
                "area_sd": round(float(per_seed_area.std(ddof=1)), 4)
                if len(per_seed_area) > 1
                else 0.0,
            }
        by_strategy[str(strategy)] = heads
    out["strategies"] = by_strategy
    if "random" in by_strategy:
        comparisons: dict[str, Any] = {}
        rand = curve[curve["strategy"] == "random"]
        for strategy in by_strategy:
            if strategy == "random":
                continue
            other = curve[curve["strategy"] == strategy]
            heads = {}
            for h in HEADS:
                col = f"{h}_macro_f1"
                a = other.groupby("seed")[col].mean()
                b = rand.groupby("seed")[col].mean()
                step_a = other.groupby("n_labelled")[col].mean()
                step_b = rand.groupby("n_labelled")[col].mean()
                heads[h] = {
                    "area_difference": round(float((a - b).mean()), 4),
                    "seeds_ahead": int(((a - b) > 0).sum()),
                    "seeds": int(len(a)),
                    "step_difference": [round(float(v), 4) for v in (step_a - step_b)],
                }
            comparisons[strategy] = heads
        out["vs_random"] = comparisons
    return out


def plot_curves(curve: pd.DataFrame, path: str | os.PathLike[str], *, title: str = "") -> Path:
    """PNG of macro-F1 against labelled entries, one panel per head: the mean across seeds and
    a band of one standard deviation, per strategy."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(HEADS), figsize=(8.5, 3.4), sharex=True)
    colours = {"uncertainty": "tab:blue", "random": "tab:orange", "stratified": "tab:green"}
    n_seeds = curve["seed"].nunique()
    for ax, h in zip(axes, HEADS, strict=True):
        col = f"{h}_macro_f1"
        for strategy, part in curve.groupby("strategy", sort=False):
            g = part.groupby("n_labelled")[col]
            mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
            colour = colours.get(str(strategy))
            ax.plot(mean.index, mean.to_numpy(), marker="o", ms=3, label=strategy, color=colour)
            ax.fill_between(mean.index, mean - sd, mean + sd, alpha=0.2, color=colour)
        ax.set_title(h)
        ax.set_xlabel("labelled entries")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"test macro-F1 (mean ± sd, {n_seeds} seeds)")
    axes[0].legend(loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _load_data(
    data: Sequence[str | os.PathLike[str]] | None, *, cases: int, data_seed: int
) -> pd.DataFrame:
    """The annotator's truth: given sources' clean labels, or a fresh noiseless synthetic export."""
    from pipeline.datasets import load_labelled, load_synth

    if data:
        return load_labelled(list(data), clean_labels=True)
    from pipeline.synth import generate, write_synth

    synth = generate(cases, seed=data_seed, noise_rate=0.0, workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        write_synth(synth, Path(tmp), fmt="parquet")
        return load_synth(tmp)


def run_learning_curve(
    *,
    data: Sequence[str | os.PathLike[str]] | None = None,
    cases: int = 400,
    data_seed: int = 0,
    test_size: float = 0.3,
    seed_size: int = 30,
    batch: int = 30,
    rounds: int = 8,
    seeds: int = 3,
    strategies: Sequence[str] = DEFAULT_STRATEGIES,
    annotator_noise: float = 0.0,
    model: str = "baseline",
    model_params: Mapping[str, Any] | None = None,
    out_dir: str | os.PathLike[str] = "data/processed/learning_curve",
    plot_path: str | os.PathLike[str] | None = None,
    track: bool = True,
    tracking_uri: str | None = None,
    experiment: str = EXPERIMENT,
    progress: Callable[[int, int], None] | None = None,
) -> LearningCurve:
    """Run the experiment end to end and write ``learning_curve.csv``,
    ``learning_curve_summary.json`` and the plot (default ``<out_dir>/learning_curve.png``).

    The data are ``data`` (any labelled sources; their clean labels where a generator folder
    has them) or a noiseless synthetic export of ``cases`` cases. The pool / test split is by
    case; with ``annotator_noise`` that share of the pool's labels is flipped (the test labels
    stay true). With ``track`` one MLflow run holds the parameters, the mean macro-F1 of each
    strategy and head per step (``step`` = labelled entries) and the files.
    """
    from pipeline.annotate.label_issues import flip_labels
    from pipeline.datasets import split_by_case

    start = time.perf_counter()
    if not 0 <= annotator_noise < 0.5:
        raise LearningCurveError(f"annotator_noise must be in [0, 0.5), got {annotator_noise}")
    frame = _load_data(data, cases=cases, data_seed=data_seed)
    frame = frame.dropna(subset=list(HEADS)).reset_index(drop=True)
    try:
        splits = split_by_case(
            frame,
            validation_size=0,
            test_size=test_size,
            seed=data_seed,
            require_all_classes=False,
        )
    except ValueError as exc:
        raise LearningCurveError(f"cannot split the data into pool and test: {exc}") from None
    pool, test = splits["train"], splits["test"]
    if annotator_noise:
        pool, _ = flip_labels(pool, rate=annotator_noise, seed=data_seed)
    config = {
        "cases": cases if not data else None,
        "data_seed": data_seed,
        "test_size": test_size,
        "seed_size": seed_size,
        "batch": batch,
        "rounds": rounds,
        "seeds": seeds,
        "strategies": list(strategies),
        "annotator_noise": annotator_noise,
        "model": model,
        "model_params": dict(CURVE_BASELINE if model_params is None else model_params),
        "pool_entries": int(len(pool)),
        "test_entries": int(len(test)),
    }
    curve = simulate(
        pool,
        test,
        seed_size=seed_size,
        batch=batch,
        rounds=rounds,
        seeds=seeds,
        strategies=strategies,
        model=model,
        model_params=model_params,
        progress=progress,
    )
    summary = {**config, **summarise(curve), "seconds": round(time.perf_counter() - start, 1)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    outputs = {
        "curve": out / "learning_curve.csv",
        "summary": out / "learning_curve_summary.json",
        "plot": Path(plot_path) if plot_path else out / "learning_curve.png",
    }
    curve.to_csv(outputs["curve"], index=False)
    outputs["summary"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    plot_curves(
        curve,
        outputs["plot"],
        title=(
            f"{len(pool):,} pool / {len(test):,} test entries; seed set {seed_size}, "
            f"batches of {batch}"
        ),
    )
    run_id = (
        _track(curve, summary, config, outputs, frame, tracking_uri, experiment) if track else None
    )
    return LearningCurve(
        curve=curve,
        summary=summary,
        outputs={k: str(v) for k, v in outputs.items()},
        run_id=run_id,
    )


def _track(
    curve: pd.DataFrame,
    summary: Mapping[str, Any],
    config: Mapping[str, Any],
    outputs: Mapping[str, Path],
    frame: pd.DataFrame,
    tracking_uri: str | None,
    experiment: str,
) -> str:
    """One MLflow run: parameters, per-step mean / sd metrics, the area comparison, the files."""
    import mlflow

    from pipeline import tracking

    data_id = tracking.fingerprint(frame, ["id", "oversight_type", "content"])
    with tracking.run(
        "learning-curve",
        params=config,
        tags={"data_fingerprint": data_id},
        experiment=experiment,
        tracking_uri=tracking_uri,
    ) as active:
        for strategy, part in curve.groupby("strategy", sort=False):
            for h in HEADS:
                g = part.groupby("n_labelled")[f"{h}_macro_f1"]
                for n, mean, sd in zip(
                    g.mean().index, g.mean(), g.std(ddof=1).fillna(0.0), strict=True
                ):
                    mlflow.log_metric(f"{strategy}_{h}_macro_f1", float(mean), step=int(n))
                    mlflow.log_metric(f"{strategy}_{h}_macro_f1_sd", float(sd), step=int(n))
        for strategy, heads in summary.get("vs_random", {}).items():
            for h, comp in heads.items():
                mlflow.log_metric(f"{strategy}_vs_random_{h}_area_diff", comp["area_difference"])
        for path in outputs.values():
            mlflow.log_artifact(str(path))
        return active.info.run_id
