"""The local scoring engine: output, balance, resume, no-op re-runs, bad input, no raw PII."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.classify import HEAD_LABELS
from pipeline.errors import (
    InputError,
    ScoreModelError,
    ScoreOutputError,
    ScoreResumeError,
)
from pipeline.schema import ENTRY_COLUMNS
from pipeline.score import SCORE_COLUMNS, SCORED_COLUMNS, SUMMARY_FILE, score
from pipeline.score.local import PARTS_DIR
from pipeline.synth import generate, write_synth

CHUNK = 400  # several chunks on a 30-case export


class Interrupted(Exception):
    """Stands in for a kill between chunks."""


@pytest.fixture(scope="module")
def model_dir(fit_baseline):
    """A baseline fitted on a small synthetic export, saved as a model folder."""
    return fit_baseline(cases=30, seed=21)


@pytest.fixture(scope="module")
def synth():
    return generate(30, seed=22, workers=1)


@pytest.fixture(scope="module")
def export(synth, tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    write_synth(synth, folder, fmt="parquet")
    return folder / "export.parquet"


@pytest.fixture(scope="module")
def reference(export, model_dir, tmp_path_factory):
    """One uninterrupted run, shared by the tests that compare against it."""
    out = tmp_path_factory.mktemp("reference")
    summary = score(export, model=model_dir, out_dir=out, chunk_rows=CHUNK)
    return out, summary


def test_output_columns_and_balance(reference, export):
    out, summary = reference
    frame = pd.read_parquet(out / "scored.parquet")
    assert list(frame.columns) == list(SCORED_COLUMNS)
    assert set(ENTRY_COLUMNS) <= set(frame.columns) and set(SCORE_COLUMNS) <= set(frame.columns)
    assert summary.rows_in == pq.read_metadata(export).num_rows
    assert summary.rows_in == summary.entries_out + summary.non_oversight + summary.quarantined
    assert summary.entries_out == len(frame) > 0
    assert summary.chunks > 1 and not summary.noop
    assert frame["oversight_type"].isin(HEAD_LABELS["oversight_type"]).all()
    assert frame["content"].isin(HEAD_LABELS["content"]).all()
    assert frame["oversight_type_proba"].between(0, 1).all()
    assert frame["explanation"].str.contains("oversight_type=").all()
    assert (frame["model_version"] == summary.model_version).all()
    assert summary.model_version.startswith("baseline@")
    dist = summary.label_distribution
    assert sum(dist["oversight_type"].values()) == summary.entries_out
    assert (
        dist["content"]
        == frame["content"].value_counts().reindex(HEAD_LABELS["content"], fill_value=0).to_dict()
    )
    assert (out / "quarantine.parquet").is_file()
    saved = json.loads((out / SUMMARY_FILE).read_text())
    assert saved["input_fingerprint"] == summary.input_fingerprint
    assert saved["model_sha256"] == summary.model_sha256
    assert not (out / PARTS_DIR).exists()


def test_worker_processes_give_the_same_output(reference, export, model_dir, tmp_path, monkeypatch):
    import pipeline.score.local as local

    monkeypatch.setattr(local, "PARALLEL_MIN_ROWS", 0)  # start workers for a small input
    out, summary = reference
    parallel = score(export, model=model_dir, out_dir=tmp_path, chunk_rows=CHUNK, n_process=2)
    assert parallel.entries_out == summary.entries_out and parallel.chunks == summary.chunks
    assert parallel.label_distribution == summary.label_distribution
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "scored.parquet"), pd.read_parquet(out / "scored.parquet")
    )


def test_probabilities_do_not_depend_on_the_chunking(reference, export, model_dir, tmp_path):
    """An entry's probabilities are bit-identical whichever entries share its chunk (a QA team
    re-scoring with another --chunk-rows, more workers or Spark gets the same numbers)."""
    out, _ = reference
    score(export, model=model_dir, out_dir=tmp_path, chunk_rows=CHUNK * 7 + 3)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "scored.parquet"),
        pd.read_parquet(out / "scored.parquet"),
        check_exact=True,
    )


def test_kill_and_resume_gives_the_same_output(reference, export, model_dir, tmp_path):
    ref_out, ref_summary = reference
    out = tmp_path / "out"
    calls = []

    def killer(rows: int) -> None:
        calls.append(rows)
        if len(calls) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        score(export, model=model_dir, out_dir=out, chunk_rows=CHUNK, progress=killer)
    assert not (out / "scored.parquet").exists() and not (out / SUMMARY_FILE).exists()
    manifest = json.loads((out / PARTS_DIR / "manifest.json").read_text())
    assert [c["index"] for c in manifest["chunks"]] == [0, 1]

    seen = []
    summary = score(
        export, model=model_dir, out_dir=out, chunk_rows=CHUNK, resume=True, progress=seen.append
    )
    assert summary.chunks_resumed == 2
    assert sum(seen) == summary.rows_in == ref_summary.rows_in
    got = pd.read_parquet(out / "scored.parquet")
    want = pd.read_parquet(ref_out / "scored.parquet")
    pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "quarantine.parquet"), pd.read_parquet(ref_out / "quarantine.parquet")
    )
    assert summary.label_distribution == ref_summary.label_distribution
    assert not (out / PARTS_DIR).exists()


def test_resume_refused_when_chunking_or_model_differs(export, model_dir, tmp_path):
    out = tmp_path / "out"

    def killer(rows: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        score(export, model=model_dir, out_dir=out, chunk_rows=CHUNK, progress=killer)
    with pytest.raises(ScoreResumeError, match="chunk_rows"):
        score(export, model=model_dir, out_dir=out, chunk_rows=CHUNK + 1, resume=True)
    assert (out / PARTS_DIR / "manifest.json").is_file()  # still resumable with the right args


def test_rerun_is_a_noop(reference, export, model_dir):
    out, summary = reference
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = score(export, model=model_dir, out_dir=out, chunk_rows=CHUNK)
    assert again.noop
    assert again.input_fingerprint == summary.input_fingerprint
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_csv_output(export, model_dir, tmp_path):
    summary = score(export, model=model_dir, out_dir=tmp_path, chunk_rows=CHUNK, fmt="csv")
    frame = pd.read_csv(tmp_path / "scored.csv")
    assert len(frame) == summary.entries_out
    assert list(frame.columns) == list(SCORED_COLUMNS)
    assert (tmp_path / "quarantine.csv").is_file()


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_corrupt_parquet(model_dir, tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet PAR1")
    out = tmp_path / "out"
    with pytest.raises(InputError, match="bad.parquet"):
        score(bad, model=model_dir, out_dir=out)
    assert _leftovers(out) == []


def test_truncated_parquet(export, model_dir, tmp_path):
    bad = tmp_path / "cut.parquet"
    bad.write_bytes(export.read_bytes()[: export.stat().st_size // 2])
    out = tmp_path / "out"
    with pytest.raises(InputError, match="cut.parquet"):
        score(bad, model=model_dir, out_dir=out)
    assert _leftovers(out) == []


def test_corrupt_csv(model_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(os.urandom(300))
    out = tmp_path / "out"
    with pytest.raises(InputError, match="bad.csv"):
        score(bad, model=model_dir, out_dir=out)
    assert _leftovers(out) == []


def test_unknown_model_uri(export, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ScoreModelError, match="nowhere"):
        score(export, model=tmp_path / "nowhere", out_dir=out)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ScoreModelError, match="models:/no-such-model@champion"):
        score(export, model="models:/no-such-model@champion", out_dir=out, tracking_uri=uri)
    assert _leftovers(out) == []


def test_model_with_other_inputs(export, model_dir, tmp_path):
    from pipeline.classify import load_model

    model = load_model(model_dir)
    model.feature_columns_ = ["caseload_size"]  # a column scoring does not produce
    odd = model.save(tmp_path / "odd")
    out = tmp_path / "out"
    with pytest.raises(ScoreModelError, match="caseload_size"):
        score(export, model=odd, out_dir=out)
    assert _leftovers(out) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_output_folder_not_writable(export, model_dir, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ScoreOutputError, match="locked"):
            score(export, model=model_dir, out_dir=locked / "out")
        with pytest.raises(ScoreOutputError, match="locked"):
            score(export, model=model_dir, out_dir=locked)
        assert _leftovers(locked) == []
    finally:
        locked.chmod(0o700)


def test_no_raw_pii_in_outputs(reference, synth):
    out, _ = reference
    export = synth.export.set_index("contact_id")
    planted: set[str] = set()
    for row in synth.labels.itertuples():
        spans = json.loads(row.pii_spans) if row.pii_spans else []
        notes = export.at[row.contact_id, "notes"] if row.contact_id in export.index else None
        for start, end, kind in spans:
            value = notes[start:end] if isinstance(notes, str) else ""
            if kind.upper() in {"CRN", "PHONE", "EMAIL"} and len(value) >= 6:
                planted.add(value)
    assert planted, "the generator planted no CRN / phone / e-mail to look for"
    scored = pd.read_parquet(out / "scored.parquet")
    # the crn metadata column is kept by design; the text, explanations, summary and quarantined
    # notes must hold none of the values planted in the notes
    texts = "\n".join(
        [*scored["text"].dropna(), *scored["explanation"].dropna()]
        + [(out / SUMMARY_FILE).read_text()]
        + pd.read_parquet(out / "quarantine.parquet")["notes"].dropna().tolist()
    )
    leaked = [v for v in planted if v in texts]
    assert not leaked, f"{len(leaked)} planted values found in the output"


def test_output_folder_under_a_file(export, model_dir, tmp_path):
    """Runs as root too: a folder cannot be made under a plain file."""
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(ScoreOutputError, match="blocker"):
        score(export, model=model_dir, out_dir=blocker / "out")


def test_registered_model_records_its_version(export, model_dir, tmp_path):
    from pipeline import tracking
    from pipeline.classify import load_model

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    example = pd.DataFrame({"text": ["[PERSON] discussed the case with the SPO."]})
    with tracking.run("train", tracking_uri=uri):
        info = tracking.log_model(load_model(model_dir), example=example)
    out = tmp_path / "out"
    summary = score(
        export, model="models:/oversight@champion", out_dir=out, chunk_rows=5000, tracking_uri=uri
    )
    assert summary.model_version.startswith(f"oversight/{info['version']}@")
    assert summary.model_ref == "models:/oversight@champion"
    versions = pd.read_parquet(out / "scored.parquet", columns=["model_version"])
    assert set(versions["model_version"]) == {summary.model_version}
