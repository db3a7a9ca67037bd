"""train / evaluate runs: MLflow run, pyfunc model, registry alias, and no personal data in the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from pipeline import tracking
from pipeline.experiments import evaluate, train
from pipeline.synth import generate, write_synth


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    data = root / "synth"
    synth = generate(60, seed=31, workers=1)
    write_synth(synth, data, fmt="csv")
    result = train([data], model="baseline", out_dir=root / "model", tracking_uri=uri, seed=1)
    return root, uri, synth, result


def test_train_records_run_metrics_and_registers_champion(store):
    root, uri, _, result = store
    import mlflow

    run = mlflow.get_run(result.run_id)
    assert run.data.tags["step"] == "train"
    assert run.data.tags["git_commit"]
    assert run.data.params["model"] == "baseline"
    assert len(run.data.params["data_fingerprint"]) == 16
    assert 0 < run.data.metrics["test_oversight_type_macro_f1"] <= 1
    low = run.data.metrics["test_content_macro_f1_ci_low"]
    assert low <= run.data.metrics["test_content_macro_f1"]
    assert tracking.resolve_alias(tracking_uri=uri) == result.registered["version"]
    assert (root / "model" / "model.json").exists()


def test_registered_pyfunc_loads_in_a_fresh_process(store):
    _, uri, _, _ = store
    code = (
        "import pandas as pd, mlflow.pyfunc\n"
        f"mlflow.set_tracking_uri({uri!r}); mlflow.set_registry_uri({uri!r})\n"
        "m = mlflow.pyfunc.load_model('models:/oversight@champion')\n"
        "out = m.predict(pd.DataFrame({'text': ['Police call-out re DA, PP to refer to MARAC by Friday']}))\n"
        "print(out.to_json(orient='records'))\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(proc.stdout.strip().splitlines()[-1])[0]
    assert row["oversight_type"] in {
        "allocation",
        "supervision",
        "risk",
        "enforcement",
        "assurance",
        "review",
    }
    assert row["content"] in {"defensive", "substantive"}
    probs = [v for k, v in row.items() if k.startswith("p_oversight_type_")]
    assert abs(sum(probs) - 1) < 1e-6


def test_evaluate_by_alias_and_on_external_data(store, tmp_path):
    root, uri, _, result = store
    held = evaluate("models:/oversight@champion", out_dir=tmp_path / "a", tracking_uri=uri)
    assert held.metrics["oversight_type"]["n"] == result.n_eval
    other = generate(20, seed=32, workers=1)
    write_synth(other, tmp_path / "other", fmt="parquet")
    ext = evaluate(
        root / "model", sources=[tmp_path / "other"], out_dir=tmp_path / "b", tracking_uri=uri
    )
    assert ext.metrics["content"]["n"] == int(other.labels["is_oversight"].sum())
    assert (tmp_path / "b" / "confusion_oversight_type.png").stat().st_size > 1000
    errors = pd.read_csv(tmp_path / "b" / "errors.csv")
    assert "text" in errors.columns


def test_no_personal_data_anywhere_in_the_store(store):
    root, _, synth, _ = store
    planted = set()
    for notes, spans in zip(synth.export["notes"], synth.labels["pii_spans"], strict=True):
        for start, end, kind in json.loads(spans):
            value = notes[start:end]
            if kind in ("CRN", "PHONE", "EMAIL", "NI_NUMBER", "PNC", "POSTCODE") or (
                kind == "PERSON" and " " in value
            ):
                planted.add(value)
    assert len(planted) > 50
    blobs = []
    for path in root.rglob("*"):
        if path.is_file() and "synth" not in path.parts:
            blobs.append(path.read_bytes().decode("utf-8", "ignore"))
    store_text = "\n".join(blobs)
    assert "mlflow.db" in {p.name for p in root.iterdir()}
    leaked = sorted(v for v in planted if v in store_text)
    assert not leaked, leaked[:5]
