"""`oversight score` from the command line: what it writes, what it says, how it fails."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.synth import generate, write_synth

runner = CliRunner()


@pytest.fixture(scope="module")
def model_dir(fit_baseline):
    return fit_baseline(cases=25, seed=41)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    write_synth(generate(15, seed=42, workers=1), folder, fmt="csv")
    return folder / "export.csv"


def test_score_writes_outputs_then_a_rerun_does_nothing(export, model_dir, tmp_path):
    args = ["score", str(export), "--model", str(model_dir), "--out", str(tmp_path)]
    first = runner.invoke(app, [*args, "--workers", "2"])
    assert first.exit_code == 0, first.output
    summary = json.loads((tmp_path / "score_summary.json").read_text("utf-8"))
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    assert len(scored) == summary["entries_out"] > 0
    assert summary["rows_in"] == (
        summary["entries_out"] + summary["non_oversight"] + summary["quarantined"]
    )
    assert f"{summary['rows_in']:,}" in first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.output


def test_score_csv_format(export, model_dir, tmp_path):
    result = runner.invoke(
        app,
        [
            "score",
            str(export),
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path),
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "scored.csv")) > 0


def test_unknown_model_is_a_clear_error(export, tmp_path):
    result = runner.invoke(
        app, ["score", str(export), "--model", str(tmp_path / "no-model"), "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert "no-model" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "scored.parquet").exists()


def test_unknown_engine_is_refused(export, model_dir, tmp_path):
    result = runner.invoke(
        app,
        [
            "score",
            str(export),
            "--model",
            str(model_dir),
            "--out",
            str(tmp_path),
            "--engine",
            "dask",
        ],
    )
    assert result.exit_code != 0
    assert "engine" in result.output
