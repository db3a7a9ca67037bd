"""The local scoring engine: exports in, scored oversight entries out, in one streaming pass.

For each chunk of raw export rows: read and validate (:mod:`pipeline.ingest`), find, redact and
describe the oversight entries (:func:`pipeline.prepare.entries_table`, as ``prepare`` does),
label them with the model (both heads, probabilities, a short explanation) and write the
chunk to a part file under ``out_dir/.parts/``. With ``n_process`` > 1 the finding and labelling
run in worker processes (:class:`pipeline.prepare.WorkerPool`) while this process reads the
next chunk; chunks are still written in order, so the output is the same. A manifest records the completed chunks, so a
killed run continues with ``resume=True``; at the end the parts are merged into
``scored.parquet`` (or ``.csv``) and ``quarantine.parquet`` atomically, ``score_summary.json``
is written last and the parts are removed. Re-running a finished run on the same input and model
does nothing.

Only redacted text is written; the summary holds counts, labels, a fingerprint and the model's
identity, never note text.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.classify.base import FEATURE_COLUMNS, HEAD_LABELS, HEADS, proba_column
from pipeline.errors import (
    ModelFileError,
    ModelInputError,
    ModelNotFoundError,
    OversightError,
    PrepareInvariantError,
    ScoreModelError,
    ScoreOutputError,
    ScoreResumeError,
    UnknownModelError,
)
from pipeline.ingest import (
    DEFAULT_MAX_NOTES_CHARS,
    IngestState,
    expand_paths,
    iter_exports,
    validate,
)
from pipeline.nlp.components import get_nlp
from pipeline.prepare import (
    PARALLEL_MIN_ROWS,
    QUARANTINE_SCHEMA,
    WorkerPool,
    entries_table,
    estimated_rows,
    redact_quarantine,
    work_table,
)
from pipeline.schema import ENTRIES_SCHEMA

FORMATS = ("parquet", "csv")
SCORED_STEM = "scored"
QUARANTINE_STEM = "quarantine"
SUMMARY_FILE = "score_summary.json"
PARTS_DIR = ".parts"
MANIFEST_FILE = "manifest.json"
DEFAULT_CHUNK_ROWS = 20_000
EXPLAIN_TOP_K = 3

#: Columns the engine adds to the entries table.
SCORE_COLUMNS: tuple[str, ...] = (
    "oversight_type",
    "oversight_type_proba",
    "content",
    "content_proba",
    *[proba_column(h, lab) for h in HEADS for lab in HEAD_LABELS[h]],
    "explanation",
    "model_version",
)
SCORED_SCHEMA = pa.schema(
    [
        *ENTRIES_SCHEMA,
        *[
            pa.field(c, pa.float64() if c.endswith("_proba") or c.startswith("p_") else pa.string())
            for c in SCORE_COLUMNS
        ],
    ]
)
SCORED_COLUMNS: tuple[str, ...] = tuple(SCORED_SCHEMA.names)


@dataclass
class ScoreSummary:
    """What a score run read and wrote; ``rows_in`` balances entries + non-oversight +
    quarantined. ``noop`` is True when a finished run was found and nothing was done."""

    inputs: list[str]
    input_fingerprint: str = ""
    model_ref: str = ""
    model_kind: str = ""
    model_version: str = ""
    model_sha256: str = ""
    format: str = "parquet"
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    rows_in: int = 0
    entries_out: int = 0
    non_oversight: int = 0
    quarantined: int = 0
    quarantined_by_reason: dict[str, int] = field(default_factory=dict)
    entries_by_reason: dict[str, int] = field(default_factory=dict)
    label_distribution: dict[str, dict[str, int]] = field(default_factory=dict)
    chunks: int = 0
    chunks_resumed: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    version: str = __version__
    noop: bool = False

    def check(self) -> None:
        if self.rows_in != self.entries_out + self.non_oversight + self.quarantined:
            raise PrepareInvariantError(
                rows_in=self.rows_in,
                entries=self.entries_out,
                non_oversight=self.non_oversight,
                quarantined=self.quarantined,
            )


# -- identities: the input and the model ------------------------------------------------------


def input_fingerprint(
    paths: Sequence[Path], *, mapping: str | Path | None, max_notes_chars: int
) -> str:
    """sha256 of the input files' names, sizes and modification times (and of the options that
    change which rows are kept): names the input, reads none of it."""
    h = hashlib.sha256()
    for p in paths:
        st = p.stat()
        h.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    if mapping is not None:
        h.update(b"mapping\0" + Path(mapping).read_bytes())
    h.update(f"max_notes_chars={max_notes_chars}".encode())
    return h.hexdigest()


def _folder_sha256(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode() + b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


@dataclass
class LoadedModel:
    model: Any
    folder: Path
    ref: str
    kind: str
    version: str  # what the output records: registry name/version or kind, plus content hash
    sha256: str


def _registry_version(ref: str, tracking_uri: str | None) -> str | None:
    if not ref.startswith("models:/"):
        return None
    rest = ref.removeprefix("models:/").strip("/")
    if "@" in rest:
        from pipeline.tracking import resolve_alias

        name, alias = rest.split("@", 1)
        return f"{name}/{resolve_alias(name, alias, tracking_uri=tracking_uri)}"
    return rest  # models:/name/3 already names the version


def load_scoring_model(ref: str | Path, *, tracking_uri: str | None = None) -> LoadedModel:
    """The classifier behind a local folder or an MLflow URI, checked for scoring."""
    from pipeline.experiments import load_classifier

    text = str(ref)
    try:
        model, folder = load_classifier(text, tracking_uri=tracking_uri)
        registry = _registry_version(text, tracking_uri)
    except (ModelNotFoundError, ModelFileError, UnknownModelError) as exc:
        raise ScoreModelError(f"cannot load model {text!r}: {exc}") from None
    check_model(model, text)
    folder = Path(folder)
    sha = _folder_sha256(folder)
    kind = getattr(model, "name", "") or type(model).__name__
    version = f"{registry or kind}@{sha[:12]}"
    return LoadedModel(model, folder, text, kind, version, sha)


def check_model(model: Any, ref: str) -> None:
    """The model must label both heads with the scheme's labels from inputs we can give it:
    redacted text plus the nlp step's attributes (:data:`FEATURE_COLUMNS`)."""
    for attr in ("predict", "heads_", "classes_"):
        if not hasattr(model, attr):
            raise ScoreModelError(f"model {ref!r} is not a fitted oversight classifier ({attr})")
    missing = [h for h in HEADS if h not in model.heads_]
    if missing:
        raise ScoreModelError(f"model {ref!r} has no {' or '.join(missing)} head; cannot score")
    for h in HEADS:
        if list(model.classes_[h]) != list(HEAD_LABELS[h]):
            raise ScoreModelError(
                f"model {ref!r} labels {h} as {list(model.classes_[h])}, not the scheme's "
                f"{list(HEAD_LABELS[h])}"
            )
    wanted = list(getattr(model, "feature_columns_", []) or [])
    unknown = [c for c in wanted if c not in FEATURE_COLUMNS]
    if unknown:
        raise ScoreModelError(
            f"model {ref!r} expects input column(s) {', '.join(unknown)} that scoring does not "
            f"produce (it gives text and {', '.join(FEATURE_COLUMNS)})"
        )


# -- writing ----------------------------------------------------------------------------------


def _atomic_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


def _atomic_table(path: Path, table: pa.Table) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-probe.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ScoreOutputError(
            f"output folder {out} is not writable: {exc.strerror or exc}"
        ) from None


def _csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "risk_factor_terms" in out:
        out["risk_factor_terms"] = [
            "; ".join(v) if v is not None else "" for v in out["risk_factor_terms"]
        ]
    return out


def _merge(parts: Sequence[Path], schema: pa.Schema, dest: Path, fmt: str) -> None:
    """Concatenate part files into ``dest`` under a temporary name, renamed when complete."""
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        if fmt == "parquet":
            with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
                for p in parts:
                    table = pq.read_table(p, schema=schema)
                    if table.num_rows:
                        writer.write_table(table)
        else:
            header = True
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                for p in parts:
                    frame = pq.read_table(p, schema=schema).to_pandas()
                    if header or len(frame):
                        _csv_frame(frame).to_csv(fh, index=False, header=header)
                        header = False
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- scoring one chunk ------------------------------------------------------------------------


def _explanation_strings(items: list[dict[str, Any]]) -> list[str]:
    """One line per :meth:`explain` item: ``head=label: token, token; head=label: ...``."""
    out = []
    for item in items:
        parts = []
        for h in HEADS:
            e = item.get(h)
            if not e:
                continue
            tokens = [str(t) for t, _score in e.get("top_tokens", ())]
            parts.append(_head_explanation(h, e["label"], tokens))
        out.append("; ".join(parts))
    return out


def _head_explanation(head: str, label: Any, tokens: list[str]) -> str:
    return f"{head}={label}: {', '.join(tokens)}" if tokens else f"{head}={label}"


def _top_token_strings(pred: pd.DataFrame, tops: dict[str, list[list[str]]]) -> list[str]:
    """:func:`_explanation_strings` from ``predict_top_tokens``' answer (labels from
    ``pred``), a head at a time rather than through per-row dicts."""
    per_head = [
        [
            _head_explanation(h, label, tokens)
            for label, tokens in zip(pred[h].tolist(), tops[h], strict=True)
        ]
        for h in HEADS
        if h in tops
    ]
    return ["; ".join(parts) for parts in zip(*per_head, strict=True)] if per_head else []


def _explanations(model: Any, texts: list[str], features: pd.DataFrame | None) -> list[str]:
    return _explanation_strings(model.explain(texts, top_k=EXPLAIN_TOP_K, features=features))


class _Scorer:
    """Labels an entries table with the model (both heads, probabilities, explanation).
    Runs in the worker processes when there are any, so it must pickle (it holds the model)."""

    def __init__(self, loaded: LoadedModel, explain: bool) -> None:
        self.loaded, self.explain = loaded, explain
        self.features = list(getattr(loaded.model, "feature_columns_", []) or [])

    def _predict(self, texts: list[str], feats: pd.DataFrame | None) -> tuple[pd.DataFrame, Any]:
        """Predictions, and explanations when asked: from one featurisation where the model
        offers ``predict_top_tokens`` (the baseline), else ``predict`` then ``explain``."""
        model = self.loaded.model
        combined = getattr(model, "predict_top_tokens", None)
        if self.explain and texts and combined is not None:
            pred, tops = combined(texts, top_k=EXPLAIN_TOP_K, features=feats)
            return pred, _top_token_strings(pred, tops)
        pred = model.predict(texts, features=feats)
        explanation: Any = None
        if self.explain and texts:
            try:
                explanation = _explanations(model, texts, feats)
            except ModelInputError:  # a model kind that cannot explain
                self.explain = False
        return pred, explanation

    def _labels(self, texts: list[str], feats: pd.DataFrame | None) -> tuple[pd.DataFrame, Any]:
        try:
            pred, explanation = self._predict(texts, feats)
        except ModelInputError as exc:
            raise ScoreModelError(f"model {self.loaded.ref!r} rejected the input: {exc}") from None
        return pred.reset_index(drop=True), explanation

    def __call__(self, entries: pd.DataFrame) -> pd.DataFrame:
        texts = entries["text"].fillna("").astype(str).tolist()
        feats = entries[self.features].reset_index(drop=True) if self.features else None
        pred, explanation = self._labels(texts, feats)
        out = entries.reset_index(drop=True).copy()
        for c in SCORE_COLUMNS[:-2]:
            out[c] = pred[c] if c in pred else float("nan")
        out["explanation"] = explanation if explanation is not None else [None] * len(out)
        out["model_version"] = self.loaded.version
        return out[list(SCORED_COLUMNS)]

    def table(self, entries: pa.Table) -> pa.Table:
        """:meth:`__call__` on an Arrow entries table, as a :data:`SCORED_SCHEMA` table. An
        :data:`ENTRIES_SCHEMA` table (what the engine makes) keeps its columns and gains the
        new ones directly: the same table as the round trip through pandas, at less cost."""
        if not entries.schema.equals(ENTRIES_SCHEMA):
            scored = self(entries.to_pandas())
            return pa.Table.from_pandas(scored, schema=SCORED_SCHEMA, preserve_index=False)
        n = entries.num_rows
        texts = pc.fill_null(entries.column("text"), "").to_pylist()
        feats = entries.select(self.features).to_pandas() if self.features else None
        pred, explanation = self._labels(texts, feats)
        values: dict[str, Any] = {c: pred[c] for c in SCORE_COLUMNS[:-2] if c in pred}
        values["explanation"] = explanation if explanation is not None else [None] * n
        values["model_version"] = [self.loaded.version] * n
        added = [
            # from_pandas: NaN becomes null, as in Table.from_pandas
            pa.array(values[f.name], type=f.type, from_pandas=True)
            if f.name in values
            else pa.nulls(n, f.type)
            for f in SCORED_SCHEMA
            if f.name in SCORE_COLUMNS
        ]
        return pa.Table.from_arrays([*entries.columns, *added], schema=SCORED_SCHEMA)


# -- the run ----------------------------------------------------------------------------------


def _output_paths(out: Path, fmt: str) -> dict[str, Path]:
    return {
        "scored": out / f"{SCORED_STEM}.{fmt}",
        "quarantine": out / f"{QUARANTINE_STEM}.{fmt}",
        "summary": out / SUMMARY_FILE,
    }


def _finished(out: Path, fmt: str, fingerprint: str, model_sha: str) -> ScoreSummary | None:
    paths = _output_paths(out, fmt)
    if not all(p.is_file() for p in paths.values()):
        return None
    try:
        data = json.loads(paths["summary"].read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if (
        data.get("input_fingerprint") != fingerprint
        or data.get("model_sha256") != model_sha
        or data.get("format") != fmt
    ):
        return None
    known = {k: v for k, v in data.items() if k in ScoreSummary.__dataclass_fields__}
    summary = ScoreSummary(**known)
    summary.noop = True
    return summary


def _load_manifest(parts: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    path = parts / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        raise ScoreResumeError(
            f"cannot resume: {path} is unreadable; run without --resume"
        ) from None
    differ = [k for k, v in identity.items() if manifest.get(k) != v]
    if differ:
        raise ScoreResumeError(
            f"cannot resume from {path}: the {', '.join(differ)} differ from the interrupted "
            "run's; run without --resume to start again"
        )
    return manifest


def score(
    inputs: str | Path | Iterable[str | Path],
    *,
    model: str | Path,
    out_dir: str | Path,
    fmt: str = "parquet",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    resume: bool = False,
    mapping: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    explain: bool = True,
    max_notes_chars: int = DEFAULT_MAX_NOTES_CHARS,
    batch_size: int = 512,
    tracking_uri: str | None = None,
    n_process: int = 1,
) -> ScoreSummary:
    """Score exports with ``model`` (a saved model folder or an MLflow URI such as
    ``models:/oversight@champion``) into ``out_dir``; returns the balanced summary.

    ``progress`` is called after each chunk with its raw row count. ``resume`` continues an
    interrupted run from its last completed chunk (same input, model and ``chunk_rows``, or a
    :class:`~pipeline.errors.ScoreResumeError`). A run already finished on the same input and
    model does nothing and returns the old summary with ``noop=True``. ``n_process`` > 1
    detects, redacts and classifies in that many worker processes (inputs of at least
    :data:`~pipeline.prepare.PARALLEL_MIN_ROWS` rows); the output is the same.
    """
    if fmt not in FORMATS:
        raise ScoreOutputError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if chunk_rows < 1:
        raise ScoreOutputError(f"chunk_rows must be at least 1, not {chunk_rows}")
    paths = expand_paths(inputs)
    out = Path(out_dir)
    _check_writable(out)
    loaded = load_scoring_model(model, tracking_uri=tracking_uri)
    fingerprint = input_fingerprint(paths, mapping=mapping, max_notes_chars=max_notes_chars)
    done = _finished(out, fmt, fingerprint, loaded.sha256)
    if done is not None:
        return done

    start = time.perf_counter()
    parts_dir = out / PARTS_DIR
    identity = {
        "input_fingerprint": fingerprint,
        "model_sha256": loaded.sha256,
        "chunk_rows": chunk_rows,
    }
    manifest = _load_manifest(parts_dir, identity) if resume else None
    if manifest is None:
        shutil.rmtree(parts_dir, ignore_errors=True)
        manifest = {**identity, "model_version": loaded.version, "chunks": []}
    parts_dir.mkdir(parents=True, exist_ok=True)
    completed = {c["index"]: c for c in manifest["chunks"]}
    summary = ScoreSummary(
        inputs=[str(p) for p in paths],
        input_fingerprint=fingerprint,
        model_ref=loaded.ref,
        model_kind=loaded.kind,
        model_version=loaded.version,
        model_sha256=loaded.sha256,
        format=fmt,
        chunk_rows=chunk_rows,
    )
    state = IngestState(max_notes_chars=max_notes_chars)
    scorer = _Scorer(loaded, explain)
    by_reason: Counter[str] = Counter()
    labels: dict[str, Counter[str]] = {h: Counter() for h in HEADS}
    chunk_files: list[tuple[Path, Path]] = []
    # Workers (forked after the model is loaded) detect, redact and classify; this process
    # reads, validates and writes. Chunks are finished in input order, one behind the reading,
    # so the parts, the manifest and resume work as with one process.
    workers = (
        WorkerPool(n_process, batch_size=batch_size, finish=scorer.table, schema=SCORED_SCHEMA)
        if n_process > 1 and estimated_rows(paths) >= PARALLEL_MIN_ROWS
        else None
    )
    nlp = get_nlp()
    #: chunks read but not yet finished: (bound, stats of a resumed chunk or work, good rows)
    pending: deque[tuple[dict[str, Any], Any, int]] = deque()

    def finish() -> None:
        bound, work, n_good = pending.popleft()
        index = bound["index"]
        scored_part = parts_dir / f"part-{index:06d}.scored.parquet"
        quar_part = parts_dir / f"part-{index:06d}.quarantine.parquet"
        if isinstance(work, dict):  # resumed: done by the interrupted run
            stats = work
            summary.chunks_resumed += 1
        else:
            scored = work if isinstance(work, pa.Table) else workers.collect(work)  # type: ignore[union-attr]
            _atomic_table(scored_part, scored)
            stats = {
                **bound,
                "entries": scored.num_rows,
                "non_oversight": n_good - scored.num_rows,
                "by_reason": _value_counts(scored.column("oversight_reason")),
                "labels": {h: _value_counts(scored.column(h)) for h in HEADS},
            }
            manifest["chunks"] = [c for c in manifest["chunks"] if c["index"] != index]
            manifest["chunks"].append(stats)
            _atomic_json(parts_dir / MANIFEST_FILE, manifest)
        chunk_files.append((scored_part, quar_part))
        summary.entries_out += stats["entries"]
        summary.non_oversight += stats["non_oversight"]
        by_reason.update(stats["by_reason"])
        for h in HEADS:
            labels[h].update(stats["labels"][h])
        summary.chunks += 1
        if progress:
            progress(bound["rows_in"])

    ok = False
    try:
        for index, chunk in enumerate(iter_exports(paths, mapping=mapping, chunk_rows=chunk_rows)):
            good, bad = validate(chunk, state=state)  # always: duplicate ids span chunks
            scored_part = parts_dir / f"part-{index:06d}.scored.parquet"
            quar_part = parts_dir / f"part-{index:06d}.quarantine.parquet"
            bound = {
                "index": index,
                "rows_in": chunk.rows_in,
                "first_row": _first_row(chunk.frame, chunk.rejected),
            }
            prior = completed.get(index)
            if prior is not None and scored_part.is_file() and quar_part.is_file():
                if {k: prior.get(k) for k in bound} != bound:
                    raise ScoreResumeError(
                        f"cannot resume from {parts_dir / MANIFEST_FILE}: chunk {index} no longer "
                        "matches the input; run without --resume"
                    )
                pending.append((bound, prior, len(good)))
            else:
                _atomic_table(
                    quar_part,
                    pa.Table.from_pandas(
                        redact_quarantine(bad), schema=QUARANTINE_SCHEMA, preserve_index=False
                    ),
                )
                rows = work_table(good)
                if workers is None:
                    work: Any = scorer.table(entries_table(rows, nlp, batch_size))
                else:
                    work = workers.submit(rows)
                pending.append((bound, work, len(good)))
            del good, bad, chunk
            while len(pending) > (1 if workers is not None else 0):
                finish()
        while pending:
            finish()
        ok = True
    except OversightError:
        # bad input, model or options: resuming cannot help, so leave nothing behind
        if workers is not None:
            workers.close(ok=False)
            workers = None
        shutil.rmtree(parts_dir, ignore_errors=True)
        raise
    finally:
        if workers is not None:
            workers.close(ok=ok)
    # anything else (an interrupt, a kill) leaves the parts and manifest for resume=True

    counts = state.counts
    summary.rows_in = counts.rows_in
    summary.quarantined = counts.rows_quarantined
    summary.quarantined_by_reason = dict(sorted(counts.by_reason.items()))
    summary.entries_by_reason = dict(sorted(by_reason.items()))
    summary.label_distribution = {
        h: {lab: int(labels[h].get(lab, 0)) for lab in HEAD_LABELS[h]} for h in HEADS
    }
    try:
        summary.check()
    except PrepareInvariantError:
        shutil.rmtree(parts_dir, ignore_errors=True)
        raise
    outputs = _output_paths(out, fmt)
    outputs["summary"].unlink(missing_ok=True)  # the summary is the finished-run marker
    _merge([s for s, _ in chunk_files], SCORED_SCHEMA, outputs["scored"], fmt)
    _merge([q for _, q in chunk_files], QUARANTINE_SCHEMA, outputs["quarantine"], fmt)
    summary.seconds = round(time.perf_counter() - start, 3)
    summary.rows_per_second = round(summary.rows_in / summary.seconds, 1) if summary.seconds else 0
    summary.outputs = {k: str(v) for k, v in outputs.items()}
    _atomic_json(outputs["summary"], asdict(summary))
    shutil.rmtree(parts_dir, ignore_errors=True)
    return summary


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    """Counts of the non-null values of a string column."""
    counts = pc.value_counts(column.drop_null()).to_pylist() if len(column) else []
    return {c["values"]: int(c["counts"]) for c in counts}


def _first_row(frame: pd.DataFrame, rejected: pd.DataFrame) -> str | None:
    """Where a chunk starts (file and row), so a resumed run can check its chunk boundaries."""
    for f in (frame, rejected):
        if len(f) and "source_file" in f and "source_row" in f:
            return f"{Path(str(f['source_file'].iloc[0])).name}:{int(f['source_row'].iloc[0])}"
    return None
