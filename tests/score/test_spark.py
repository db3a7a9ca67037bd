"""The Spark engine in local mode: same labels and probabilities as the local engine."""

from __future__ import annotations

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

from pipeline.classify import make_model  # noqa: E402
from pipeline.datasets import load_synth  # noqa: E402
from pipeline.errors import InputError, ScoreModelError  # noqa: E402
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
def model_dir(tmp_path_factory):
    train = tmp_path_factory.mktemp("train")
    write_synth(generate(30, seed=31, workers=1), train, fmt="parquet")
    labelled = load_synth(train)
    model = make_model("baseline", min_df=2, n_jobs=1)
    model.fit(labelled["text"], labelled["oversight_type"], labelled["content"])
    return model.save(tmp_path_factory.mktemp("model") / "baseline")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    write_synth(generate(20, seed=32, workers=1), folder, fmt="parquet")
    return folder / "export.parquet"


@pytest.fixture(scope="module")
def both(spark, export, model_dir, tmp_path_factory):
    local_out = tmp_path_factory.mktemp("local")
    local = score(export, model=model_dir, out_dir=local_out, explain=True, chunk_rows=300)
    spark_out = tmp_path_factory.mktemp("spark") / "scored"
    summary = score_spark(
        export, model=model_dir, out_path=spark_out, spark=spark, explain=True, partitions=2
    )
    return (
        pd.read_parquet(local_out / "scored.parquet"),
        local,
        spark.read.parquet(str(spark_out)).toPandas(),
        summary,
        spark_out,
    )


def test_same_labels_and_probabilities(both):
    local, _, remote, _, _ = both
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
    local_frame, local, remote, summary, spark_out = both
    assert list(remote.columns) == list(SCORED_COLUMNS)
    assert summary["rows_in"] == local.rows_in
    assert summary["entries_out"] == local.entries_out == len(remote)
    assert summary["model_version"] == local.model_version
    assert remote["source_file"].eq(str(export.resolve())).all()
    assert (spark_out / "_SUCCESS").is_file()


def test_duplicates_across_partitions_are_dropped(spark, export, model_dir, tmp_path):
    """An export holding every row twice gives the same entries: the first copies are kept."""
    doubled = tmp_path / "doubled.parquet"
    table = pd.read_parquet(export)
    pd.concat([table, table], ignore_index=True).to_parquet(doubled, index=False)
    out = tmp_path / "scored"
    summary = score_spark(doubled, model=model_dir, out_path=out, spark=spark, partitions=3)
    frame = pd.read_parquet(out)
    assert frame["contact_id"].is_unique
    assert summary["rows_in"] == 2 * len(table)
    assert int(frame["source_row"].max()) <= len(table)  # first copies only


def test_bad_input_is_our_error(spark, model_dir, tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text("contact_id,crn\n1,A123456\n", "utf-8")
    with pytest.raises(InputError, match="Parquet"):
        score_spark(csv, model=model_dir, out_path=tmp_path / "o1", spark=spark)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="Parquet"):
        score_spark(broken, model=model_dir, out_path=tmp_path / "o2", spark=spark)
    with pytest.raises(InputError):
        score_spark(
            tmp_path / "absent.parquet", model=model_dir, out_path=tmp_path / "o3", spark=spark
        )
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_unknown_model_is_our_error(spark, export, tmp_path):
    with pytest.raises(ScoreModelError):
        score_spark(export, model=tmp_path / "no-model", out_path=tmp_path / "o", spark=spark)
