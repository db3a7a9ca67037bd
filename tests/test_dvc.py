"""`dvc repro` runs the whole pipeline end to end on a small demo export."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DVC = Path(sys.executable).parent / "dvc"


@pytest.mark.slow
@pytest.mark.skipif(not DVC.exists(), reason="dvc is not installed")
def test_dvc_repro_end_to_end(tmp_path):
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(
        ROOT / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__")
    )
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["synth"]["cases"] = 40
    params["synth_eval"]["cases"] = 30
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {
        **os.environ,
        "PATH": f"{DVC.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    run = lambda *args: subprocess.run(  # noqa: E731
        [str(DVC), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert run("init", "--no-scm", "-q").returncode == 0
    run("config", "core.analytics", "false")
    proc = run("repro")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for out in (
        "data/raw/synth/export.csv",
        "data/interim/entries.parquet",
        "models/current/model.json",
        "data/processed/evaluation/metrics.json",
        "data/processed/scored/scored.parquet",
        "data/processed/measures/measures.parquet",
        "data/processed/report.html",
    ):
        assert (tmp_path / out).exists(), out
    assert (tmp_path / "dvc.lock").exists()
    again = run("repro")  # nothing changed: every stage is cached
    assert again.returncode == 0 and "Running stage" not in again.stdout
