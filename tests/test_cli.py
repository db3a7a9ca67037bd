"""The CLI: help that explains, commands that write where they say, errors with a non-zero exit."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from pipeline.cli import app

runner = CliRunner()


def test_help_lists_the_steps():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "synth" in result.output and "demo" in result.output


def test_synth_writes_export_and_truth(tmp_path):
    result = runner.invoke(
        app,
        [
            "synth",
            "--cases",
            "8",
            "--seed",
            "2",
            "--format",
            "parquet",
            "--out",
            str(tmp_path),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    export = pd.read_parquet(tmp_path / "export.parquet")
    assert export["crn"].nunique() == 8
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["counts"]["contacts"] == len(export)


def test_synth_rejects_an_unknown_format(tmp_path):
    result = runner.invoke(
        app, ["synth", "--cases", "2", "--format", "xml", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "unknown --format" in result.output
    assert not (tmp_path / "labels.parquet").exists()


def test_demo_runs_end_to_end(tmp_path, monkeypatch):
    # keep every output of the demo inside tmp_path, the tracking store included
    from pipeline import config

    monkeypatch.setattr(config, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = runner.invoke(
        app,
        [
            "demo",
            "--cases",
            "30",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "raw"),
            "--interim",
            str(tmp_path / "interim"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "raw" / "summary.json").read_text())
    assert summary["cases"] == 30
    assert 0 < summary["variety"]["all_oversight"]["unique_share"] <= 1
    assert (tmp_path / "raw" / "export.csv").exists()
    assert (tmp_path / "interim" / "entries.parquet").exists()
    assert (tmp_path / "models" / "baseline" / "model.json").exists()
    metrics = json.loads((tmp_path / "processed" / "evaluation" / "metrics.json").read_text())
    assert set(metrics) == {"oversight_type", "content"}
    assert (tmp_path / "mlflow.db").exists()
    # ... and it ends with the evaluator's report, built from the scored export's measures
    assert (tmp_path / "processed" / "scored.parquet").exists()
    measures = pd.read_parquet(tmp_path / "processed" / "measures" / "measures.parquet")
    assert {"reactive_share", "defensive_share"} <= set(measures["measure"])
    # every overall share is adjusted for classification error, the rules' initiator included
    overall = measures[(measures["by"] == "overall") & (measures["unit"] == "share")]
    adjusted = overall.set_index("measure")["adjusted"].groupby(level=0).all()
    assert adjusted["reactive_share"] and adjusted["defensive_share"]
    report = tmp_path / "processed" / "report.html"
    html = report.read_text("utf-8")
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")
    assert str(report) in " ".join(result.output.split())
