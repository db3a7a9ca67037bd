"""A real tiny run: synthetic export -> baseline -> score -> measure -> report, opened in
headless Chromium; and the `oversight report` command."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from pipeline.classify import make_model
from pipeline.cli import app
from pipeline.datasets import load_synth
from pipeline.measure import MeasureSettings, measure
from pipeline.report import check_report, find_chromium, render_report
from pipeline.score import score
from pipeline.synth import generate, write_synth
from tests.report.conftest import write_measures

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="no chromium binary on PATH (make test installs Debian's chromium)",
)


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    """Measures of a 60-case export scored by a baseline fitted on another small export."""
    root = tmp_path_factory.mktemp("run")
    write_synth(generate(40, seed=31, workers=1), root / "train", fmt="parquet")
    labelled = load_synth(root / "train")
    model = make_model("baseline", min_df=2, n_jobs=1)
    model.fit(labelled["text"], labelled["oversight_type"], labelled["content"])
    model_dir = model.save(root / "model")
    synth = generate(60, seed=32, workers=1)
    paths = write_synth(synth, root / "export", fmt="parquet")
    scored = score(paths["export"], model=model_dir, out_dir=root / "scored", explain=False)
    measure(
        scored.outputs["scored"],
        exports=[paths["export"]],
        compare_groups=["region=Wales"],
        out_dir=root / "measures",
        settings=MeasureSettings(n_boot=40),
    )
    return root, synth


def test_report_from_a_real_run(pipeline_run):
    root, synth = pipeline_run
    result = render_report(root / "measures", out=root / "report.html")
    html = result.path.read_text("utf-8")
    assert "headline" in result.charts and "by-region" in result.charts
    # No case identifier, name or note text of the export reaches the report.
    crns = set(synth.export["crn"])
    assert not any(crn in html for crn in crns)
    assert not re.search(r"\b[A-Z]\d{6}\b", html)
    notes = synth.export["notes"].dropna()
    long_lines = {line.strip() for n in notes for line in n.splitlines() if len(line.strip()) > 40}
    assert not any(line in html for line in list(long_lines)[:2000])
    # Full names of people on probation (a surname alone can be a place: "West Midlands").
    people = synth.export[["pop_forename", "pop_surname"]].dropna().drop_duplicates()
    full_names = {f"{f} {s}" for f, s in people.itertuples(index=False)}
    assert full_names and not any(name in html for name in full_names)


@needs_chromium
def test_real_report_renders_in_chromium(pipeline_run):
    root, _ = pipeline_run
    result = render_report(root / "measures", out=root / "browser.html")
    seen = check_report(result.path)
    assert seen.ok, seen.problems()
    assert seen.charts_total == len(result.charts)


def test_cli_report(tmp_path):
    folder = write_measures(tmp_path / "measures")
    out = tmp_path / "out" / "report.html"
    args = ["report", str(folder), "--out", str(out)]
    if find_chromium() is not None:
        args.append("--check")
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    assert out.exists() and str(out) in run.output
    if find_chromium() is not None:
        assert "7/7 charts rendered" in run.output


def test_cli_report_errors_cleanly(tmp_path):
    run = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert run.exit_code == 2
    assert "does not exist" in run.output
    run = CliRunner().invoke(app, ["report", str(tmp_path), "--threshold", "5"])
    assert run.exit_code != 0  # never below 10
