"""Validation confusions: read from metrics.json, reordered to the scheme, the initiator's from
a labelled export."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import ValidationFileError
from pipeline.measure.validation import initiator_confusion, load_validation, scores_from_confusion


def test_metrics_json_is_read_and_reordered(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(
        json.dumps(
            {
                "content": {
                    "labels": ["substantive", "defensive"],
                    "confusion": [[8, 2], [1, 9]],
                    "macro_f1": 0.85,
                    "accuracy": 0.85,
                    "n": 20,
                }
            }
        )
    )
    v = load_validation(tmp_path)  # the folder works too
    np.testing.assert_array_equal(v.confusions["content"], [[9, 1], [2, 8]])  # defensive first
    assert v.scores["content"]["n"] == 20 and "oversight_type" not in v.confusions


def test_bad_metrics_are_errors_naming_the_file(tmp_path):
    with pytest.raises(ValidationFileError, match="no validation metrics"):
        load_validation(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"content": {"labels": ["defensive", "maybe"], "confusion": [[1, 0], [0, 1]]}})
    )
    with pytest.raises(ValidationFileError, match="outside the scheme"):
        load_validation(bad)
    bad.write_text(
        json.dumps({"content": {"labels": ["defensive"], "confusion": [[1, 0], [0, 1]]}})
    )
    with pytest.raises(ValidationFileError, match="square"):
        load_validation(bad)


def test_initiator_confusion_from_a_labelled_export(tmp_path):
    folder = tmp_path / "synth"
    folder.mkdir()
    pd.DataFrame(
        {
            "contact_id": ["1", "2", "3", "4"],
            "is_oversight": [True, True, True, False],
            "initiated_by": ["pp_request", "unknown", "spo", None],
        }
    ).to_parquet(folder / "labels.parquet")
    entries = pd.DataFrame(
        {
            "contact_id": ["1", "2", "3", "4"],
            "initiated_by": ["pp_request", "scheduled", "spo", "unknown"],
            "source_file": [str(folder / "export.csv")] * 4,
        }
    )
    entries.to_parquet(tmp_path / "scored.parquet")
    counts = initiator_confusion(tmp_path / "scored.parquet")
    assert counts.sum() == 3  # the non-oversight contact is left out
    assert (
        counts[0, 0] == 1 and counts[1, 1] == 1 and counts[3, 2] == 1
    )  # unknown read as scheduled
    s = scores_from_confusion(counts)
    assert s["accuracy"] == pytest.approx(2 / 3) and s["n"] == 3
    entries.assign(source_file=str(tmp_path / "elsewhere" / "x.csv")).to_parquet(
        tmp_path / "o.parquet"
    )
    with pytest.raises(ValidationFileError, match="labels.parquet"):
        initiator_confusion(tmp_path / "o.parquet")
