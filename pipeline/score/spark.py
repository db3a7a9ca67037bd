"""The Spark scoring engine: the local engine's per-chunk code, run on every partition.

Reads a Parquet export (our flat export columns, :data:`pipeline.schema.EXPORT_SCHEMA`; headers
are matched the way the local reader matches them, so "Contact ID" is ``contact_id``) into a Spark
DataFrame and, through ``DataFrame.mapInPandas``, runs on each Arrow batch exactly what
:func:`pipeline.score.score` runs on each chunk: :func:`pipeline.ingest.validate`,
:func:`pipeline.nlp.batch.process`, the entries frame of ``prepare`` and the local engine's scorer
(both heads, probabilities, optional explanation, model version). The scored entries are written
as Parquet (a Spark output folder) with the local engine's columns,
:data:`pipeline.score.SCORED_COLUMNS`.

Same answers as the local engine:

- ``source_file`` / ``source_row`` are the file and its 1-based row, as the local reader gives
  them (``source_file`` is the path without the ``file:`` scheme for local files);
- duplicate contact ids are found across the whole input: rows are repartitioned by their
  (trimmed) contact id and sorted by file and row inside each partition, so every copy of an id
  meets the same validation state in file order and, as locally, the first good copy is kept;
- the model is loaded once per Python worker (the folder path and version are broadcast; the
  model is loaded lazily on first use and cached) and the per-row nlp and model outputs do not
  depend on how rows are batched.

The output folder is laid out as the local engine's: ``scored.parquet`` and
``quarantine.parquet`` (Spark Parquet folders; pandas and pyarrow read them as one table) and
``score_summary.json`` (rows in = entries + non-oversight contacts + quarantined, or the run
fails; label distribution; model identity; input fingerprint). Quarantined rows are written
redacted, as ``prepare`` writes them. Everything is staged and moved into place when the run has
succeeded, on any Hadoop file system; re-running a finished run is a no-op. There is no
``--resume``: a killed run starts again (Spark retries failed tasks inside a run). Not here: a
column-mapping file, CSV input or output (use the local engine).

Running it on a cluster::

    # the pipeline package (and its dependencies: spacy + model, scikit-learn, pyarrow, pandas)
    # must be importable on the executors: either install the wheel there
    #   pip wheel . -w dist/   (then pip install dist/oversight_nlp-*.whl on every node)
    # or ship the package source as a zip (its dependencies still installed on the nodes):
    zip -r pipeline.zip pipeline -x '*/__pycache__/*'
    spark-submit \\
        --master yarn --deploy-mode client \\
        --py-files pipeline.zip \\
        --conf spark.pyspark.python=/opt/venv/bin/python \\
        pipeline/score/spark.py \\
        --input hdfs:///exports/2024-q1/ --model /shared/models/baseline --out hdfs:///scored/2024-q1/

``--model`` is a saved model folder or an MLflow URI; it is resolved on the driver, and the
folder it resolves to must be readable at the same path on every executor (a shared file system
such as NFS/DBFS, or the same path provisioned on each node). Add ``--explain`` for the short
explanations and ``--partitions N`` to set the parallelism (default: Spark's). Locally::

    spark-submit --master 'local[4]' pipeline/score/spark.py \\
        --input data/raw/export.parquet --model models/baseline --out data/processed/spark

From Python::

    from pipeline.score.spark import score_spark
    summary = score_spark("export.parquet", model="models/baseline", out_dir="data/processed/spark")
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.errors import (
    OversightError,
    PrepareInvariantError,
    ScoreOutputError,
    SparkUnavailableError,
    UnreadableFileError,
    UnsupportedFormatError,
)
from pipeline.ingest import DEFAULT_MAX_NOTES_CHARS, IngestState, expand_paths, validate
from pipeline.ingest.chunks import CHUNK_COLUMNS, STRING, RawChunk, empty_quarantine, to_text
from pipeline.ingest.columns import as_mapping
from pipeline.prepare import QUARANTINE_SCHEMA, entries_frame, redact_quarantine
from pipeline.schema import EXPORT_COLUMNS
from pipeline.score.local import (
    QUARANTINE_STEM,
    SCORED_COLUMNS,
    SCORED_SCHEMA,
    SCORED_STEM,
    SUMMARY_FILE,
    LoadedModel,
    _Scorer,
    check_model,
    load_scoring_model,
)

_KEY = "_contact_key"
_RID = "_rid"
_PID = "_pid"
#: One loaded scorer per (folder, version, explain) per Python worker process.
_SCORERS: dict[tuple[str, str, bool], _Scorer] = {}


def _require_pyspark() -> Any:
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailableError(
            "the spark engine needs pyspark (pip install pyspark) and Java 17"
        ) from None
    return SparkSession


def spark_type(field: pa.Field) -> Any:
    """The Spark type of one column of :data:`SCORED_SCHEMA`."""
    from pyspark.sql import types as T

    t = field.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return T.ArrayType(spark_type(pa.field("item", t.value_type)), True)
    simple = {
        pa.string(): T.StringType(),
        pa.large_string(): T.StringType(),
        pa.int32(): T.IntegerType(),
        pa.int64(): T.LongType(),
        pa.float64(): T.DoubleType(),
        pa.bool_(): T.BooleanType(),
    }
    if t not in simple:
        raise TypeError(f"no Spark type for column {field.name!r} of type {t}")
    return simple[t]


def scored_spark_schema() -> Any:
    """The Spark schema of the scored output: the local engine's columns and types."""
    from pyspark.sql import types as T

    return T.StructType([T.StructField(f.name, spark_type(f), True) for f in SCORED_SCHEMA])


# -- the input --------------------------------------------------------------------------------


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file:")


def _local_files(input_path: str | Path | list[str | Path]) -> list[str] | None:
    """Local Parquet files behind ``input_path`` (checked now, with our errors), or None when
    the input is on a remote file system (hdfs://, s3a://: Spark reads and checks it)."""
    given = [input_path] if isinstance(input_path, (str, Path)) else list(input_path)
    if not all(_is_local(str(p)) for p in given):
        return None
    paths = [str(p).removeprefix("file://") for p in given]
    files = expand_paths(paths)  # a missing path: UnsupportedFormatError
    for f in files:
        if f.suffix.lower() != ".parquet":
            raise UnsupportedFormatError(
                "the spark engine reads Parquet exports only (use the local engine for "
                f"{f.suffix or 'this'} files)",
                path=str(f),
            )
        try:
            pq.read_schema(f)
        except (pa.ArrowException, OSError) as exc:
            raise UnreadableFileError(
                f"not a readable Parquet file ({type(exc).__name__})", path=str(f)
            ) from None
    return [str(f.resolve()) for f in files]


def _source_name(uri: str) -> str:
    """``input_file_name()`` as the local reader names a file: local paths without a scheme."""
    if uri.startswith("file:"):
        from urllib.parse import unquote

        rest = uri.removeprefix("file:")
        while rest.startswith("//"):
            rest = rest[1:]
        return unquote(rest)
    return uri


def _read(spark: Any, given: list[str], partitions: int | None) -> tuple[Any, list[str]]:
    """The export (``given``: its files or folders) as a DataFrame of our columns (as read) plus
    ``source_file``, ``source_row`` and the repartitioning key, repartitioned by contact id and
    sorted by file and row."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    try:
        raw = spark.read.parquet(*given)
    except Exception as exc:  # AnalysisException, Py4JJavaError: not readable as Parquet
        raise UnreadableFileError(
            f"not a readable Parquet export ({type(exc).__name__})", path=", ".join(given)
        ) from None
    resolver = as_mapping(None).resolver(path=", ".join(given))
    targets = resolver.resolve(raw.columns)  # header as written -> our column
    resolver.require()  # MissingColumnError names the file and the columns
    ours = list(targets.values())

    frame = raw.select(
        *[F.col(f"`{h}`").alias(t) for h, t in targets.items()],
        F.input_file_name().alias("source_file"),
        F.spark_partition_id().alias(_PID),
        F.monotonically_increasing_id().alias(_RID),
    )
    # source_row: the 1-based row in its file. Splits of one file are read in order, and within a
    # Spark partition the id counts up by one per row, so the row is the rows of that file in
    # earlier partitions plus the position inside this partition.
    spans = frame.groupBy("source_file", _PID).agg(
        F.min(_RID).alias("_first"), F.count(F.lit(1)).alias("_n")
    )
    earlier = (
        Window.partitionBy("source_file").orderBy(_PID).rowsBetween(Window.unboundedPreceding, -1)
    )
    spans = spans.withColumn("_offset", F.coalesce(F.sum("_n").over(earlier), F.lit(0)))
    frame = frame.join(
        F.broadcast(spans.select("source_file", _PID, "_first", "_offset")), ["source_file", _PID]
    )
    frame = frame.withColumn("source_row", F.col("_offset") + F.col(_RID) - F.col("_first") + 1)
    key = F.regexp_replace(F.col("contact_id").cast("string"), r"(?U)^\s+|\s+$", "")
    frame = frame.withColumn(_KEY, key).select(*ours, "source_file", "source_row", _KEY)
    n = partitions or spark.sparkContext.defaultParallelism
    frame = frame.repartition(n, _KEY).sortWithinPartitions("source_file", "source_row")
    return frame, ours


# -- one partition ----------------------------------------------------------------------------


def _scorer(info: dict[str, Any]) -> _Scorer:
    key = (info["folder"], info["version"], info["explain"])
    scorer = _SCORERS.get(key)
    if scorer is None:
        from pipeline.classify.registry import load_model

        model = load_model(info["folder"])
        check_model(model, info["ref"])
        loaded = LoadedModel(
            model, Path(info["folder"]), info["ref"], info["kind"], info["version"], info["sha"]
        )
        scorer = _SCORERS[key] = _Scorer(loaded, info["explain"])
    return scorer


def _raw_chunk(batch: pd.DataFrame, columns: list[str]) -> RawChunk:
    """A raw chunk as the local Parquet reader makes it: every cell through ``to_text``."""
    n = len(batch)
    data: dict[str, Any] = {}
    missing = pd.array([None] * n, dtype=STRING)
    for c in EXPORT_COLUMNS:
        if c in columns:
            values = batch[c].astype(object).where(batch[c].notna(), None).tolist()
            data[c] = pd.array([to_text(v) or None for v in values], dtype=STRING)
        else:
            data[c] = missing
    data["source_file"] = pd.array([_source_name(s) for s in batch["source_file"]], dtype=STRING)
    data["source_row"] = pd.array(batch["source_row"].astype("int64"), dtype="int64")
    frame = pd.DataFrame(data, columns=list(CHUNK_COLUMNS))
    return RawChunk(frame=frame, rejected=empty_quarantine(), date_format=None)


#: Which kind of row a partition yields: a scored entry, a quarantined row, or one count row
#: per batch. One DataFrame carries all three so the input is read and scored once.
_RECORD = "_record"
_ROWS = "_n_rows"
_OTHER = "_n_other"
_Q = "q_"


def combined_spark_schema() -> Any:
    """The schema ``mapInPandas`` yields: the scored columns, the quarantine columns (prefixed
    ``q_``), the record kind and the per-batch counts."""
    from pyspark.sql import types as T

    fields = [T.StructField(_RECORD, T.StringType(), False)]
    fields += [T.StructField(f.name, spark_type(f), True) for f in SCORED_SCHEMA]
    fields += [T.StructField(_Q + f.name, spark_type(f), True) for f in QUARANTINE_SCHEMA]
    fields += [T.StructField(_ROWS, T.LongType(), True), T.StructField(_OTHER, T.LongType(), True)]
    return T.StructType(fields)


def _combined_columns() -> list[str]:
    return [
        _RECORD,
        *SCORED_COLUMNS,
        *[_Q + c for c in QUARANTINE_SCHEMA.names],
        _ROWS,
        _OTHER,
    ]


def _fill(frame: pd.DataFrame, record: str) -> pd.DataFrame:
    """``frame`` with every combined column (absent ones all null) and its record kind."""
    n = len(frame)
    data = {c: frame[c] if c in frame.columns else [None] * n for c in _combined_columns()}
    data[_RECORD] = [record] * n
    return pd.DataFrame(data, index=frame.index, columns=_combined_columns())


def score_partition(
    batches: Iterator[pd.DataFrame], info: dict[str, Any]
) -> Iterator[pd.DataFrame]:
    """What the local engine does to each chunk, on each Arrow batch of one Spark partition:
    the scored entries, the quarantined rows (redacted) and one row counting the batch's rows
    and its non-oversight contacts.

    One validation state per partition: every copy of a contact id is in the same partition."""
    state = IngestState(max_notes_chars=info["max_notes_chars"])
    scorer = _scorer(info)
    for batch in batches:
        good, bad = validate(_raw_chunk(batch, info["columns"]), state=state)
        scored = scorer(entries_frame(good, batch_size=info["batch_size"]))
        yield _fill(scored[list(SCORED_COLUMNS)].reset_index(drop=True), "entry")
        if len(bad):
            quarantined = redact_quarantine(bad).reset_index(drop=True).add_prefix(_Q)
            yield _fill(quarantined, "quarantine")
        counts = pd.DataFrame({_ROWS: [len(batch)], _OTHER: [len(good) - len(scored)]})
        yield _fill(counts, "count")


# -- the output folder, on any Hadoop file system ---------------------------------------------


class _FileSystem:
    """The few Hadoop FileSystem calls the engine needs (local disk, HDFS, S3A alike), so the
    outputs are staged and renamed into place wherever they live."""

    def __init__(self, spark: Any, path: str) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._fs = self.path(path).getFileSystem(self._conf)

    def path(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self.path(path)))

    def mkdirs(self, path: str) -> None:
        if not self._fs.mkdirs(self.path(path)):
            raise OSError(f"cannot create {path}")

    def delete(self, path: str) -> None:
        if self._fs.exists(self.path(path)):
            self._fs.delete(self.path(path), True)

    def rename(self, src: str, dst: str) -> None:
        if not self._fs.rename(self.path(src), self.path(dst)):
            raise OSError(f"cannot move {src} to {dst}")

    def read_text(self, path: str) -> str | None:
        if not self.exists(path):
            return None
        stream = self._fs.open(self.path(path))
        try:
            reader = self._jvm.java.io.BufferedReader(
                self._jvm.java.io.InputStreamReader(stream, "UTF-8")
            )
            lines = []
            line = reader.readLine()
            while line is not None:
                lines.append(line)
                line = reader.readLine()
            return "\n".join(lines)
        finally:
            stream.close()

    def write_text(self, path: str, text: str) -> None:
        """Written beside ``path`` and renamed onto it: never seen half-written."""
        tmp = f"{path}.tmp"
        stream = self._fs.create(self.path(tmp), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        self.delete(path)
        self.rename(tmp, path)

    def fingerprint(self, paths: list[str], *, max_notes_chars: int) -> str:
        """sha256 of every input file's path, size and modification time (reads no data)."""
        h = hashlib.sha256()
        for given in paths:
            p = self.path(given)
            fs = p.getFileSystem(self._conf)
            found = []
            files = fs.listFiles(p, True)
            while files.hasNext():
                st = files.next()
                found.append(
                    f"{st.getPath().toString()}\0{st.getLen()}\0{st.getModificationTime()}"
                )
            for line in sorted(found):
                h.update(line.encode() + b"\n")
        h.update(f"max_notes_chars={max_notes_chars}".encode())
        return h.hexdigest()


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


# -- the run ----------------------------------------------------------------------------------


def score_spark(
    input_path: str | Path | list[str | Path],
    *,
    model: str | Path,
    out_dir: str | Path,
    spark: Any = None,
    explain: bool = False,
    partitions: int | None = None,
    max_notes_chars: int = DEFAULT_MAX_NOTES_CHARS,
    batch_size: int = 512,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Score a Parquet export (file, folder or list; local or any Spark file system) with
    ``model`` into the folder ``out_dir``, as the local engine lays it out:
    ``scored.parquet`` and ``quarantine.parquet`` (Spark Parquet folders) and
    ``score_summary.json``.

    The outputs are written under a staging folder and moved into place only when the whole
    run succeeded, the summary last, so a killed or failed run leaves the previous outputs (or
    none) and no partial ones. Re-running a finished run on the same input files and model does
    nothing (``noop`` is true in the returned summary). A killed run starts again from the
    beginning: Spark's own unit of recovery is the task, which it retries inside a run.

    ``spark``: a session (default: ``SparkSession.builder.getOrCreate()``). Returns the summary:
    rows in = entries + non-oversight contacts + quarantined, label distribution, model
    identity, input fingerprint, outputs and seconds.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    session_cls = _require_pyspark()
    start = time.perf_counter()
    loaded = load_scoring_model(model, tracking_uri=tracking_uri)  # ScoreModelError
    if spark is None:
        spark = session_cls.builder.appName("oversight-score").getOrCreate()
    out = str(out_dir)
    inputs = [str(p) for p in ([input_path] if isinstance(input_path, (str, Path)) else input_path)]
    # local inputs are expanded and checked here, with our errors; remote ones Spark checks
    given = _local_files(input_path) or inputs
    frame, columns = _read(spark, given, partitions)
    try:
        fs = _FileSystem(spark, out)
        fs.mkdirs(out)
    except Exception as exc:
        raise ScoreOutputError(
            f"output folder {out} is not writable ({type(exc).__name__})"
        ) from None
    outputs = {
        "scored": _join(out, f"{SCORED_STEM}.parquet"),
        "quarantine": _join(out, f"{QUARANTINE_STEM}.parquet"),
        "summary": _join(out, SUMMARY_FILE),
    }
    fingerprint = fs.fingerprint(given, max_notes_chars=max_notes_chars)
    done = _finished(fs, outputs, fingerprint, loaded.sha256)
    if done is not None:
        return done

    info = {
        "folder": str(Path(loaded.folder).resolve()),
        "ref": loaded.ref,
        "kind": loaded.kind,
        "version": loaded.version,
        "sha": loaded.sha256,
        "explain": bool(explain),
        "columns": columns,
        "max_notes_chars": max_notes_chars,
        "batch_size": batch_size,
    }
    shared = spark.sparkContext.broadcast(info)

    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        return score_partition(batches, shared.value)

    combined = frame.mapInPandas(run, schema=combined_spark_schema()).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    staging = _join(out, f".staging-{uuid.uuid4().hex[:12]}")
    staged = {k: _join(staging, Path(v).name) for k, v in outputs.items() if k != "summary"}
    try:
        try:
            entries = combined.filter(F.col(_RECORD) == "entry").select(*SCORED_COLUMNS)
            entries.write.parquet(staged["scored"])
            quarantine = combined.filter(F.col(_RECORD) == "quarantine").select(
                *[F.col(_Q + c).alias(c) for c in QUARANTINE_SCHEMA.names]
            )
            quarantine.write.parquet(staged["quarantine"])
            totals = (
                combined.filter(F.col(_RECORD) == "count")
                .agg(F.sum(_ROWS).alias("rows"), F.sum(_OTHER).alias("other"))
                .first()
            )
            reasons = _counts(quarantine, "reason")
            summary = {
                "engine": "spark",
                "inputs": inputs,
                "input_fingerprint": fingerprint,
                "model_ref": loaded.ref,
                "model_kind": loaded.kind,
                "model_version": loaded.version,
                "model_sha256": loaded.sha256,
                "format": "parquet",
                "rows_in": int(totals["rows"] or 0),
                "entries_out": int(entries.count()),
                "non_oversight": int(totals["other"] or 0),
                "quarantined": sum(reasons.values()),
                "quarantined_by_reason": reasons,
                "entries_by_reason": _counts(entries, "oversight_reason"),
                "label_distribution": {
                    h: _counts(entries, h) for h in ("oversight_type", "content")
                },
                "partitions": int(frame.rdd.getNumPartitions()),
                "outputs": outputs,
                "version": __version__,
                "noop": False,
            }
        except Exception as exc:
            cause = _oversight_cause(exc)
            if cause is not None:
                raise cause from None
            if "Python worker" in str(exc) or "PythonException" in type(exc).__name__:
                raise
            raise ScoreOutputError(
                f"cannot write the scored output to {out}: {type(exc).__name__}"
            ) from None
        finally:
            combined.unpersist()
        if summary["rows_in"] != (
            summary["entries_out"] + summary["non_oversight"] + summary["quarantined"]
        ):
            raise PrepareInvariantError(
                rows_in=summary["rows_in"],
                entries=summary["entries_out"],
                non_oversight=summary["non_oversight"],
                quarantined=summary["quarantined"],
            )
        fs.delete(outputs["summary"])  # the old outputs stop counting as a finished run first
        for key, path in staged.items():
            fs.delete(outputs[key])
            fs.rename(path, outputs[key])
        seconds = time.perf_counter() - start
        summary["seconds"] = round(seconds, 3)
        summary["rows_per_second"] = round(summary["rows_in"] / max(seconds, 1e-9), 1)
        fs.write_text(outputs["summary"], json.dumps(summary, indent=2) + "\n")
    finally:
        fs.delete(staging)
    return summary


def _counts(frame: Any, column: str) -> dict[str, int]:
    rows = frame.groupBy(column).count().collect()
    return {str(r[column]): int(r["count"]) for r in sorted(rows, key=lambda r: str(r[column]))}


def _finished(
    fs: _FileSystem, outputs: dict[str, str], fingerprint: str, model_sha: str
) -> dict[str, Any] | None:
    """The summary of a finished run of this input and model in the folder, or None."""
    text = fs.read_text(outputs["summary"])
    if text is None or not all(
        fs.exists(_join(outputs[k], "_SUCCESS")) for k in outputs if k != "summary"
    ):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if (
        data.get("engine") != "spark"
        or data.get("input_fingerprint") != fingerprint
        or data.get("model_sha256") != model_sha
    ):
        return None
    data["noop"] = True
    return data


def _oversight_cause(exc: BaseException) -> OversightError | None:
    """An error of ours raised inside a Python worker comes back as a Java exception whose
    text names it; re-raise the same kind on the driver so callers see our clear error."""
    import pipeline.errors as errors

    text = str(exc)
    for name in dir(errors):
        cls = getattr(errors, name)
        if (
            isinstance(cls, type)
            and issubclass(cls, OversightError)
            and f"pipeline.errors.{name}:" in text
        ):
            message = text.split(f"pipeline.errors.{name}:", 1)[1].strip().splitlines()[0]
            err = cls.__new__(cls)
            Exception.__init__(err, message)
            return err
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="spark-submit pipeline/score/spark.py",
        description="Score a Parquet export on Spark with a saved oversight model.",
    )
    parser.add_argument("--input", required=True, nargs="+", help="Parquet file(s) or folder(s)")
    parser.add_argument("--model", required=True, help="model folder or MLflow models:/ URI")
    parser.add_argument(
        "--out", required=True, help="output folder: scored.parquet, quarantine.parquet, summary"
    )
    parser.add_argument("--explain", action="store_true", help="add short explanations")
    parser.add_argument("--partitions", type=int, default=None)
    parser.add_argument("--tracking-uri", default=None)
    args = parser.parse_args(argv)
    spark = None
    try:
        session_cls = _require_pyspark()
        spark = session_cls.builder.appName("oversight-score").getOrCreate()
        summary = score_spark(
            args.input if len(args.input) > 1 else args.input[0],
            model=args.model,
            out_dir=args.out,
            spark=spark,
            explain=args.explain,
            partitions=args.partitions,
            tracking_uri=args.tracking_uri,
        )
    except OversightError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if spark is not None:
            spark.stop()
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
