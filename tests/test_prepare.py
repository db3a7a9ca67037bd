"""prepare: exports in, entries out; counts balance, only redacted text is written."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.prepare import ENTRIES_FILE, QUARANTINE_FILE, SUMMARY_FILE, prepare
from pipeline.schema import ENTRY_COLUMNS
from pipeline.synth import generate, write_synth


@pytest.fixture(scope="module")
def synth_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth_csv")
    synth = generate(30, seed=21, workers=1)
    paths = write_synth(synth, folder, fmt="csv")
    return synth, paths


@pytest.fixture(scope="module")
def prepared(synth_csv, tmp_path_factory):
    synth, paths = synth_csv
    out = tmp_path_factory.mktemp("interim")
    summary = prepare([paths["export"]], out_dir=out, chunk_rows=300)
    return synth, out, summary


def test_counts_balance_and_outputs_exist(prepared):
    synth, out, summary = prepared
    assert summary.rows_in == len(synth.export)
    assert summary.rows_in == summary.entries_out + summary.non_oversight + summary.quarantined
    assert summary.quarantined == 0
    on_disk = json.loads((out / SUMMARY_FILE).read_text())
    assert on_disk["entries_out"] == summary.entries_out
    entries = pd.read_parquet(out / ENTRIES_FILE)
    assert tuple(entries.columns) == ENTRY_COLUMNS and len(entries) == summary.entries_out
    assert summary.empty_notes == int((synth.export["notes"] == "").sum())


def test_entries_are_the_oversight_contacts(prepared):
    synth, out, _ = prepared
    entries = pd.read_parquet(out / ENTRIES_FILE)
    truth = synth.labels.set_index("contact_id")["is_oversight"]
    found = set(entries["contact_id"])
    actual = set(truth[truth].index)
    tp = len(found & actual)
    f1 = 2 * tp / (len(found) + len(actual))
    assert f1 > 0.95, f1


def test_no_planted_personal_data_reaches_the_entries(prepared):
    synth, out, _ = prepared
    entries = pd.read_parquet(out / ENTRIES_FILE)
    assert not {"notes", "pop_forename", "pop_surname", "staff_name", "created_by"} & set(
        entries.columns
    )
    raw = synth.export.set_index("contact_id")["notes"]
    spans = synth.labels.set_index("contact_id")["pii_spans"]
    leaked = []
    for cid, text in zip(entries["contact_id"], entries["text"], strict=True):
        for start, end, kind in json.loads(spans[cid]):
            value = raw[cid][start:end]
            if kind in ("CRN", "PHONE", "EMAIL", "NI_NUMBER", "PNC") and value in text:
                leaked.append(kind)
    assert not leaked


def _csv(path, rows):
    pd.DataFrame(rows).to_csv(path, index=False)


def _row(cid, **kw):
    base = {
        "contact_id": cid,
        "crn": "X123456",
        "pop_forename": "Dorian",
        "pop_surname": "Quayle",
        "contact_date": "2024-03-01",
        "contact_start_time": "10:00",
        "contact_type_code": "MO1",
        "contact_type_description": "Management Oversight - General",
        "notes": "Agree with PP. Dorian Quayle rang from 07700 900123.",
        "sensitive": "N",
        "system_generated": "N",
        "region": "Wales",
        "pdu": "Cardiff",
        "team": "Cardiff SM1",
        "staff_name": "Ann Lee",
        "staff_grade": "SPO",
        "created_by": "Ann Lee",
        "created_datetime": "2024-03-01T10:00:00",
    }
    base.update(kw)
    return base


def test_bad_rows_are_quarantined_redacted_and_counted(tmp_path):
    rows = [
        _row("1"),
        _row("1"),  # duplicate id
        _row("2", contact_date="31/31/2024"),  # impossible date
        _row("3", crn=""),  # missing CRN
        _row("4", contact_type_code="COAP", notes="Office visit, all fine."),
    ]
    _csv(tmp_path / "in.csv", rows)
    summary = prepare([tmp_path / "in.csv"], out_dir=tmp_path / "out")
    assert summary.rows_in == 5
    assert summary.quarantined == 3 and summary.entries_out == 1 and summary.non_oversight == 1
    q = pd.read_parquet(tmp_path / "out" / QUARANTINE_FILE)
    assert sorted(q["reason"]) == sorted(["duplicate_contact_id", "bad_date", "missing_value"])
    assert set(q["source_row"]) == {2, 3, 4}
    blob = q.to_json()
    assert "07700 900123" not in blob and "Quayle" not in blob and "Dorian" not in blob
    e = pd.read_parquet(tmp_path / "out" / ENTRIES_FILE)
    assert "Quayle" not in e["text"].iloc[0] and "07700 900123" not in e["text"].iloc[0]


def test_a_bad_file_fails_cleanly_and_leaves_no_partial_output(tmp_path, synth_csv):
    _, paths = synth_csv
    pd.DataFrame({"something": ["x"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputError) as err:
        prepare([paths["export"], tmp_path / "bad.csv"], out_dir=tmp_path / "out")
    assert "bad.csv" in str(err.value)
    assert not (tmp_path / "out" / ENTRIES_FILE).exists()
    assert not list((tmp_path / "out").glob(".*tmp"))


def test_delius_json_end_to_end(tmp_path):
    synth = generate(6, seed=4, workers=1)
    write_synth(synth, tmp_path / "d", fmt="delius-json")
    summary = prepare([tmp_path / "d" / "delius"], out_dir=tmp_path / "out")
    assert summary.rows_in == len(synth.export)
    entries = pd.read_parquet(tmp_path / "out" / ENTRIES_FILE)
    system = set(synth.export.loc[synth.export["system_generated"] == "Y", "contact_id"])
    assert not system & set(entries["contact_id"])
    assert summary.empty_notes == int((synth.export["notes"] == "").sum())
    names = set(synth.export["pop_surname"]) | set(synth.export["pop_forename"])
    words = {w.strip(".,;:()'") for t in entries["text"] for w in t.split()}
    assert not names & words


def test_worker_processes_give_the_same_output(prepared, synth_csv, tmp_path, monkeypatch):
    import pipeline.prepare as prep

    monkeypatch.setattr(prep, "PARALLEL_MIN_ROWS", 0)  # start workers for a small input
    monkeypatch.setattr(prep, "WORK_ROWS", 100)  # several pieces per chunk
    _, paths = synth_csv
    _, out, summary = prepared
    with_workers = prepare([paths["export"]], out_dir=tmp_path, chunk_rows=300, n_process=2)
    assert with_workers.entries_out == summary.entries_out
    assert with_workers.entries_by_reason == summary.entries_by_reason
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / ENTRIES_FILE), pd.read_parquet(out / ENTRIES_FILE)
    )
