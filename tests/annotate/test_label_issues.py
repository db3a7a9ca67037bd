"""Confident learning: the core on hand-made probabilities, flipped-label recovery end to end,
and the `oversight label-issues` command."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.annotate.label_issues import (
    FAST_BASELINE,
    ISSUE_COLUMNS,
    _folds,
    confident_joint,
    estimate_joint,
    find_issues,
    find_label_issues,
    flip_labels,
    label_quality,
    per_class_thresholds,
    rank_issues,
    recovery,
)
from pipeline.cli import app
from pipeline.datasets import load_synth
from pipeline.errors import LabelIssuesError
from pipeline.synth import generate, write_synth

# Two classes, eight entries; entry 3 (labelled 0) and entry 7 (labelled 1) look like the other
# class. By hand: t0 = (.9 + .8 + .7 + .1) / 4 = .625, t1 = (.9 + .8 + .85 + .05) / 4 = .65;
# entries 0-2 are confidently 0, 4-6 confidently 1, 3 confidently 1 (p1 .9 >= .65) and 7
# confidently 0 (p0 .95 >= .625): C = [[3, 1], [1, 3]], so one entry of each label is pruned.
LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
P1 = np.array([0.1, 0.2, 0.3, 0.9, 0.9, 0.8, 0.85, 0.05])
PROBA = np.column_stack([1 - P1, P1])


def test_thresholds_are_the_mean_own_class_probability():
    np.testing.assert_allclose(per_class_thresholds(LABELS, PROBA), [0.625, 0.65])


def test_confident_joint_and_joint_estimate_by_hand():
    assert confident_joint(LABELS, PROBA).tolist() == [[3, 1], [1, 3]]
    np.testing.assert_allclose(estimate_joint(LABELS, PROBA), [[3 / 8, 1 / 8], [1 / 8, 3 / 8]])


def test_issues_are_the_off_diagonal_entries_ranked_by_self_confidence():
    assert np.flatnonzero(find_issues(LABELS, PROBA)).tolist() == [3, 7]
    order, issue, score = rank_issues(LABELS, PROBA)
    # flagged first (7 has p_given .05, 3 has .1), then the rest by the given label's probability
    assert order.tolist() == [7, 3, 2, 1, 5, 6, 0, 4]  # 1 and 5 tie at .8: input order
    assert issue[[3, 7]].all() and issue.sum() == 2
    np.testing.assert_allclose(score, PROBA[np.arange(8), LABELS])


def test_confident_joint_takes_the_most_probable_of_several_confident_classes():
    labels = np.array([0, 1, 2, 0])
    proba = np.array(
        [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.1, 0.2, 0.7], [0.05, 0.6, 0.35]]
    )  # entry 3: above t1 (.6) and t2 (.7)? p2 .35 is not; p1 .6 is: counted as (0, 1)
    cj = confident_joint(labels, proba)
    assert cj[0, 1] == 1 and cj.sum() == 4
    # the same entry above two thresholds goes to the larger probability
    labels2 = np.array([0, 1, 2, 0])
    proba2 = np.array([[0.6, 0.2, 0.2], [0.1, 0.4, 0.5], [0.1, 0.1, 0.8], [0.1, 0.45, 0.45]])
    thresholds = np.array([0.35, 0.4, 0.3])
    cj2 = confident_joint(labels2, proba2, thresholds=thresholds)
    assert cj2[1, 2] == 1 and cj2[1, 1] == 0  # entry 1: p2 .5 > p1 .4, both above


def test_a_class_nobody_was_given_is_never_confidently_counted():
    labels = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    t = per_class_thresholds(labels, proba)
    assert np.isinf(t[2])
    assert confident_joint(labels, proba)[:, 2].sum() == 0
    assert np.isclose(estimate_joint(labels, proba).sum(), 1.0)


def test_normalized_margin_is_rescaled_to_unit_interval():
    q = label_quality(LABELS, PROBA, method="normalized_margin")
    np.testing.assert_allclose(q[[0, 7]], [(0.9 - 0.1 + 1) / 2, (0.05 - 0.95 + 1) / 2])
    with pytest.raises(LabelIssuesError):
        label_quality(LABELS, PROBA, method="entropy")


def test_mismatched_inputs_raise():
    with pytest.raises(LabelIssuesError):
        find_issues(LABELS[:5], PROBA)
    with pytest.raises(LabelIssuesError):
        find_issues(LABELS + 1, PROBA)


# --- end to end on a small synthetic export ---------------------------------------------------


@pytest.fixture(scope="module")
def clean_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clean_synth")
    write_synth(generate(80, seed=21, noise_rate=0.0, workers=1), folder, fmt="parquet")
    return folder


@pytest.fixture(scope="module")
def clean_frame(clean_folder):
    return load_synth(clean_folder)


def test_folds_keep_every_case_in_one_fold(clean_frame):
    parts = _folds(clean_frame, 4, seed=0)
    assert [p.tolist() for p in parts] == [p.tolist() for p in _folds(clean_frame, 4, seed=0)]
    assert max(map(len, parts)) - min(map(len, parts)) < 0.1 * len(clean_frame)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(clean_frame)))
    seen = [set(clean_frame["group"].iloc[p]) for p in parts]
    for i in range(len(seen)):
        for j in range(i + 1, len(seen)):
            assert not seen[i] & seen[j]
    with pytest.raises(LabelIssuesError, match="folds"):
        _folds(clean_frame.head(3), 5, seed=0)


def test_flipped_labels_are_found_in_the_top_tenth(clean_frame):
    noisy, masks = flip_labels(clean_frame, rate=0.05, seed=4)
    for h, m in masks.items():
        assert m.sum() == round(0.05 * len(clean_frame))
        assert (noisy[h].to_numpy()[m] != clean_frame[h].to_numpy()[m]).all()
        assert (noisy[h].to_numpy()[~m] == clean_frame[h].to_numpy()[~m]).all()
    result = find_label_issues(noisy, folds=3, model_params=FAST_BASELINE, seed=0)
    ids = noisy["id"].astype(str).to_numpy()
    found = recovery(result, {h: ids[m] for h, m in masks.items()}, top_fraction=0.1)
    for h in ("oversight_type", "content"):
        assert found[h]["recall_at_top"] >= 0.5, found[h]
        # a flagged entry is a flipped one far more often than the 5% base rate
        assert found[h]["flagged_precision"] > 0.3, found[h]
    t = result.table
    assert list(t.columns) == list(ISSUE_COLUMNS)
    for h in ("oversight_type", "content"):
        sub = t[t["head"] == h]
        assert sub["rank"].tolist() == list(range(1, len(noisy) + 1))
        assert (sub["suggested_label"] != sub["given_label"]).all()
        flagged = sub["is_issue"].to_numpy()
        # flagged rows come first
        assert not (flagged[1:] & ~flagged[:-1]).any()
        est = result.summary["heads"][h]["estimated_noise_rate"]
        assert 0.01 < est < 0.2


def test_rows_without_a_head_label_are_left_out_of_that_head(clean_frame):
    frame = clean_frame.copy()
    frame.loc[frame.index[:10], "content"] = None
    result = find_label_issues(
        frame, folds=3, model_params=FAST_BASELINE, heads=("content",), seed=1
    )
    assert set(result.table["head"]) == {"content"}
    assert len(result.table) == len(frame) - 10


def test_cli_writes_ranked_issues_with_redacted_text_only(clean_folder, tmp_path):
    config = tmp_path / "fast.yaml"
    config.write_text("calibration: none\nn_jobs: 1\n", encoding="utf-8")
    out = tmp_path / "issues"
    res = CliRunner().invoke(
        app,
        [
            "label-issues",
            str(clean_folder),
            "--out",
            str(out),
            "--folds",
            "3",
            "--config",
            str(config),
            "--all",
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out / "label_issues.csv", dtype={"contact_id": str})
    assert list(table.columns) == list(ISSUE_COLUMNS)
    assert pd.read_parquet(out / "label_issues.parquet").shape == table.shape
    summary = json.loads((out / "label_issues_summary.json").read_text())
    assert summary["folds"] == 3 and summary["all_rows"] is True
    assert set(summary["heads"]) == {"oversight_type", "content"}
    # the people on probation's names in the export never reach the output
    export = pd.read_parquet(clean_folder / "export.parquet").set_index("contact_id")
    names = export.loc[table["contact_id"], ["pop_forename", "pop_surname"]]
    for text, first, last in zip(
        table["text"], names["pop_forename"], names["pop_surname"], strict=True
    ):
        assert not re.search(rf"\b({re.escape(first)}|{re.escape(last)})\b", text)


def test_cli_reports_too_few_cases_cleanly(tmp_path):
    frame = pd.DataFrame(
        {
            "text": ["Discussed in supervision, plan agreed.", "Noted."] * 2,
            "oversight_type": ["supervision", "risk"] * 2,
            "content": ["substantive", "defensive"] * 2,
            "crn": ["X000001"] * 4,
        }
    )
    path = tmp_path / "one_case.csv"
    frame.to_csv(path, index=False)
    res = CliRunner().invoke(app, ["label-issues", str(path), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "folds" in res.output
