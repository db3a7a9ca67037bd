"""Train and evaluate runs: labelled data in, a fitted model, metrics and plots out, all tracked.

``train`` loads labelled sources (generator folders, researchers' files, Label Studio exports;
all redacted on the way in), splits them by case, fits the model named in config, evaluates it
on the held-out test split, saves it under ``models/<name>/``, and records an MLflow run with the
parameters, metrics, plots, a fingerprint of the data and the git commit; the model is logged as a
pyfunc and registered with the ``champion`` alias that ``score`` resolves.

``evaluate`` scores a saved or registered model on its held-out split or on any external
labelled source, writes metrics.json, per-class and error tables and PNG plots, and records an
MLflow run too.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import config, tracking
from pipeline.classify import load_model, make_model
from pipeline.datasets import load_labelled, split_by_case
from pipeline.errors import ConfigError, ModelNotFoundError
from pipeline.evaluate import evaluate_model, metrics_dict, write_evaluation

TEST_SPLIT_FILE = "test_split.parquet"
#: Columns of the saved held-out split: redacted text, labels, and the case as a pseudonym.
_SPLIT_COLUMNS = ("id", "group", "text", "oversight_type", "content")


def _pseudonymise(groups: pd.Series) -> pd.Series:
    """Case keys as stable pseudonyms: the split travels with the model into MLflow, and a CRN
    is personal data, but case-level bootstrap intervals only need groups to stay apart."""
    return groups.astype(str).map(
        lambda g: "case-" + hashlib.sha256(f"oversight-nlp:{g}".encode()).hexdigest()[:12]
    )


@dataclass
class RunResult:
    """What a train or evaluate run produced."""

    metrics: dict[str, Any]
    outputs: dict[str, str] = field(default_factory=dict)
    model_dir: str | None = None
    run_id: str | None = None
    registered: dict[str, Any] | None = None
    seconds: float = 0.0
    n_train: int = 0
    n_eval: int = 0

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def _flat_metrics(metrics: Mapping[str, Any], prefix: str) -> dict[str, float]:
    """MLflow metric names from the evaluation dict (numbers only)."""
    flat: dict[str, float] = {}
    for head, m in metrics.items():
        flat[f"{prefix}{head}_macro_f1"] = float(m["macro_f1"])
        ci = m["macro_f1_ci"]
        flat[f"{prefix}{head}_macro_f1_ci_low"] = float(ci["low"])
        flat[f"{prefix}{head}_macro_f1_ci_high"] = float(ci["high"])
        flat[f"{prefix}{head}_accuracy"] = float(m["accuracy"])
        flat[f"{prefix}{head}_ece"] = float(m["ece"])
        for row in m["per_class"]:
            label = row.get("label")
            if label is not None and "f1" in row:
                flat[f"{prefix}{head}_f1_{label}"] = float(row["f1"])
    return flat


def _log_outputs(paths: Mapping[str, Path], artifact_path: str) -> None:
    import mlflow

    for path in paths.values():
        mlflow.log_artifact(str(path), artifact_path=artifact_path)


def train(
    sources: str | Path | Iterable[str | Path],
    *,
    model: str = "baseline",
    model_params: Mapping[str, Any] | None = None,
    out_dir: str | Path | None = None,
    report_dir: str | Path | None = None,
    validation_size: float = 0.1,
    test_size: float = 0.2,
    seed: int = 0,
    clean_labels: bool = False,
    track: bool = True,
    register: bool = True,
    tracking_uri: str | None = None,
    n_jobs: int = 1,
    status: Callable[[str], None] | None = None,
) -> RunResult:
    """Fit ``model`` on ``sources``; evaluate on the held-out split; save, track and register."""
    say = status or (lambda _msg: None)
    start = time.perf_counter()
    params = dict(model_params or {})
    out = Path(out_dir) if out_dir else config.MODELS_DIR / model
    reports = Path(report_dir) if report_dir else out / "evaluation"
    say("loading and redacting labelled data")
    frame = load_labelled(sources, clean_labels=clean_labels, n_jobs=n_jobs)
    splits = split_by_case(frame, validation_size=validation_size, test_size=test_size, seed=seed)
    train_part, val_part, test_part = splits["train"], splits["validation"], splits["test"]
    try:
        estimator = make_model(model, **params)
    except TypeError as exc:
        raise ConfigError(f"bad parameter for model {model!r}: {exc}") from None
    say(f"fitting {model} on {len(train_part):,} entries")
    fit_kwargs: dict[str, Any] = {}
    if model == "transformer" and len(val_part):
        fit_kwargs["eval_set"] = (
            val_part["text"].tolist(),
            val_part["oversight_type"].tolist(),
            val_part["content"].tolist(),
        )
    fit_start = time.perf_counter()
    estimator.fit(
        train_part["text"].tolist(),
        train_part["oversight_type"].tolist(),
        train_part["content"].tolist(),
        **fit_kwargs,
    )
    fit_seconds = time.perf_counter() - fit_start
    say(f"evaluating on {len(test_part):,} held-out entries")
    evaluation = evaluate_model(estimator, test_part.reset_index(drop=True), seed=seed)
    metrics = metrics_dict(evaluation)
    estimator.save(out)
    saved = test_part[[c for c in _SPLIT_COLUMNS if c in test_part.columns]].copy()
    saved["group"] = _pseudonymise(saved["group"])
    saved.to_parquet(out / TEST_SPLIT_FILE, index=False)
    paths = write_evaluation(evaluation, reports)
    result = RunResult(
        metrics=metrics,
        outputs={k: str(v) for k, v in paths.items()},
        model_dir=str(out),
        n_train=len(train_part),
        n_eval=len(test_part),
    )
    if track:
        say("recording the run in MLflow")
        run_params = {
            "model": model,
            **{f"model.{k}": v for k, v in params.items()},
            "seed": seed,
            "validation_size": validation_size,
            "test_size": test_size,
            "clean_labels": clean_labels,
            "n_train": len(train_part),
            "n_validation": len(val_part),
            "n_test": len(test_part),
            "data_fingerprint": tracking.fingerprint(
                frame, ["id", "group", "text", "oversight_type", "content"]
            ),
        }
        with tracking.run("train", params=run_params, tracking_uri=tracking_uri) as active:
            import mlflow

            mlflow.log_metrics(
                {**_flat_metrics(metrics, "test_"), "fit_seconds": round(fit_seconds, 3)}
            )
            _log_outputs(paths, "evaluation")
            example = test_part[["text"]].head(3).reset_index(drop=True)
            result.registered = tracking.log_model(
                estimator,
                example=example,
                registered_name=tracking.MODEL_NAME if register else None,
                extra_files=[out / TEST_SPLIT_FILE],
            )
            result.run_id = active.info.run_id
    result.seconds = round(time.perf_counter() - start, 2)
    (out / "train_summary.json").write_text(
        json.dumps(result.summary(), indent=2, default=str) + "\n", "utf-8"
    )
    return result


def load_classifier(ref: str | Path, *, tracking_uri: str | None = None):
    """A fitted classifier from a model folder, or from a registry / run URI
    (``models:/oversight@champion``, ``runs:/<id>/model``)."""
    text = str(ref)
    if "://" not in text and not text.startswith("models:/") and not text.startswith("runs:/"):
        path = Path(text)
        if not path.exists():
            raise ModelNotFoundError(f"no model folder at {path}")
        return load_model(path), path
    import mlflow
    from mlflow.exceptions import MlflowException

    tracking.configure(tracking_uri)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=text))
    except (MlflowException, OSError) as exc:
        raise ModelNotFoundError(f"cannot resolve model {text!r}: {type(exc).__name__}") from None
    folder = local / "artifacts" / "model"
    if not folder.exists():
        raise ModelNotFoundError(f"{text!r} is not an oversight-nlp model")
    return load_model(folder), folder


def evaluate(
    model_ref: str | Path,
    *,
    sources: Iterable[str | Path] | None = None,
    out_dir: str | Path | None = None,
    clean_labels: bool = False,
    track: bool = True,
    tracking_uri: str | None = None,
    seed: int = 0,
    n_jobs: int = 1,
) -> RunResult:
    """Evaluate a model on its held-out split (no ``sources``) or on external labelled data."""
    start = time.perf_counter()
    estimator, folder = load_classifier(model_ref, tracking_uri=tracking_uri)
    if sources:
        frame = load_labelled(list(sources), clean_labels=clean_labels, n_jobs=n_jobs)
        data_name = "external"
    else:
        split = Path(folder) / TEST_SPLIT_FILE
        if not split.exists():
            raise ModelNotFoundError(
                f"{model_ref} has no saved held-out split; pass labelled data to evaluate on"
            )
        frame = pd.read_parquet(split)
        data_name = "held-out"
    out = Path(out_dir) if out_dir else config.PROCESSED_DIR / "evaluation"
    evaluation = evaluate_model(estimator, frame.reset_index(drop=True), seed=seed)
    metrics = metrics_dict(evaluation)
    paths = write_evaluation(evaluation, out)
    result = RunResult(
        metrics=metrics,
        outputs={k: str(v) for k, v in paths.items()},
        model_dir=str(folder),
        n_eval=len(frame),
    )
    if track:
        params = {
            "model_ref": str(model_ref),
            "data": data_name,
            "n_eval": len(frame),
            "data_fingerprint": tracking.fingerprint(
                frame, [c for c in ("id", "text", "oversight_type", "content") if c in frame]
            ),
        }
        with tracking.run("evaluate", params=params, tracking_uri=tracking_uri) as active:
            import mlflow

            mlflow.log_metrics(_flat_metrics(metrics, f"{data_name.replace('-', '_')}_"))
            _log_outputs(paths, "evaluation")
            result.run_id = active.info.run_id
    result.seconds = round(time.perf_counter() - start, 2)
    return result
