"""The scoring functions of pipeline.nlp.evaluate."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.nlp.evaluate import (
    evaluate_export,
    score_attributes,
    score_detection,
    score_initiator,
    score_redaction,
)


def test_score_redaction_recall_precision_per_kind():
    text = "Mr Kelly Hughes rang 07700 900123 from CF10 1AA."
    gold = [[[3, 15, "PERSON"], [21, 33, "PHONE"], [39, 47, "POSTCODE"]]]
    pred = [[(3, 8, "PERSON"), (21, 33, "PHONE"), (0, 2, "PERSON")]]
    s = score_redaction(gold, pred, [text]).summary()
    assert s["PHONE"]["recall"] == 1.0 and s["PHONE"]["precision"] == 1.0
    assert s["PERSON"]["recall"] == 0.0  # "Hughes" left visible: the span is not caught
    assert s["PERSON"]["any_overlap_recall"] == 1.0
    assert math.isclose(s["PERSON"]["char_recall"], 5 / 11)
    assert s["PERSON"]["precision"] == 0.5  # "Mr" is not personal data
    assert s["POSTCODE"]["recall"] == 0.0 and math.isnan(s["POSTCODE"]["precision"])
    assert s["ALL"]["gold"] == 3


def test_score_redaction_accepts_json_and_none():
    s = score_redaction([json.dumps([[0, 2, "CRN"]]), None], [[(0, 2, "CRN")], []]).summary()
    assert s["CRN"]["recall"] == 1.0


def test_score_detection():
    d = score_detection([True, True, False, False], [True, False, True, False])
    assert (d["tp"], d["fp"], d["fn"], d["tn"]) == (1, 1, 1, 1)
    assert d["f1"] == 0.5


def test_score_initiator_skips_non_oversight_and_counts_none_as_unknown():
    s = score_initiator(["spo", None, "unknown", "scheduled"], ["spo", "spo", None, "spo"])
    assert s["n"] == 3 and math.isclose(s["accuracy"], 2 / 3)
    assert s["confusion"]["scheduled"]["spo"] == 1


def test_score_attributes():
    s = score_attributes([{"sbar": True, "rationale": False}], [{"sbar": True, "rationale": True}])
    assert s["sbar"]["f1"] == 1.0 and s["rationale"]["precision"] == 0.0


def test_evaluate_export_end_to_end(tmp_path):
    export = pa.table(
        {
            "contact_id": ["a", "b"],
            "crn": ["X1", "X1"],
            "notes": ["MO: agree with PP, Kelly to refer.", "Office visit, 07700 900123."],
            "contact_type_code": ["COTH", "COAP"],
        }
    )
    labels = pa.table(
        {
            "contact_id": ["a", "b"],
            "is_oversight": [True, False],
            "initiated_by": ["unknown", None],
            "pii_spans": [json.dumps([[20, 25, "PERSON"]]), json.dumps([[14, 26, "PHONE"]])],
            **{
                a: [False, False]
                for a in (
                    "sbar",
                    "rationale",
                    "action_owner",
                    "timescale",
                    "risk_factors",
                    "retrospective",
                )
            },
        }
    )
    pq.write_table(export, tmp_path / "export.parquet")
    pq.write_table(labels, tmp_path / "labels.parquet")
    r = evaluate_export(str(tmp_path / "export.parquet"), str(tmp_path / "labels.parquet"))
    assert r["contacts"] == 2
    assert r["detection"]["f1"] == 1.0
    assert r["redaction"]["ALL"]["recall"] == 1.0
    assert r["initiated_by"]["n"] == 1
