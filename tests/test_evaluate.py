"""Metrics, intervals, calibration, error analysis and the written report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from pipeline.errors import EvaluationError
from pipeline.evaluate import (
    bootstrap_ci,
    confusion,
    error_table,
    evaluate,
    evaluate_head,
    expected_calibration_error,
    macro_f1,
    per_class_table,
    reliability_table,
    write_evaluation,
)

LABELS = ["a", "b", "c"]
#: rows true a a a a b b b c c c
Y_TRUE = ["a", "a", "a", "a", "b", "b", "b", "c", "c", "c"]
Y_PRED = ["a", "a", "a", "b", "b", "b", "c", "c", "c", "a"]


def test_confusion_and_macro_f1_by_hand():
    cm = confusion(Y_TRUE, Y_PRED, LABELS)
    assert cm.tolist() == [[3, 1, 0], [0, 2, 1], [1, 0, 2]]
    # a: precision 3/4 (col a = 3 + 1), recall 3/4 -> F1 3/4
    # b: precision 2/3 (col b = 1 + 2), recall 2/3 -> F1 2/3
    # c: precision 2/3 (col c = 1 + 2), recall 2/3 -> F1 2/3
    expected = (3 / 4 + 2 / 3 + 2 / 3) / 3
    assert macro_f1(Y_TRUE, Y_PRED, LABELS) == pytest.approx(expected)
    assert expected == pytest.approx(f1_score(Y_TRUE, Y_PRED, average="macro"))
    table = per_class_table(cm, LABELS)
    assert table["f1"].tolist() == pytest.approx([3 / 4, 2 / 3, 2 / 3])
    assert table["support"].tolist() == [4, 3, 3] and table["predicted"].tolist() == [4, 3, 3]


def test_labels_never_seen_do_not_count_in_the_macro_average():
    # "c" is neither true nor predicted: the mean runs over a and b only
    assert macro_f1(["a", "b"], ["a", "b"], LABELS) == 1.0
    with pytest.raises(EvaluationError):
        macro_f1(["a", "z"], ["a", "b"], LABELS)


def test_bootstrap_interval_contains_the_point_and_narrows_with_more_data():
    small = bootstrap_ci(Y_TRUE * 5, Y_PRED * 5, LABELS, n_boot=2000, seed=1)
    large = bootstrap_ci(Y_TRUE * 100, Y_PRED * 100, LABELS, n_boot=2000, seed=1)
    for ci in (small, large):
        assert ci["low"] <= ci["point"] <= ci["high"]
        assert ci["resample"] == "entries"
    assert large["point"] == pytest.approx(small["point"])
    assert (large["high"] - large["low"]) < (small["high"] - small["low"]) / 3
    again = bootstrap_ci(Y_TRUE * 5, Y_PRED * 5, LABELS, n_boot=2000, seed=1)
    assert again == small


def test_case_resampling_is_wider_when_a_case_shares_its_errors():
    rng = np.random.default_rng(0)
    y_true, y_pred, groups = [], [], []
    for g in range(60):
        right = rng.random() < 0.7  # a whole case is right or wrong together
        for _ in range(20):
            t = LABELS[int(rng.integers(0, 3))]
            y_true.append(t)
            y_pred.append(t if right else LABELS[(LABELS.index(t) + 1) % 3])
            groups.append(f"X{g:06d}")
    entries = bootstrap_ci(y_true, y_pred, LABELS, n_boot=1000)
    cases = bootstrap_ci(y_true, y_pred, LABELS, groups=groups, n_boot=1000)
    assert cases["resample"] == "cases" and cases["n_units"] == 60
    assert cases["low"] <= cases["point"] <= cases["high"]
    assert (cases["high"] - cases["low"]) > 2 * (entries["high"] - entries["low"])


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident():
    rng = np.random.default_rng(42)
    n = 40_000
    conf = rng.uniform(0.5, 1.0, n)
    right = rng.random(n) < conf  # right exactly as often as the model says
    proba = np.column_stack([conf, 1 - conf])
    y = np.where(right, 0, 1)
    assert expected_calibration_error(proba, y) < 0.015
    over = np.column_stack([np.full(n, 0.99), np.full(n, 0.01)])
    y_over = np.where(rng.random(n) < 0.6, 0, 1)  # 60% right at 99% confidence
    assert expected_calibration_error(over, y_over) == pytest.approx(0.39, abs=0.02)


def test_reliability_bins_are_equal_width_and_count_everything():
    proba = np.array([[0.05, 0.95], [1.0, 0.0], [0.5, 0.5], [0.6, 0.4]])
    table = reliability_table(proba, [1, 0, 0, 1], n_bins=10)
    assert len(table) == 10 and table["count"].sum() == 4
    np.testing.assert_allclose(table["upper"] - table["lower"], 0.1)
    assert table.loc[9, "count"] == 2  # 0.95 and 1.0 fall in (0.9, 1.0]
    assert table.loc[4, "count"] == 1  # 0.5 falls in (0.4, 0.5]
    assert table.loc[5, "count"] == 1 and table.loc[5, "accuracy"] == 0.0  # 0.6, wrong


def _toy():
    y = {"oversight_type": ["risk", "review", "risk", None], "content": ["defensive"] * 4}
    proba = {
        "oversight_type": np.array(
            [
                [0, 0, 0.9, 0, 0, 0.1],
                [0, 0, 0.8, 0, 0, 0.2],
                [0, 0, 0.6, 0, 0, 0.4],
                [1, 0, 0, 0, 0, 0],
            ]
        ),
        "content": np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45]]),
    }
    classes = {
        "oversight_type": [
            "allocation",
            "supervision",
            "risk",
            "enforcement",
            "assurance",
            "review",
        ],
        "content": ["defensive", "substantive"],
    }
    texts = ["ok", "Call Jane on 07700 900123 about it", "fine", "x"]
    return y, proba, classes, texts


def test_error_table_sorts_mistakes_by_confidence_and_redacts():
    y, proba, classes, texts = _toy()
    errors = error_table(y, proba, classes, texts, ids=["e1", "e2", "e3", "e4"])
    assert errors["id"].tolist() == ["e2", "e2"]
    assert errors["proba_pred"].tolist() == sorted(errors["proba_pred"], reverse=True)
    first = errors.iloc[0]
    assert (first["head"], first["true"], first["pred"]) == ("oversight_type", "review", "risk")
    assert first["proba_true"] == pytest.approx(0.2)
    assert "07700" not in first["text"] and "[PHONE]" in first["text"]


def test_missing_true_labels_are_left_out():
    y, proba, classes, _ = _toy()
    r = evaluate_head(
        y["oversight_type"], proba["oversight_type"], classes["oversight_type"], n_boot=50
    )
    assert r["n"] == 3 and r["confusion"].sum() == 3


def test_evaluate_and_write_the_report(tmp_path):
    y, proba, classes, texts = _toy()
    ev = evaluate(y, proba, classes, texts=texts, groups=["A", "A", "B", "C"], n_boot=200)
    paths = write_evaluation(ev, tmp_path / "eval")
    names = {p.name for p in paths.values()}
    assert {
        "metrics.json",
        "per_class.csv",
        "reliability.csv",
        "errors.csv",
        "confusion_oversight_type.png",
        "reliability_content.png",
    } <= names
    for p in paths.values():
        assert p.stat().st_size > 0
    assert paths["confusion_content"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads(paths["metrics"].read_text())
    assert set(metrics) == {"oversight_type", "content"}
    m = metrics["oversight_type"]
    assert m["macro_f1_ci"]["low"] <= m["macro_f1"] <= m["macro_f1_ci"]["high"]
    assert m["macro_f1_ci_cases"]["n_units"] == 2 and m["ece_bins"] == 15
    per_class = pd.read_csv(paths["per_class"])
    assert {"head", "label", "precision", "recall", "f1", "support", "f1_low", "f1_high"} <= set(
        per_class.columns
    )
    assert "07700" not in paths["errors"].read_text()
