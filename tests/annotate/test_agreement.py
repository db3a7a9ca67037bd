"""Agreement coefficients on hand-checked and textbook examples; disagreement and resolution."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from pipeline.annotate.agreement import (
    agreement_report,
    cohen_kappa,
    coincidence_matrix,
    disagreements,
    krippendorff_alpha,
    per_label_disagreement,
    read_adjudication,
    resolve,
)
from pipeline.errors import UnknownLabelError

N = None


def test_cohen_kappa_on_a_hand_checked_example():
    # 8 entries, oversight_type by two annotators.
    a = ["risk", "risk", "risk", "enforcement", "enforcement", "review", "review", "review"]
    b = ["risk", "risk", "enforcement", "enforcement", "enforcement", "review", "review", "risk"]
    # agree on 1, 2, 4, 5, 6, 7: p_o = 6/8 = 48/64
    # A: risk 3, enforcement 2, review 3; B: risk 3, enforcement 3, review 2
    # p_e = (3*3 + 2*3 + 3*2) / 64 = 21/64; kappa = (48 - 21) / (64 - 21) = 27/43
    assert cohen_kappa(a, b) == pytest.approx(27 / 43)
    assert cohen_kappa(a, a) == pytest.approx(1.0)


def test_cohen_kappa_matches_scikit_learn_and_drops_missing_items():
    rng = np.random.default_rng(4)
    a = rng.choice(["x", "y", "z"], 200).tolist()
    b = [v if rng.random() < 0.6 else rng.choice(["x", "y", "z"]) for v in a]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    # an item either annotator skipped does not count
    assert cohen_kappa([*a, "x", None], [*b, None, "y"]) == pytest.approx(cohen_kappa(a, b))


def test_cohen_kappa_is_undefined_without_variation():
    assert math.isnan(cohen_kappa(["x", "x"], ["x", "x"]))
    assert math.isnan(cohen_kappa([None], ["x"]))
    with pytest.raises(ValueError):
        cohen_kappa(["x"], ["x", "y"])


def test_krippendorff_alpha_on_krippendorffs_own_examples():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: four
    # observers, 12 units, missing values; nominal alpha = 0.743.
    obs_a = [1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N]
    obs_b = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3]
    obs_c = [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N]
    obs_d = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N]
    units = list(zip(obs_a, obs_b, obs_c, obs_d, strict=True))
    assert krippendorff_alpha(units) == pytest.approx(0.743, abs=5e-4)
    # the same paper, section A: two observers, binary data, 10 units; alpha = 0.095
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert krippendorff_alpha(list(zip(a, b, strict=True))) == pytest.approx(0.095, abs=5e-4)


def test_coincidence_matrix_counts_pairable_values():
    values, o = coincidence_matrix([(1, 1, None), (1, 2), (3,)])  # the last is not pairable
    assert values == [1, 2]
    np.testing.assert_allclose(o, [[2.0, 1.0], [1.0, 0.0]])  # (1,1): 2 pairs; (1,2): 1 each way
    assert o.sum() == 4  # n = pairable values: 2 + 2


def test_krippendorff_alpha_edges():
    assert krippendorff_alpha([("a", "a"), ("b", "b"), ("a", "a")]) == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha([("a", "a"), ("a", "a")]))  # no variation
    assert math.isnan(krippendorff_alpha([("a", None)]))  # nothing pairable


def _frame(rows):
    """Long annotation frame from (task, annotator, oversight_type, content) tuples."""
    return pd.DataFrame(
        [
            {
                "task_id": t,
                "contact_id": f"c{t}",
                "case": "case-1",
                "text": f"entry {t}",
                "annotator": a,
                "oversight_type": ot,
                "content": c,
                "initiated_by": None,
            }
            for t, a, ot, c in rows
        ]
    )


@pytest.fixture
def three_annotators():
    return _frame(
        [
            ("t1", "ann", "risk", "substantive"),
            ("t1", "bob", "risk", "substantive"),
            ("t1", "cy", "risk", "defensive"),  # content 2-1: majority
            ("t2", "ann", "review", "defensive"),
            ("t2", "bob", "assurance", "defensive"),  # type: a three-way tie
            ("t2", "cy", "risk", "defensive"),
            ("t3", "ann", "enforcement", "defensive"),
            ("t3", "bob", "enforcement", "defensive"),
            ("t4", "ann", "allocation", "substantive"),  # one annotator only
        ]
    )


def test_per_label_disagreement_counts(three_annotators):
    table = per_label_disagreement(three_annotators, "oversight_type").set_index("label")
    # risk: chosen 3x on t1 (agreed) + once on t2 (disputed); on 2 tasks, 1 disputed
    assert table.loc["risk", "times_chosen"] == 4
    assert table.loc["risk", "tasks"] == 2
    assert table.loc["risk", "tasks_disagreed"] == 1
    assert table.loc["risk", "disagreement_rate"] == pytest.approx(0.5)
    assert table.loc["enforcement", "tasks_disagreed"] == 0
    assert table.loc["review", "most_confused_with"] in ("assurance", "risk")
    assert table.loc["allocation", "tasks"] == 0  # t4 has one annotator: no agreement to judge
    assert math.isnan(table.loc["allocation", "disagreement_rate"])


def test_resolve_majority_tie_single_and_adjudicated(three_annotators):
    final = resolve(three_annotators).set_index("task_id")
    assert final.loc["t1", "content"] == "substantive"
    assert final.loc["t1", "content_resolution"] == "majority"
    assert final.loc["t1", "oversight_type_resolution"] == "unanimous"
    assert final.loc["t2", "oversight_type"] is None
    assert final.loc["t2", "oversight_type_resolution"] == "unresolved"
    assert final.loc["t4", "oversight_type_resolution"] == "single"
    assert final.loc["t4", "n_annotators"] == 1
    decided = resolve(three_annotators, adjudicated={"t2": {"oversight_type": "review"}})
    decided = decided.set_index("task_id")
    assert decided.loc["t2", "oversight_type"] == "review"
    assert decided.loc["t2", "oversight_type_resolution"] == "adjudicated"


def test_disagreements_lists_only_disputed_tasks(three_annotators):
    table = disagreements(three_annotators)
    assert table["task_id"].tolist() == ["t1", "t2"]
    t2 = table.set_index("task_id").loc["t2"]
    assert t2["fields_disagreed"] == "oversight_type"
    assert t2["oversight_type:bob"] == "assurance"
    assert pd.isna(t2["majority_oversight_type"])
    assert table.set_index("task_id").loc["t1", "majority_content"] == "substantive"
    assert table["final_content"].isna().all()
    assert table.columns[-1] == "text"


def test_read_adjudication_checks_labels(three_annotators):
    table = disagreements(three_annotators)
    table.loc[table["task_id"] == "t2", "final_oversight_type"] = " Review "
    assert read_adjudication(table, path="adj.csv") == {"t2": {"oversight_type": "review"}}
    table.loc[table["task_id"] == "t1", "final_content"] = "meh"
    with pytest.raises(UnknownLabelError) as err:
        read_adjudication(table, path="adj.csv")
    assert err.value.path == "adj.csv" and err.value.row == 1 and err.value.field == "content"


def test_agreement_report_is_json_ready(three_annotators):
    import json

    report = agreement_report(three_annotators)
    json.dumps(report)  # no NaN or numpy types left
    assert report["annotators"] == ["ann", "bob", "cy"]
    assert report["n_tasks"] == 4 and report["n_tasks_multi"] == 3
    pairs = report["fields"]["oversight_type"]["cohen_kappa"]
    assert [(p["annotator_a"], p["annotator_b"]) for p in pairs] == [
        ("ann", "bob"),
        ("ann", "cy"),
        ("bob", "cy"),
    ]
    assert pairs[0]["n_tasks"] == 3  # ann and bob share t1, t2, t3
    assert report["fields"]["initiated_by"]["krippendorff_alpha"] is None  # nobody labelled it
