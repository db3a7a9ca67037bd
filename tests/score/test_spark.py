"""The Spark engine in local mode: same labels and probabilities as the local engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("the spark engine needs Java", allow_module_level=True)
try:
    subprocess.run(["java", "-version"], capture_output=True, check=True, timeout=30)
except (OSError, subprocess.SubprocessError):
    pytest.skip("java is not runnable", allow_module_level=True)

from pipeline.errors import InputError, ScoreModelError, ScoreOutputError  # noqa: E402
from pipeline.score import SCORED_COLUMNS, score  # noqa: E402
from pipeline.score.spark import score_spark  # noqa: E402
from pipeline.synth import generate, write_synth  # noqa: E402

HEAD_COLUMNS = ("oversight_type", "content")
#: The baseline's probabilities depend on how rows are batched at the ~1e-5 level (float32 sparse
#: arithmetic: predict(texts) vs one text at a time differs by up to 3e-5 on this data), so the
#: local engine with another chunk_rows differs as much. Labels must be identical.
PROBA_TOL = 1e-4


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("oversight-score-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def model_dir(fit_baseline):
    return fit_baseline(cases=30, seed=31)


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A small export with every row of its first 300 repeated at the end (duplicate contact
    ids: quarantined, first copies kept) and a few unusable rows, so both engines quarantine."""
    folder = tmp_path_factory.mktemp("export")
    write_synth(generate(20, seed=32, workers=1), folder, fmt="parquet")
    table = pd.read_parquet(folder / "export.parquet")
    bad = table.head(3).copy()
    bad["contact_id"] = ["bad-1", "bad-2", "bad-3"]
    bad.loc[bad.index[0], "crn"] = None
    bad.loc[bad.index[1], "contact_date"] = "31/02/2024"
    bad.loc[bad.index[2], "contact_id"] = None
    path = folder / "export_with_bad_rows.parquet"
    pd.concat([table, bad, table.head(300)], ignore_index=True).to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def both(spark, export, model_dir, tmp_path_factory):
    local_out = tmp_path_factory.mktemp("local")
    local = score(export, model=model_dir, out_dir=local_out, explain=True, chunk_rows=300)
    spark_out = tmp_path_factory.mktemp("spark")
    summary = score_spark(
        export, model=model_dir, out_dir=spark_out, spark=spark, explain=True, partitions=2
    )
    return (
        pd.read_parquet(local_out / "scored.parquet"),
        local,
        pd.read_parquet(spark_out / "scored.parquet"),
        summary,
        spark_out,
        local_out,
    )


def test_same_labels_and_probabilities(both):
    local, _, remote, *_ = both
    assert len(local) > 0 and remote["contact_id"].is_unique
    assert sorted(remote["contact_id"]) == sorted(local["contact_id"])
    a = local.set_index("contact_id").sort_index()
    b = remote.set_index("contact_id").loc[a.index]
    for c in HEAD_COLUMNS:
        assert (a[c] == b[c]).all(), c
    probas = [c for c in SCORED_COLUMNS if c.endswith("_proba") or c.startswith("p_")]
    assert probas
    for c in probas:
        assert (a[c] - b[c]).abs().max() <= PROBA_TOL, c
    # everything else agrees too: text, attributes, provenance, explanation, model version
    for c in SCORED_COLUMNS:
        if c == "contact_id" or c in probas:
            continue
        left, right = a[c].tolist(), b[c].tolist()
        if c == "risk_factor_terms":
            left, right = [list(v) for v in left], [list(v) for v in right]
        assert left == right, c


def test_output_columns_and_summary(both, export):
    _, local, remote, summary, spark_out, _ = both
    assert list(remote.columns) == list(SCORED_COLUMNS)
    for key in ("rows_in", "entries_out", "non_oversight", "quarantined", "model_version"):
        assert summary[key] == getattr(local, key), key
    assert summary["quarantined_by_reason"] == local.quarantined_by_reason
    assert summary["label_distribution"] == local.label_distribution
    assert summary["rows_in"] == len(pd.read_parquet(export))
    assert summary["quarantined"] >= 303  # 300 duplicates and 3 unusable rows
    assert remote["source_file"].eq(str(export.resolve())).all()
    assert int(remote["source_row"].max()) <= len(pd.read_parquet(export)) - 303  # first copies
    for name in ("scored.parquet", "quarantine.parquet"):
        assert (spark_out / name / "_SUCCESS").is_file()
    on_disk = json.loads((spark_out / "score_summary.json").read_text("utf-8"))
    assert on_disk["input_fingerprint"] == summary["input_fingerprint"]
    assert not [p for p in spark_out.iterdir() if p.name.startswith(".staging")]


def test_quarantine_matches_local_and_is_redacted(both):
    *_, spark_out, local_out = both
    local = pd.read_parquet(local_out / "quarantine.parquet")
    remote = pd.read_parquet(spark_out / "quarantine.parquet")
    assert list(remote.columns) == list(local.columns)
    key = ["source_row", "reason", "field"]
    a = local.sort_values(key).reset_index(drop=True)
    b = remote.sort_values(key).reset_index(drop=True)
    assert a[key].equals(b[key])
    assert a["notes"].fillna("").tolist() == b["notes"].fillna("").tolist()
    assert "[PERSON]" in "".join(b["notes"].fillna(""))  # names in the duplicates' notes


def test_rerun_is_a_noop(both, spark, export, model_dir):
    *_, summary, spark_out, _ = both
    before = {p: p.stat().st_mtime_ns for p in spark_out.rglob("*") if p.is_file()}
    again = score_spark(export, model=model_dir, out_dir=spark_out, spark=spark, explain=True)
    assert again["noop"] is True and again["rows_in"] == summary["rows_in"]
    assert {p: p.stat().st_mtime_ns for p in spark_out.rglob("*") if p.is_file()} == before


def test_bad_input_is_our_error(spark, model_dir, tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text("contact_id,crn\n1,A123456\n", "utf-8")
    with pytest.raises(InputError, match="Parquet"):
        score_spark(csv, model=model_dir, out_dir=tmp_path / "o1", spark=spark)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="Parquet"):
        score_spark(broken, model=model_dir, out_dir=tmp_path / "o2", spark=spark)
    with pytest.raises(InputError):
        score_spark(
            tmp_path / "absent.parquet", model=model_dir, out_dir=tmp_path / "o3", spark=spark
        )
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_unwritable_output_is_our_error(spark, export, model_dir, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", "utf-8")
    with pytest.raises(ScoreOutputError, match="not writable"):
        score_spark(export, model=model_dir, out_dir=blocker / "out", spark=spark)


def test_unknown_model_is_our_error(spark, export, tmp_path):
    with pytest.raises(ScoreModelError):
        score_spark(export, model=tmp_path / "no-model", out_dir=tmp_path / "o", spark=spark)
    assert not (tmp_path / "o").exists()
