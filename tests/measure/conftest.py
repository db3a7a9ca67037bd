"""A small synthetic world for the end-to-end and validity tests: a baseline trained on one
seed, validated on another (clean labels, as the generator's truth is), both scoring a third."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.classify import make_model
from pipeline.datasets import load_synth
from pipeline.evaluate import evaluate_model, metrics_dict
from pipeline.score import score
from pipeline.synth import generate, write_synth


@pytest.fixture(scope="session")
def measured_world(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("measure_world")
    for name, cases, seed in (("train", 200, 31), ("val", 150, 33), ("meas", 500, 32)):
        write_synth(generate(cases, seed=seed, workers=1), root / name, fmt="parquet")
    labelled = load_synth(root / "train")
    model = make_model("baseline", min_df=2, n_jobs=1)
    model.fit(labelled["text"], labelled["oversight_type"], labelled["content"])
    model_dir = model.save(root / "model")
    val = load_synth(root / "val", clean_labels=True)
    metrics = metrics_dict(evaluate_model(model, val, n_boot=20))
    (root / "evaluation").mkdir()
    (root / "evaluation" / "metrics.json").write_text(json.dumps(metrics, default=float))
    score(
        root / "val" / "export.parquet", model=model_dir, out_dir=root / "val_scored", explain=False
    )
    score(
        root / "meas" / "export.parquet",
        model=model_dir,
        out_dir=root / "meas_scored",
        explain=False,
    )
    return {
        "root": root,
        "scored": root / "meas_scored" / "scored.parquet",
        "export": root / "meas" / "export.parquet",
        "truth": root / "meas",
        "metrics": root / "evaluation" / "metrics.json",
        "initiator": root / "val_scored" / "scored.parquet",
    }
