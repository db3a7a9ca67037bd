"""Labelled data in: generator folders, researchers' files, Label Studio; redaction; splits."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from pipeline.datasets import (
    DATASET_COLUMNS,
    SPLITS,
    build_dataset,
    load_label_studio,
    load_labelled,
    load_labelled_file,
    load_synth,
    split_by_case,
    to_dataset_dict,
)
from pipeline.errors import (
    EmptyTextError,
    LabelledDataError,
    MissingClassError,
    SplitError,
    UnknownLabelError,
)
from pipeline.labels import CONTENT_LABELS, OVERSIGHT_TYPES
from pipeline.nlp.redact import redact
from pipeline.synth import write_synth

#: personal data planted in hand-made rows: none of it may reach a dataset
PLANTED = {
    "name": "Brandon Okafor",
    "crn": "X123456",
    "phone": "07700 900123",
    "email": "brandon.okafor@example.com",
}
SECRET_TEXT = (
    f"Spoke with {PLANTED['name']} ({PLANTED['crn']}) today, mobile {PLANTED['phone']}, "
    f"email {PLANTED['email']}. Police call-out at the address; MARAC referral by Friday."
)


def _assert_no_pii(texts):
    for text in texts:
        for value in PLANTED.values():
            assert value not in text
        assert "Okafor" not in text and "Brandon" not in text


# --- generator folders -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_dir(small_synth, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ds_synth")
    write_synth(small_synth, folder, fmt="csv")
    return folder


def test_generator_folder_keeps_oversight_entries_with_annotated_labels(small_synth, synth_dir):
    frame = load_synth(synth_dir)
    labels = small_synth.labels[small_synth.labels["is_oversight"]].set_index("contact_id")
    assert list(frame.columns) == list(DATASET_COLUMNS)
    assert len(frame) == len(labels)
    assert (
        frame["oversight_type"].to_numpy() == labels.loc[frame["id"], "oversight_type"].to_numpy()
    ).all()
    assert (frame["content"].to_numpy() == labels.loc[frame["id"], "content"].to_numpy()).all()
    assert (frame["group"] == frame["crn"]).all()
    clean = load_synth(synth_dir, clean_labels=True)
    assert (
        clean["content"].to_numpy() == labels.loc[clean["id"], "content_clean"].to_numpy()
    ).all()


def test_generator_texts_are_the_redacted_notes(small_synth, synth_dir):
    frame = load_synth(synth_dir).set_index("id")
    export = small_synth.export.set_index("contact_id")
    for cid in frame.index[:40]:
        row = export.loc[cid]
        names = [f"{row.pop_forename} {row.pop_surname}", row.staff_name, row.created_by]
        expected = redact(
            row.notes, known_names=names, reference_date=date.fromisoformat(row.contact_date)
        )[0]
        assert frame.loc[cid, "text"] == expected
        assert row.pop_surname not in frame.loc[cid, "text"]


def test_generator_folder_without_labels_is_refused(tmp_path):
    with pytest.raises(LabelledDataError, match="labels.parquet"):
        load_synth(tmp_path)


# --- researchers' files ----------------------------------------------------------------------


def _write_csv(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _rows(n=6):
    out = []
    for i in range(n):
        out.append(
            {
                "id": f"r{i}",
                "crn": f"A{100000 + i // 2}",
                "text": f"Case discussed with the PP, entry {i}. Risk reviewed, plan agreed.",
                "oversight_type": OVERSIGHT_TYPES[i % len(OVERSIGHT_TYPES)],
                "content": CONTENT_LABELS[i % 2],
            }
        )
    return out


def test_researcher_csv_with_planted_pii_is_redacted(tmp_path):
    rows = _rows()
    rows[0]["text"] = SECRET_TEXT
    rows[0]["pop_forename"], rows[0]["pop_surname"] = "Brandon", "Okafor"
    rows[1]["oversight_type"] = "  Risk "  # case and spaces do not matter
    frame = load_labelled_file(_write_csv(tmp_path / "mine.csv", rows))
    assert len(frame) == 6 and frame.loc[1, "oversight_type"] == "risk"
    _assert_no_pii(frame["text"])
    assert "[PHONE]" in frame.loc[0, "text"] and "[EMAIL]" in frame.loc[0, "text"]
    ds = to_dataset_dict({"train": frame})
    _assert_no_pii(ds["train"]["text"])


def test_bad_label_names_file_row_and_field_not_the_text(tmp_path):
    rows = _rows()
    rows[2]["text"] = SECRET_TEXT
    rows[2]["oversight_type"] = "riskk"
    path = _write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(UnknownLabelError) as info:
        load_labelled_file(path)
    err = info.value
    assert (err.path, err.row, err.field) == (str(path), 3, "oversight_type")
    message = str(err)
    assert "riskk" in message and "row 3" in message and "bad.csv" in message
    assert "allocation" in message  # says what is allowed
    _assert_no_pii([message])


def test_empty_text_names_row_and_field(tmp_path):
    rows = _rows()
    rows[4]["text"] = "   "
    path = tmp_path / "empty.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    with pytest.raises(EmptyTextError) as info:
        load_labelled_file(path)
    assert (info.value.row, info.value.field) == (5, "text")


def test_parquet_and_jsonl_files_and_unlabelled_rows(tmp_path):
    rows = _rows()
    rows[3]["oversight_type"], rows[3]["content"] = None, ""  # no label: skipped
    rows[5]["content"] = None  # one head missing: kept
    pd.DataFrame(rows).to_parquet(tmp_path / "f.parquet")
    frame = load_labelled(tmp_path / "f.parquet")
    assert len(frame) == 5 and frame["content"].isna().sum() == 1
    missing_crn = [{k: v for k, v in r.items() if k != "crn"} for r in _rows(3)]
    (tmp_path / "g.jsonl").write_text("\n".join(json.dumps(r) for r in missing_crn), "utf-8")
    frame = load_labelled(tmp_path / "g.jsonl")
    assert frame["crn"].isna().all() and frame["group"].nunique() == 3  # each row its own group


def test_files_without_the_needed_columns_are_refused(tmp_path):
    path = _write_csv(tmp_path / "x.csv", [{"note": "a", "oversight_type": "risk"}])
    with pytest.raises(LabelledDataError, match="'text'"):
        load_labelled_file(path)
    path = _write_csv(tmp_path / "y.csv", [{"text": "a", "label": "risk"}])
    with pytest.raises(LabelledDataError, match="oversight_type"):
        load_labelled_file(path)


# --- Label Studio ----------------------------------------------------------------------------


def _choice(name, label):
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": [label]}}


def _label_studio_export():
    return [
        {
            "id": 11,
            "data": {
                "text": SECRET_TEXT,
                "crn": "X123456",
                "contact_id": "c1",
                "pop_forename": "Brandon",
                "pop_surname": "Okafor",
            },
            "annotations": [
                {
                    "id": 1,
                    "was_cancelled": False,
                    "created_at": "2024-01-01T10:00:00Z",
                    "result": [
                        _choice("oversight_type", "supervision"),
                        _choice("content", "defensive"),
                    ],
                },
                {
                    "id": 2,
                    "was_cancelled": False,
                    "created_at": "2024-01-02T10:00:00Z",
                    "result": [
                        _choice("oversight_type", "risk"),
                        _choice("content", "substantive"),
                        _choice("initiated_by", "pp_request"),
                    ],
                },
                {
                    "id": 3,
                    "was_cancelled": True,
                    "created_at": "2024-01-03T10:00:00Z",
                    "result": [_choice("oversight_type", "review")],
                },
            ],
        },
        {"id": 12, "data": {"text": "Not yet labelled."}, "annotations": []},
        {
            "id": 13,
            "data": {"text": "OASys countersigned, no issues."},
            "annotations": [
                {
                    "id": 4,
                    "result": [
                        _choice("oversight_type", "Assurance"),
                        _choice("content", "defensive"),
                        {"from_name": "comment", "type": "textarea", "value": {"text": ["ok"]}},
                    ],
                }
            ],
        },
        {
            "id": 14,
            "data": {"text": "Cancelled only."},
            "annotations": [
                {"id": 5, "was_cancelled": True, "result": [_choice("content", "defensive")]}
            ],
        },
    ]


def test_label_studio_export_takes_the_latest_live_annotation(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_label_studio_export()), "utf-8")
    frame = load_labelled(path)  # told apart from a researcher's JSON by its shape
    assert list(frame["id"]) == ["c1", "13"]
    first = frame.iloc[0]
    assert (first["oversight_type"], first["content"], first["initiated_by"]) == (
        "risk",
        "substantive",
        "pp_request",
    )
    assert first["crn"] == "X123456" and first["group"] == "X123456"
    assert frame.iloc[1]["oversight_type"] == "assurance" and frame.iloc[1]["crn"] is None
    _assert_no_pii(frame["text"])


def test_label_studio_unknown_label_names_the_task(tmp_path):
    tasks = _label_studio_export()
    tasks[2]["annotations"][0]["result"][1] = _choice("content", "evasive")
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), "utf-8")
    with pytest.raises(UnknownLabelError) as info:
        load_label_studio(path)
    assert (info.value.row, info.value.field) == (3, "content")


# --- splits ----------------------------------------------------------------------------------


def _frame(n_cases: int, seed: int) -> pd.DataFrame:
    """A hand-made frame: cases of 1-9 entries, every label present, some rows without a CRN."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(n_cases):
        crn = f"C{c:06d}" if c % 10 else None
        for j in range(int(rng.integers(1, 10))):
            i = len(rows)
            rows.append(
                {
                    "id": str(i),
                    "crn": crn,
                    "group": crn or f"f#{i}",
                    "source": "f",
                    "text": f"t{i}",
                    "oversight_type": OVERSIGHT_TYPES[(c + j) % 6],
                    "content": CONTENT_LABELS[(c * j) % 2],
                    "initiated_by": None,
                }
            )
    return pd.DataFrame(rows, columns=list(DATASET_COLUMNS))


@pytest.mark.parametrize("seed", range(8))
def test_splits_never_share_a_case(seed):
    frame = _frame(60 + 15 * seed, seed)
    splits = split_by_case(frame, validation_size=0.15, test_size=0.2, seed=seed)
    groups = {name: set(part["group"]) for name, part in splits.items()}
    assert groups["train"].isdisjoint(groups["validation"])
    assert groups["train"].isdisjoint(groups["test"])
    assert groups["validation"].isdisjoint(groups["test"])
    assert sum(len(p) for p in splits.values()) == len(frame)
    assert set().union(*groups.values()) == set(frame["group"])
    for name, want in (("validation", 0.15), ("test", 0.2)):
        assert abs(len(splits[name]) / len(frame) - want) < 0.1
    # deterministic for a seed, whatever the row order
    again = split_by_case(
        frame.sample(frac=1.0, random_state=seed), validation_size=0.15, test_size=0.2, seed=seed
    )
    for name in SPLITS:
        assert set(again[name]["id"]) == set(splits[name]["id"])


def test_different_seeds_give_different_splits():
    frame = _frame(80, 0)
    a = split_by_case(frame, seed=1)["test"]["id"]
    b = split_by_case(frame, seed=2)["test"]["id"]
    assert set(a) != set(b)


def test_sizes_can_be_row_counts_and_bad_sizes_are_refused():
    frame = _frame(80, 1)
    splits = split_by_case(frame, validation_size=0, test_size=50, seed=0)
    assert len(splits["validation"]) == 0 and 50 <= len(splits["test"]) < 60
    for bad in (dict(test_size=1.5), dict(test_size=-1), dict(test_size=0.6, validation_size=0.5)):
        with pytest.raises(SplitError):
            split_by_case(frame, **bad)


def test_a_class_without_training_examples_is_an_error():
    frame = _frame(60, 3)
    no_review = frame[frame["oversight_type"] != "review"]
    with pytest.raises(MissingClassError, match="review") as info:
        split_by_case(no_review, seed=0)
    assert info.value.head == "oversight_type" and info.value.labels == ("review",)
    split_by_case(no_review, seed=0, require_all_classes=False)
    # a label held by one case only: some seed sends that case out of train
    one = frame.copy()
    one.loc[one["oversight_type"] == "review", "oversight_type"] = "risk"
    one.loc[one.index[0], "oversight_type"] = "review"
    outcomes = []
    for seed in range(20):
        try:
            split_by_case(one, seed=seed, test_size=0.3, validation_size=0.2)
            outcomes.append("ok")
        except MissingClassError:
            outcomes.append("missing")
    assert "missing" in outcomes and "ok" in outcomes


def test_build_dataset_from_a_generator_folder(synth_dir):
    ds = build_dataset(synth_dir, validation_size=0.15, test_size=0.15, seed=4)
    assert list(ds) == list(SPLITS)
    for name in SPLITS:
        assert ds[name].column_names == list(DATASET_COLUMNS)
    crns = [set(ds[name]["crn"]) for name in SPLITS]
    assert (
        crns[0].isdisjoint(crns[1]) and crns[0].isdisjoint(crns[2]) and crns[1].isdisjoint(crns[2])
    )
    assert set(ds["train"]["oversight_type"]) == set(OVERSIGHT_TYPES)


def test_parallel_redaction_matches_serial(monkeypatch):
    import pipeline.datasets as ds

    texts = [f"{SECRET_TEXT} ({i})" for i in range(30)]
    names = [("Brandon Okafor",)] * 30
    serial = ds.redact_texts(texts, names)
    monkeypatch.setattr(ds, "_REDACT_CHUNK", 4)
    assert ds.redact_texts(texts, names, n_jobs=2) == serial
    _assert_no_pii(serial)


def test_empty_splits_become_empty_datasets():
    frame = _frame(40, 2)
    splits = split_by_case(frame, validation_size=0, test_size=0.2, seed=0)
    ds = to_dataset_dict(splits)
    assert ds["validation"].num_rows == 0 and ds["validation"].column_names == list(DATASET_COLUMNS)
    assert ds["train"].num_rows + ds["test"].num_rows == len(frame)
