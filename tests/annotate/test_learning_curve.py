"""The learning-curve experiment on a tiny configuration: curves, summary, plot, MLflow run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.annotate.learning_curve import (
    CURVE_COLUMNS,
    plot_curves,
    run_learning_curve,
    simulate,
    summarise,
)
from pipeline.cli import app
from pipeline.errors import LearningCurveError
from pipeline.synth import generate, write_synth


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lc_synth")
    write_synth(generate(50, seed=31, noise_rate=0.0, workers=1), folder, fmt="parquet")
    return folder


def test_run_writes_curves_summary_plot_and_an_mlflow_run(tiny_folder, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_learning_curve(
        data=[tiny_folder],
        seed_size=20,
        batch=15,
        rounds=2,
        seeds=2,
        out_dir=tmp_path / "lc",
        tracking_uri=uri,
    )
    curve = result.curve
    assert list(curve.columns) == list(CURVE_COLUMNS)
    # 2 seeds x 2 strategies x (2 rounds + the seed set)
    assert len(curve) == 12
    assert sorted(curve["n_labelled"].unique()) == [20, 35, 50]
    f1 = curve[["oversight_type_macro_f1", "content_macro_f1"]].to_numpy()
    assert ((f1 >= 0) & (f1 <= 1)).all()
    # both strategies start from the same seed set, so round 0 scores the same
    first = curve[curve["round"] == 0].pivot(index="seed", columns="strategy")
    np.testing.assert_allclose(
        first["oversight_type_macro_f1"]["uncertainty"], first["oversight_type_macro_f1"]["random"]
    )
    for name in ("curve", "summary", "plot"):
        assert (tmp_path / "lc").joinpath(
            {
                "curve": "learning_curve.csv",
                "summary": "learning_curve_summary.json",
                "plot": "learning_curve.png",
            }[name]
        ).stat().st_size > 0
    assert (tmp_path / "lc" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((tmp_path / "lc" / "learning_curve_summary.json").read_text())
    assert summary["steps"] == [20, 35, 50]
    assert set(summary["vs_random"]["uncertainty"]) == {"oversight_type", "content"}

    run = mlflow.MlflowClient(tracking_uri=uri).get_run(result.run_id)
    assert run.data.params["seed_size"] == "20"
    assert "uncertainty_content_macro_f1" in run.data.metrics
    history = mlflow.MlflowClient(tracking_uri=uri).get_metric_history(
        result.run_id, "random_oversight_type_macro_f1"
    )
    assert sorted(m.step for m in history) == [20, 35, 50]
    artifacts = {
        a.path for a in mlflow.MlflowClient(tracking_uri=uri).list_artifacts(result.run_id)
    }
    assert {"learning_curve.png", "learning_curve.csv", "learning_curve_summary.json"} <= artifacts


def _toy_split():
    texts = {
        ("risk", "substantive"): "police call out DA incident, plan safety visit by Friday",
        ("risk", "defensive"): "police call out noted, no further action",
        ("supervision", "substantive"): "supervision review of progress, set ETE action by PP",
        ("supervision", "defensive"): "supervision held, agree with PP",
    }
    rows = [
        {
            "text": f"{text} {i}",
            "oversight_type": t,
            "content": c,
            "group": f"X{i:06d}",
            "id": str(i),
        }
        for i in range(40)
        for (t, c), text in [list(texts.items())[i % 4]]
    ]
    frame = pd.DataFrame(rows)
    return frame.iloc[:28].reset_index(drop=True), frame.iloc[28:].reset_index(drop=True)


def test_simulate_adds_one_batch_per_round_for_every_strategy():
    pool, test = _toy_split()
    curve = simulate(
        pool,
        test,
        seed_size=8,
        batch=4,
        rounds=3,
        seeds=1,
        strategies=("uncertainty", "random", "stratified"),
    )
    for _, part in curve.groupby("strategy"):
        assert part["n_labelled"].tolist() == [8, 12, 16, 20]


def test_summarise_compares_against_random_per_seed():
    curve = pd.DataFrame(
        {
            "strategy": ["uncertainty"] * 4 + ["random"] * 4,
            "seed": [0, 0, 1, 1] * 2,
            "round": [0, 1] * 4,
            "n_labelled": [10, 20] * 4,
            "oversight_type_macro_f1": [0.5, 0.9, 0.5, 0.7, 0.5, 0.6, 0.5, 0.8],
            "content_macro_f1": [0.4, 0.6, 0.4, 0.6, 0.4, 0.6, 0.4, 0.6],
        }
    )
    s = summarise(curve)
    assert s["steps"] == [10, 20]
    assert s["strategies"]["uncertainty"]["oversight_type"]["mean"] == [0.5, 0.8]
    comp = s["vs_random"]["uncertainty"]["oversight_type"]
    # seed 0: area .7 vs .55 (ahead); seed 1: .6 vs .65 (behind)
    assert comp["seeds_ahead"] == 1 and comp["area_difference"] == pytest.approx(0.05)
    assert comp["step_difference"] == [0.0, 0.1]
    assert s["vs_random"]["uncertainty"]["content"]["area_difference"] == 0.0


def test_plot_is_a_png(tmp_path):
    curve = pd.DataFrame(
        {
            "strategy": ["uncertainty", "random"] * 2,
            "seed": [0, 0, 1, 1],
            "round": [0, 0, 0, 0],
            "n_labelled": [10] * 4,
            "oversight_type_macro_f1": [0.5, 0.6, 0.55, 0.65],
            "content_macro_f1": [0.4, 0.5, 0.45, 0.5],
        }
    )
    path = plot_curves(curve, tmp_path / "c.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(seed_size=20, batch=10, rounds=5),  # 70 labels from a pool of 28
        dict(seed_size=1),
        dict(strategies=("entropy",)),
    ],
)
def test_bad_configurations_raise(kwargs):
    pool, test = _toy_split()
    with pytest.raises(LearningCurveError):
        simulate(pool, test, **{"seeds": 1, **kwargs})


def test_cli_runs_a_tiny_curve(tiny_folder, tmp_path):
    out = tmp_path / "cli"
    res = CliRunner().invoke(
        app,
        [
            "learning-curve",
            "--data",
            str(tiny_folder),
            "--seed-size",
            "20",
            "--batch",
            "10",
            "--rounds",
            "1",
            "--seeds",
            "1",
            "--strategies",
            "uncertainty,random",
            "--out",
            str(out),
            "--no-track",
        ],
    )
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out / "learning_curve.csv")["n_labelled"].tolist() == [20, 30, 20, 30]
    bad = CliRunner().invoke(
        app,
        ["learning-curve", "--data", str(tiny_folder), "--strategies", "best", "--no-track"],
    )
    assert bad.exit_code == 2 and "strategies" in bad.output
