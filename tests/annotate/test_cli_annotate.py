"""`oversight annotate export|import`: help that explains, files where they say, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.annotate.labelstudio import ADJUDICATION_FILE, LABELLED_FILE, TASKS_FILE
from pipeline.classify import HEAD_LABELS, proba_column
from pipeline.cli import app
from pipeline.prepare import prepare
from pipeline.synth import generate, write_synth

runner = CliRunner()


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    """An entries table with a scorer's probability columns (random, but rows sum to one)."""
    folder = tmp_path_factory.mktemp("synth")
    paths = write_synth(generate(12, seed=41, workers=1), folder, fmt="parquet")
    prepare([paths["export"]], out_dir=folder / "interim")
    entries = pd.read_parquet(folder / "interim" / "entries.parquet")
    rng = np.random.default_rng(0)
    for head, labels in HEAD_LABELS.items():
        p = rng.dirichlet(np.ones(len(labels)), size=len(entries))
        for j, lab in enumerate(labels):
            entries[proba_column(head, lab)] = p[:, j]
    entries["model_version"] = "oversight/1@test"
    entries.to_parquet(folder / "scored.parquet")
    return folder / "scored.parquet"


def _annotate(tasks: list[dict], content: list[str], user: int) -> list[dict]:
    """Label Studio's export after an annotator accepted the type and chose ``content``."""
    out = []
    for i, (task, c) in enumerate(zip(tasks, content, strict=True)):
        pred = {r["from_name"]: r["value"]["choices"][0] for r in task["predictions"][0]["result"]}
        result = [
            {"from_name": f, "to_name": "text", "type": "choices", "value": {"choices": [v]}}
            for f, v in (("oversight_type", pred["oversight_type"]), ("content", c))
        ]
        out.append(
            {
                "id": 11 + i,
                "data": task["data"],
                "annotations": [
                    {"id": 100 * user + i, "completed_by": user, "result": result,
                     "was_cancelled": False, "updated_at": "2026-11-22T09:00:00Z"}
                ],
            }
        )  # fmt: skip
    return out


def test_annotate_help_explains_both_commands():
    result = runner.invoke(app, ["annotate", "--help"])
    assert result.exit_code == 0
    assert "export" in result.output and "import" in result.output
    for command in ("export", "import"):
        result = runner.invoke(app, ["annotate", command, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output


def test_export_then_import_from_the_command_line(scored, tmp_path):
    batch = tmp_path / "batch"
    result = runner.invoke(
        app,
        [
            "annotate",
            "export",
            str(scored),
            "--n",
            "6",
            "--strategy",
            "uncertainty",
            "--out",
            str(batch),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "6 tasks (uncertainty)" in result.output
    tasks = json.loads((batch / TASKS_FILE).read_text())
    assert len(tasks) == 6
    assert tasks[0]["predictions"][0]["model_version"] == "oversight/1@test"

    s, d = "substantive", "defensive"
    a = tmp_path / "ann.json"
    b = tmp_path / "ben.json"
    a.write_text(json.dumps(_annotate(tasks, [s, s, s, d, d, d], user=1)))
    b.write_text(json.dumps(_annotate(tasks, [s, s, d, d, d, d], user=1)))
    out = tmp_path / "labelled"
    result = runner.invoke(
        app,
        [
            "annotate",
            "import",
            str(a),
            str(b),
            "--out",
            str(out),
            "--config",
            str(batch / "labeling_config.xml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 to adjudicate" in result.output
    report = json.loads((out / "agreement.json").read_text())
    (pair,) = report["fields"]["content"]["cohen_kappa"]
    # p_o = 5/6; ann 3s/3d, ben 2s/4d: p_e = (3*2 + 3*4)/36 = 1/2; kappa = (5/6 - 1/2)/(1/2) = 2/3
    assert (pair["annotator_a"], pair["annotator_b"], pair["n_tasks"]) == ("ann", "ben", 6)
    assert pair["kappa"] == pytest.approx(2 / 3)
    labelled = pd.read_parquet(out / LABELLED_FILE)
    assert set(labelled["contact_id"]) == {t["data"]["contact_id"] for t in tasks}
    adjudication = pd.read_csv(out / ADJUDICATION_FILE, dtype=str)
    assert adjudication["contact_id"].tolist() == [tasks[2]["data"]["contact_id"]]


def test_errors_exit_non_zero_with_file_and_task(scored, tmp_path):
    result = runner.invoke(
        app,
        [
            "annotate",
            "export",
            str(scored.parent / "interim" / "entries.parquet"),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2
    assert "needs a model" in result.output
    tasks = [
        {
            "data": {"text": "[PERSON] was seen", "contact_id": "9"},
            "predictions": [
                {"result": [{"from_name": "oversight_type", "value": {"choices": ["risk"]}}]}
            ],
        }
    ]
    broken = _annotate(tasks, ["maybe"], user=1)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = runner.invoke(app, ["annotate", "import", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "task 11" in result.output and "broken.json" in result.output
    assert "'content'" in result.output
    assert "[PERSON] was seen" not in result.output
