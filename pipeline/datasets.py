"""Labelled data in: generator folders, researchers' files and Label Studio exports, redacted,
checked and split by case into a ``datasets.DatasetDict``.

Sources (:func:`load_labelled` picks the reader from the path):

* a **generator folder** (``oversight synth``): ``export.*`` (any shape the ingest step reads)
  plus ``labels.parquet``; only oversight entries are kept, the text is the ``notes`` field and
  the labels are the annotated ones (``oversight_type``, ``content``: what a researcher would
  train on, with the generator's label noise) or, with ``clean_labels=True``, the labels the
  text was written from;
* a **researcher's file** (``.csv``, ``.jsonl``, ``.parquet``, or a ``.json`` array of
  records): a ``text`` column (``notes`` is accepted too) and ``oversight_type`` and/or
  ``content``; optional ``initiated_by``, ``crn``, ``contact_id`` / ``id``, the export's name
  columns (``pop_forename``, ``pop_surname``, ``staff_name``, ``created_by``: used to redact)
  and ``contact_date``;
* a **Label Studio JSON export**: a list of tasks, text under ``data.text`` (optional
  ``data.crn``, ``data.contact_id`` and name fields), labels from the latest non-cancelled
  annotation's ``choices`` results named ``oversight_type``, ``content`` or ``initiated_by``.

Every text goes through :func:`pipeline.nlp.redact.redact` (with the row's known names and
contact date where the source has them) before it is kept: no frame or dataset built here ever
holds raw note text. Labels are matched without regard to case or surrounding spaces; an
unknown label, an empty text or a missing column raises an error naming the file, the row
(1-based position among the file's data records, or the task's position in a Label Studio
export) and the field, never the text. Rows with no label at all are skipped (and counted in
the log).

The frame every loader returns has :data:`DATASET_COLUMNS`; ``group`` is the case (CRN), or
``<source>#<row>`` for a row without one. :func:`split_by_case` puts every group in exactly one
of train / validation / test (deterministic for a seed), and :func:`to_dataset_dict` turns the
splits into a ``DatasetDict``; :func:`build_dataset` does all three.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import (
    EmptyTextError,
    LabelledDataError,
    MissingClassError,
    SplitError,
    UnknownLabelError,
)
from pipeline.labels import CONTENT_LABELS, INITIATORS, OVERSIGHT_TYPES
from pipeline.schema import is_missing

log = logging.getLogger(__name__)

#: The label columns and the labels each may hold.
LABEL_SETS: dict[str, tuple[str, ...]] = {
    "oversight_type": OVERSIGHT_TYPES,
    "content": CONTENT_LABELS,
    "initiated_by": INITIATORS,
}
#: The heads a model learns (``initiated_by`` is carried along, not required).
HEADS: tuple[str, ...] = ("oversight_type", "content")
#: Columns of every frame and dataset split made here (all strings; labels may be missing).
DATASET_COLUMNS: tuple[str, ...] = (
    "id",
    "crn",
    "group",
    "source",
    "text",
    "oversight_type",
    "content",
    "initiated_by",
)
SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: Columns whose values are names to redact wherever they appear in the row's text.
NAME_FIELDS: tuple[str, ...] = ("pop_forename", "pop_surname", "staff_name", "created_by")
#: Texts per worker task when redacting in parallel.
_REDACT_CHUNK = 2000


# --- redaction -------------------------------------------------------------------------------


def _parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _redact_chunk(items: list[tuple[str, tuple[str, ...], date | None]]) -> list[str]:
    from pipeline.nlp.redact import redact

    return [redact(t, known_names=names, reference_date=d)[0] for t, names, d in items]


def redact_texts(
    texts: Sequence[str],
    known_names: Sequence[Sequence[str]] | None = None,
    reference_dates: Sequence[date | None] | None = None,
    *,
    n_jobs: int = 1,
) -> list[str]:
    """Redact every text with the shipped rules (:func:`pipeline.nlp.redact.redact`).

    ``known_names[i]``: names from row i's export columns; ``reference_dates[i]``: its contact
    date. ``n_jobs`` > 1 redacts in that many worker processes (worth it from a few thousand
    texts: about 0.7 ms a text on one core).
    """
    n = len(texts)
    names = known_names if known_names is not None else [()] * n
    dates = reference_dates if reference_dates is not None else [None] * n
    items = [(t, tuple(k), d) for t, k, d in zip(texts, names, dates, strict=True)]
    if n_jobs <= 1 or n < 2 * _REDACT_CHUNK:
        return _redact_chunk(items)
    chunks = [items[i : i + _REDACT_CHUNK] for i in range(0, n, _REDACT_CHUNK)]
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        out: list[str] = []
        for part in pool.map(_redact_chunk, chunks):
            out.extend(part)
    return out


# --- checking rows ---------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A cell as text (None when missing)."""
    if is_missing(value):
        return None
    return value if isinstance(value, str) else str(value)


def normalise_label(value: Any, field: str, *, path: str, row: int) -> str | None:
    """A label cell as the scheme's spelling (None when empty); unknown labels raise
    :class:`~pipeline.errors.UnknownLabelError` naming the file, row and field."""
    if is_missing(value):
        return None
    label = str(value).strip().lower()
    if label not in LABEL_SETS[field]:
        shown = label if len(label) <= 40 else label[:37] + "..."
        raise UnknownLabelError(
            f"unknown {field} label {shown!r}; expected one of {', '.join(LABEL_SETS[field])}",
            path=path,
            row=row,
            field=field,
        )
    return label


def _names_of(record: Mapping[str, Any]) -> tuple[str, ...]:
    out = []
    first, last = _text(record.get("pop_forename")), _text(record.get("pop_surname"))
    if first or last:
        out.append(" ".join(p for p in (first, last) if p))
    for field in ("staff_name", "created_by"):
        v = _text(record.get(field))
        if v and v.strip().lower() != "system":
            out.append(v)
    return tuple(out)


def _assemble(
    rows: list[dict[str, Any]], *, source: str, path: str, text_field: str, n_jobs: int
) -> pd.DataFrame:
    """Check raw rows (keys: row, text, labels, id, crn, names, date), redact, build the frame.

    Raw text lives only in ``rows`` (local to the loader) and is replaced before the frame is
    built.
    """
    kept: list[dict[str, Any]] = []
    skipped = 0
    for r in rows:
        labels = {f: normalise_label(r.get(f), f, path=path, row=r["row"]) for f in LABEL_SETS}
        if labels["oversight_type"] is None and labels["content"] is None:
            skipped += 1
            continue
        text = _text(r.get("text"))
        if text is None or not text.strip():
            raise EmptyTextError(
                "empty text: a labelled row needs a text", path=path, row=r["row"], field=text_field
            )
        crn = _text(r.get("crn"))
        crn = crn.strip().upper() if crn else None
        kept.append({**r, **labels, "text": text, "crn": crn})
    if skipped:
        log.info("%s: %d row(s) without an oversight_type or content label skipped", path, skipped)
    redacted = redact_texts(
        [r["text"] for r in kept],
        [r.get("names", ()) for r in kept],
        [r.get("date") for r in kept],
        n_jobs=n_jobs,
    )
    frame = pd.DataFrame(
        {
            "id": [_text(r.get("id")) or f"{source}#{r['row']}" for r in kept],
            "crn": [r["crn"] for r in kept],
            "group": [r["crn"] or f"{source}#{r['row']}" for r in kept],
            "source": [source] * len(kept),
            "text": redacted,
            **{f: [r[f] for r in kept] for f in LABEL_SETS},
        },
        columns=list(DATASET_COLUMNS),
    )
    return frame.astype(object).where(frame.notna(), None)


# --- generator folders -----------------------------------------------------------------------


def _find_export(folder: Path) -> Path:
    for name in ("export.parquet", "export.jsonl", "export.csv", "export.xlsx"):
        if (folder / name).is_file():
            return folder / name
    if (folder / "delius").is_dir():
        return folder / "delius"
    raise LabelledDataError("no generator export (export.* or delius/) in folder", path=str(folder))


def load_synth(
    folder: str | os.PathLike[str], *, clean_labels: bool = False, n_jobs: int = 1
) -> pd.DataFrame:
    """Oversight entries of a generator folder with their labels (annotated by default)."""
    from pipeline.ingest import iter_export

    path = Path(folder)
    labels_path = path / "labels.parquet"
    if not labels_path.is_file():
        raise LabelledDataError("generator folder has no labels.parquet", path=str(path))
    suffix = "_clean" if clean_labels else ""
    wanted_cols = [
        "contact_id",
        "crn",
        "is_oversight",
        f"oversight_type{suffix}",
        f"content{suffix}",
        "initiated_by",
    ]
    try:
        labels = pd.read_parquet(labels_path, columns=wanted_cols)
    except (KeyError, ValueError, OSError) as exc:
        raise LabelledDataError(
            f"cannot read the labels ({type(exc).__name__})", path=str(labels_path)
        ) from None
    labels = labels.reset_index(drop=True)
    labels["row"] = np.arange(1, len(labels) + 1)
    labels = labels[labels["is_oversight"].fillna(False).astype(bool)]
    by_id = {
        str(cid): (int(row), t, c, i)
        for cid, row, t, c, i in zip(
            labels["contact_id"],
            labels["row"],
            labels[f"oversight_type{suffix}"],
            labels[f"content{suffix}"],
            labels["initiated_by"],
            strict=True,
        )
    }
    export = _find_export(path)
    rows: list[dict[str, Any]] = []
    found: set[str] = set()
    for chunk in iter_export(export):
        frame = chunk.frame
        frame = frame[frame["contact_id"].isin(list(by_id))]
        for rec in frame.to_dict("records"):
            cid = str(rec["contact_id"])
            label_row, otype, content, initiated = by_id[cid]
            # the labels are checked against labels.parquet's row; an empty note against the export's
            for field, value in (
                ("oversight_type", otype),
                ("content", content),
                ("initiated_by", initiated),
            ):
                normalise_label(value, field, path=str(labels_path), row=label_row)
            if is_missing(rec.get("notes")):
                raise EmptyTextError(
                    "an oversight entry has empty notes",
                    path=str(rec.get("source_file") or export),
                    row=int(rec["source_row"]),
                    field="notes",
                )
            found.add(cid)
            rows.append(
                {
                    "row": label_row,
                    "text": rec.get("notes"),
                    "oversight_type": otype,
                    "content": content,
                    "initiated_by": initiated,
                    "id": cid,
                    "crn": rec.get("crn"),
                    "names": _names_of(rec),
                    "date": _parse_date(rec.get("contact_date")),
                }
            )
    missing = len(by_id) - len(found)
    if missing:
        log.warning("%s: %d labelled oversight entries not found in the export", path, missing)
    if not rows:
        raise LabelledDataError("no labelled oversight entry found in the export", path=str(export))
    rows.sort(key=lambda r: r["row"])
    return _assemble(
        rows, source=path.name, path=str(labels_path), text_field="notes", n_jobs=n_jobs
    )


# --- researchers' files ----------------------------------------------------------------------


def _read_records(path: Path) -> list[dict[str, Any]]:
    """Records of a CSV / JSON Lines / Parquet / JSON-array file, header names lower-cased."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            from pipeline.ingest.sniff import sniff_delimiter, sniff_encoding

            encoding = sniff_encoding(path)
            with open(path, encoding=encoding, errors="replace", newline="") as f:
                header = f.readline()
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                encoding=encoding,
                encoding_errors="replace",
                sep="\t" if suffix == ".tsv" else sniff_delimiter(header),
            )
            records = frame.to_dict("records")
        elif suffix in (".jsonl", ".ndjson"):
            records = []
            with open(path, encoding="utf-8-sig") as f:
                for line_no, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        raise LabelledDataError(
                            "not a JSON object", path=str(path), row=line_no
                        ) from None
                    if not isinstance(rec, dict):
                        raise LabelledDataError("not a JSON object", path=str(path), row=line_no)
                    rec["__row"] = line_no
                    records.append(rec)
        elif suffix in (".parquet", ".pq"):
            records = pd.read_parquet(path).to_dict("records")
        elif suffix == ".json":
            data = json.loads(path.read_text("utf-8-sig"))
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise LabelledDataError("a .json file must hold a list of records", path=str(path))
            records = data
        else:
            raise LabelledDataError(
                "unsupported labelled file; use .csv, .jsonl, .parquet or .json", path=str(path)
            )
    except LabelledDataError:
        raise
    except (OSError, ValueError, UnicodeError) as exc:
        raise LabelledDataError(
            f"cannot read the file ({type(exc).__name__})", path=str(path)
        ) from None
    out = []
    for i, rec in enumerate(records, 1):
        clean = {str(k).strip().lower().replace(" ", "_"): v for k, v in rec.items()}
        clean.setdefault("__row", i)
        out.append(clean)
    return out


def load_labelled_file(path: str | os.PathLike[str], *, n_jobs: int = 1) -> pd.DataFrame:
    """A researcher's labelled CSV / JSON Lines / Parquet / JSON file (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise LabelledDataError("no such file", path=str(p))
    records = _read_records(p)
    columns = set().union(*(r.keys() for r in records)) if records else set()
    text_field = "text" if "text" in columns else "notes" if "notes" in columns else None
    if text_field is None:
        raise LabelledDataError("labelled file has no 'text' column", path=str(p), field="text")
    if not columns & set(HEADS):
        raise LabelledDataError(
            "labelled file needs an 'oversight_type' and/or a 'content' column", path=str(p)
        )
    rows = []
    for rec in records:
        rows.append(
            {
                "row": int(rec["__row"]),
                "text": rec.get(text_field),
                **{f: rec.get(f) for f in LABEL_SETS},
                "id": _text(rec.get("contact_id")) or _text(rec.get("id")),
                "crn": rec.get("crn"),
                "names": _names_of(rec),
                "date": _parse_date(rec.get("contact_date")),
            }
        )
    return _assemble(rows, source=p.name, path=str(p), text_field=text_field, n_jobs=n_jobs)


# --- Label Studio ----------------------------------------------------------------------------


def _latest_annotation(annotations: Any) -> dict[str, Any] | None:
    """The latest non-cancelled annotation (by updated_at, then created_at, then id, then
    position)."""
    if not isinstance(annotations, list):
        return None
    best, best_key = None, None
    for pos, ann in enumerate(annotations):
        if not isinstance(ann, dict) or ann.get("was_cancelled"):
            continue
        key = (
            str(ann.get("updated_at") or ann.get("created_at") or ""),
            str(ann.get("created_at") or ""),
            ann.get("id") if isinstance(ann.get("id"), int) else -1,
            pos,
        )
        if best_key is None or key > best_key:
            best, best_key = ann, key
    return best


def _choices(annotation: dict[str, Any], *, path: str, row: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in annotation.get("result") or []:
        if not isinstance(item, dict) or item.get("type") != "choices":
            continue
        name = item.get("from_name")
        if name not in LABEL_SETS:
            continue
        choices = (item.get("value") or {}).get("choices") or []
        if len(choices) > 1:
            raise UnknownLabelError(
                f"{len(choices)} {name} choices in one annotation; choose one",
                path=path,
                row=row,
                field=name,
            )
        if choices:
            out[name] = choices[0]
    return out


def read_label_studio_tasks(path: str | os.PathLike[str]) -> list[Any]:
    """The tasks of a Label Studio JSON export, as written (a clear error when it is not one)."""
    p = Path(path)
    try:
        tasks = json.loads(p.read_text("utf-8-sig"))
    except (OSError, ValueError, UnicodeError) as exc:
        raise LabelledDataError(
            f"cannot read the Label Studio export ({type(exc).__name__})", path=str(p)
        ) from None
    if not isinstance(tasks, list):
        raise LabelledDataError("a Label Studio export must be a JSON list of tasks", path=str(p))
    return tasks


def load_label_studio(path: str | os.PathLike[str], *, n_jobs: int = 1) -> pd.DataFrame:
    """A Label Studio JSON export (list of tasks); tasks without a usable annotation are skipped."""
    p = Path(path)
    tasks = read_label_studio_tasks(p)
    rows = []
    unannotated = 0
    for pos, task in enumerate(tasks, 1):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise LabelledDataError("task has no 'data' object", path=str(p), row=pos, field="data")
        data = {str(k).lower(): v for k, v in task["data"].items()}
        ann = _latest_annotation(task.get("annotations") or task.get("completions"))
        labels = _choices(ann, path=str(p), row=pos) if ann else {}
        if not labels:
            unannotated += 1
            continue
        rows.append(
            {
                "row": pos,
                "text": data.get("text"),
                **{f: labels.get(f) for f in LABEL_SETS},
                "id": _text(data.get("contact_id")) or _text(task.get("id")),
                "crn": data.get("crn"),
                "names": _names_of(data),
                "date": _parse_date(data.get("contact_date")),
            }
        )
    if unannotated:
        log.info("%s: %d task(s) without a usable annotation skipped", p, unannotated)
    return _assemble(rows, source=p.name, path=str(p), text_field="data.text", n_jobs=n_jobs)


def _is_label_studio(path: Path) -> bool:
    """A .json file whose first task has ``data`` and ``annotations`` (read from its start)."""
    try:
        data = json.loads(path.read_text("utf-8-sig"))
    except (OSError, ValueError, UnicodeError):
        return False
    return (
        isinstance(data, list)
        and bool(data)
        and isinstance(data[0], dict)
        and "data" in data[0]
        and ("annotations" in data[0] or "completions" in data[0])
    )


# --- any source ------------------------------------------------------------------------------


def load_labelled(
    sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    clean_labels: bool = False,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """One frame from one or more sources: generator folders, researchers' files, Label Studio
    exports (told apart by shape), redacted and checked."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    frames = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            frames.append(load_synth(p, clean_labels=clean_labels, n_jobs=n_jobs))
        elif p.suffix.lower() == ".json" and _is_label_studio(p):
            frames.append(load_label_studio(p, n_jobs=n_jobs))
        else:
            frames.append(load_labelled_file(p, n_jobs=n_jobs))
    if not frames:
        raise LabelledDataError("no labelled source given")
    return pd.concat(frames, ignore_index=True)


# --- splits ----------------------------------------------------------------------------------


def _target(size: int | float, n: int, name: str) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, float)) or size < 0:
        raise SplitError(f"{name} must be a fraction in [0, 1) or a row count >= 0, not {size!r}")
    if isinstance(size, float):
        if size >= 1:
            raise SplitError(f"{name} as a fraction must be below 1, not {size}")
        return int(round(size * n))
    return int(size)


def split_by_case(
    frame: pd.DataFrame,
    *,
    validation_size: int | float = 0.1,
    test_size: int | float = 0.1,
    seed: int = 0,
    require_all_classes: bool = True,
) -> dict[str, pd.DataFrame]:
    """Train / validation / test frames with every ``group`` (case) in exactly one of them.

    Sizes are fractions of the rows (float) or row counts (int); whole cases are drawn in a
    seeded random order until each target is reached, so sizes are met approximately. The same
    frame and seed give the same splits whatever the row order. A label of the scheme (for
    each head the frame has labels on; with ``require_all_classes=False`` only the labels the
    frame holds) with no training example raises :class:`~pipeline.errors.MissingClassError`.
    """
    if "group" not in frame.columns:
        raise SplitError("the frame has no 'group' column (load it with pipeline.datasets)")
    n = len(frame)
    if n == 0:
        raise SplitError("no rows to split")
    n_test = _target(test_size, n, "test_size")
    n_val = _target(validation_size, n, "validation_size")
    if n_test + n_val >= n:
        raise SplitError(
            f"test ({n_test}) + validation ({n_val}) rows leave nothing to train on ({n} rows)"
        )
    groups = frame["group"].astype(str).to_numpy()
    keys, inverse = np.unique(groups, return_inverse=True)  # sorted: independent of row order
    sizes = np.bincount(inverse, minlength=len(keys))
    order = np.random.default_rng(seed).permutation(len(keys))
    assign = np.zeros(len(keys), dtype=np.int8)  # 0 train, 1 validation, 2 test
    filled = {2: 0, 1: 0}
    targets = {2: n_test, 1: n_val}
    for g in order:
        for split in (2, 1):
            if filled[split] < targets[split]:
                assign[g] = split
                filled[split] += int(sizes[g])
                break
    row_split = assign[inverse.ravel()]
    if not (row_split == 0).any():
        raise SplitError("every case went to validation or test; lower their sizes")
    out = {
        name: frame[row_split == code].reset_index(drop=True)
        for name, code in (("train", 0), ("validation", 1), ("test", 2))
    }
    _check_classes(frame, out["train"], require_all_classes)
    return out


def _check_classes(frame: pd.DataFrame, train: pd.DataFrame, require_all: bool) -> None:
    for head in HEADS:
        if head not in frame.columns or frame[head].isna().all():
            continue
        in_train = set(train[head].dropna())
        wanted = LABEL_SETS[head] if require_all else tuple(sorted(set(frame[head].dropna())))
        missing = tuple(lab for lab in wanted if lab not in in_train)
        if missing:
            counts = frame[head].value_counts()
            detail = ", ".join(f"{lab!r} ({int(counts.get(lab, 0))} in all)" for lab in missing)
            raise MissingClassError(
                head,
                missing,
                f"no training example of {head} {detail}: add labelled examples, lower "
                "test_size / validation_size, or try another seed",
            )


# --- datasets --------------------------------------------------------------------------------


def to_dataset_dict(splits: Mapping[str, pd.DataFrame]):
    """A ``datasets.DatasetDict`` of the splits (string columns :data:`DATASET_COLUMNS`)."""
    import datasets as hf

    features = hf.Features({c: hf.Value("string") for c in DATASET_COLUMNS})
    out = {}
    for name, frame in splits.items():
        missing = [c for c in DATASET_COLUMNS if c not in frame.columns]
        if missing:
            raise SplitError(f"split {name!r} lacks column(s) {', '.join(missing)}")
        part = frame[list(DATASET_COLUMNS)].astype(object)
        part = part.where(part.notna(), None)
        out[name] = hf.Dataset.from_pandas(part, features=features, preserve_index=False)
    return hf.DatasetDict(out)


def build_dataset(
    sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    clean_labels: bool = False,
    validation_size: int | float = 0.1,
    test_size: int | float = 0.1,
    seed: int = 0,
    require_all_classes: bool = True,
    n_jobs: int = 1,
):
    """Load, redact, check and split ``sources`` by case into a ``DatasetDict``."""
    frame = load_labelled(sources, clean_labels=clean_labels, n_jobs=n_jobs)
    splits = split_by_case(
        frame,
        validation_size=validation_size,
        test_size=test_size,
        seed=seed,
        require_all_classes=require_all_classes,
    )
    log.info(
        "dataset: %s",
        ", ".join(f"{k} {len(v)} rows / {v['group'].nunique()} cases" for k, v in splits.items()),
    )
    return to_dataset_dict(splits)
