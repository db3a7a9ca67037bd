"""The Label Studio round trip: tasks and a labeling config out, annotators' exports back in.

**Export** (:func:`export_tasks`, ``oversight annotate export``) picks entries to label from the
entries table (``oversight prepare``) or the scored output (``oversight score``) with a sampling
strategy (:mod:`pipeline.annotate.sampling`) and writes, into one folder:

* ``tasks.json``: Label Studio tasks in its basic JSON import format. ``data`` holds the
  redacted ``text``, our stable ``task_id`` (derived from the contact id, never from row
  order), the ``contact_id``, a case pseudonym (``case``: a CRN is personal data) and the code
  the entry was filed under; ``meta`` holds the sampling rank and uncertainty; ``predictions``
  (with a model) holds one pre-annotation with ``model_version``, ``score`` (the product of
  the two heads' top probabilities: low means worth a careful look) and a ``choices`` result
  per head, plus ``initiated_by`` as the prepare step's rules found it (when they did). No top-level ``id``: Label Studio numbers tasks itself on import, so the
  stable id travels in ``data`` and comes back in every export.
* ``labeling_config.xml``: the project's labeling interface, a ``Text`` tag and single-choice
  ``Choices`` for ``oversight_type``, ``content`` and ``initiated_by`` (the scheme's labels).
* ``manifest.json``: strategy, seed, model version, counts, the files written.

Only whitelisted columns go into a task (:data:`TASK_DATA_COLUMNS`); the text column is the
prepare step's redacted text.

**Import** (:func:`import_annotations`, ``oversight annotate import``) reads one or more Label
Studio JSON exports (one per annotator, or one holding several annotators' annotations per
task), checks every result against the labeling config, and writes:

* ``labelled.parquet``: one row per task with the final labels, in the researcher's-file
  format ``oversight train`` reads (``text``, ``oversight_type``, ``content``,
  ``initiated_by``, ``contact_id``, and the case pseudonym in ``crn`` so the split keeps a
  case's entries together);
* ``agreement.json``: Cohen's kappa per annotator pair and field, Krippendorff's alpha per field,
  per-label disagreement (:mod:`pipeline.annotate.agreement`);
* ``adjudication.csv``: the tasks annotators disagree on, each annotator's labels, the majority
  and empty ``final_*`` columns. Fill those in and import again with ``--adjudicated`` to make
  the adjudicator's decision final.

Annotators are named by the export file's stem when a file holds one annotator's work, and by
``<stem>:<user id>`` when it holds several (Label Studio's ``completed_by``), so two people's
exports from separate Label Studio instances (both user 1) stay apart.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import __version__
from pipeline.annotate import agreement
from pipeline.annotate.sampling import STRATEGIES, select
from pipeline.datasets import LABEL_SETS, read_label_studio_tasks, redact_texts
from pipeline.errors import (
    AnnotationTaskError,
    ConfigError,
    LabelingConfigError,
    LabelledDataError,
    UnknownLabelError,
)
from pipeline.schema import is_missing

log = logging.getLogger(__name__)

#: The labelled fields, each a single-choice ``Choices`` tag named like the field.
FIELDS: tuple[str, ...] = tuple(LABEL_SETS)
#: The heads a model pre-annotates (``initiated_by`` comes from the nlp rules when present).
MODEL_HEADS: tuple[str, ...] = ("oversight_type", "content")
#: The ``Text`` tag's name and the ``data`` key holding the redacted text.
TEXT_NAME = "text"
TASKS_FILE = "tasks.json"
CONFIG_FILE = "labeling_config.xml"
MANIFEST_FILE = "manifest.json"
LABELLED_FILE = "labelled.parquet"
AGREEMENT_FILE = "agreement.json"
ADJUDICATION_FILE = "adjudication.csv"
#: What a task's ``data`` may hold: nothing else of an entry ever goes into a task.
TASK_DATA_COLUMNS: tuple[str, ...] = (
    TEXT_NAME,
    "task_id",
    "contact_id",
    "case",
    "contact_type",
    "contact_date",
    "region",
)
#: Short decision hints shown beside each choice (the full rules are docs/labelling-guide.md).
HINTS: dict[str, dict[str, str]] = {
    "oversight_type": {
        "allocation": "Review at allocation / initial touch point: grade fit, tier, RoSH, first plan",
        "supervision": "Case reviewed in (reflective) supervision: progress, practice quality",
        "risk": "Response to new information or changed risk / safeguarding",
        "enforcement": "Breach, warnings, licence compliance, recall or no-recall decision",
        "assurance": "Countersigning and QA: OASys countersign, PSR gatekeeping, HVRA, AQA/RCAT",
        "review": "Scheduled review or panel: MAPPA, lifer/IPP, high risk, quarterly, termination",
    },
    "content": {
        "defensive": "Records that oversight happened, without case-specific analysis",
        "substantive": "Engages with this case: risk factors, rationale, actions, review point",
    },
    "initiated_by": {
        "pp_request": "The PP raised it or asked for it to be recorded",
        "spo": "The SPO started it",
        "scheduled": "A mandated touch point, panel or countersigning queue",
        "unknown": "The entry does not say",
    },
}
TITLES: dict[str, str] = {
    "oversight_type": "Oversight type: the touch point this entry really is, whatever its code",
    "content": "Content: defensive or substantive (length is not the test)",
    "initiated_by": "Initiated by",
}
#: Fields an annotator must fill before submitting.
REQUIRED_FIELDS: frozenset[str] = frozenset(MODEL_HEADS)


# --- ids --------------------------------------------------------------------------------------


def task_id(contact_id: Any) -> str:
    """Our stable task id for a contact: the same contact always gives the same id, whatever
    the row order or the batch it is exported in."""
    digest = hashlib.sha256(f"oversight-nlp:task:{contact_id}".encode()).hexdigest()
    return f"ov-{digest[:16]}"


def case_key(crn: Any) -> str:
    """The case as a stable pseudonym (the same one ``pipeline.experiments`` gives held-out
    splits), so entries of a case stay together without the CRN leaving the pipeline."""
    return "case-" + hashlib.sha256(f"oversight-nlp:{crn}".encode()).hexdigest()[:12]


# --- labeling config ---------------------------------------------------------------------------


def labeling_config(*, fields: Sequence[str] = FIELDS, hints: bool = True) -> str:
    """The Label Studio labeling config (XML) for our tasks: the redacted text, the code it was
    filed under, and one single-choice ``Choices`` per field with the scheme's labels."""
    view = ET.Element("View")
    ET.SubElement(view, "Header", value="$contact_type", size="6")
    ET.SubElement(view, "Text", name=TEXT_NAME, value=f"${TEXT_NAME}", granularity="word")
    for f in fields:
        if f not in LABEL_SETS:
            raise LabelingConfigError(f"no such field {f!r}; expected one of {', '.join(FIELDS)}")
        ET.SubElement(view, "Header", value=TITLES[f], size="5")
        attrs = {
            "name": f,
            "toName": TEXT_NAME,
            "choice": "single-radio",
            "showInline": "true",
            "required": "true" if f in REQUIRED_FIELDS else "false",
        }
        choices = ET.SubElement(view, "Choices", attrs)
        for label in LABEL_SETS[f]:
            extra = {"hint": HINTS[f][label]} if hints else {}
            ET.SubElement(choices, "Choice", value=label, **extra)
    ET.indent(view, space="  ")
    return ET.tostring(view, encoding="unicode") + "\n"


@dataclass(frozen=True)
class LabelingConfig:
    """What a labeling config allows: the ``Text`` tag names and, per ``Choices`` tag, its
    values and whether it takes one choice only."""

    text_names: frozenset[str]
    choices: Mapping[str, tuple[str, ...]]
    single: Mapping[str, bool]
    path: str | None = None


def parse_labeling_config(xml: str, *, path: str | None = None) -> LabelingConfig:
    """Read a labeling config; its ``Choices`` must be our fields with the scheme's labels
    (a subset is fine), so an import never yields a label the scheme does not know."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise LabelingConfigError(f"labeling config is not XML ({exc})" + _where(path)) from None
    text_names = frozenset(
        el.get("name", "")
        for el in root.iter()
        if el.tag in ("Text", "HyperText") and el.get("name")
    )
    if not text_names:
        raise LabelingConfigError("labeling config has no named Text tag" + _where(path))
    choices: dict[str, tuple[str, ...]] = {}
    single: dict[str, bool] = {}
    for el in root.iter("Choices"):
        name = el.get("name")
        if name not in LABEL_SETS:
            raise LabelingConfigError(
                f"Choices {name!r} is not a field of the scheme ({', '.join(FIELDS)})"
                + _where(path)
            )
        values = tuple(c.get("value") or c.get("alias") or "" for c in el.iter("Choice"))
        unknown = [v for v in values if v not in LABEL_SETS[name]]
        if unknown:
            raise LabelingConfigError(
                f"Choices {name!r} offers {', '.join(map(repr, unknown))}, not labels of the "
                f"scheme ({', '.join(LABEL_SETS[name])})" + _where(path)
            )
        choices[name] = values
        single[name] = el.get("choice", "single") in ("single", "single-radio")
    if not choices:
        raise LabelingConfigError("labeling config has no Choices tag" + _where(path))
    return LabelingConfig(text_names, choices, single, path)


def _where(path: str | None) -> str:
    return f" (file {path})" if path else ""


def load_labeling_config(path: str | os.PathLike[str] | None = None) -> LabelingConfig:
    """A labeling config from a file, or ours (:func:`labeling_config`) when ``path`` is None."""
    if path is None:
        return parse_labeling_config(labeling_config())
    p = Path(path)
    try:
        text = p.read_text("utf-8-sig")
    except (OSError, UnicodeError) as exc:
        raise LabelingConfigError(
            f"cannot read the labeling config ({type(exc).__name__})" + _where(str(p))
        ) from None
    return parse_labeling_config(text, path=str(p))


# --- export ------------------------------------------------------------------------------------


def read_pool(paths: Sequence[str | os.PathLike[str]]) -> pd.DataFrame:
    """The entries to choose from: entries tables or scored outputs (Parquet or CSV), one frame.

    A frame with a raw ``notes`` column and no ``text`` is refused: tasks only ever carry the
    prepare step's redacted text.
    """
    frames = []
    for src in paths:
        p = Path(src)
        if not p.is_file():
            raise LabelledDataError("no such entries or scored file", path=str(p))
        try:
            if p.suffix.lower() in (".parquet", ".pq"):
                frame = pd.read_parquet(p)
            elif p.suffix.lower() == ".csv":
                frame = pd.read_csv(p, keep_default_na=False, na_values=[""])
            else:
                raise LabelledDataError(
                    "unsupported file; give entries.parquet (oversight prepare) or "
                    "scored.parquet / scored.csv (oversight score)",
                    path=str(p),
                )
        except LabelledDataError:
            raise
        except (OSError, ValueError) as exc:
            raise LabelledDataError(
                f"cannot read the file ({type(exc).__name__})", path=str(p)
            ) from None
        for col in ("contact_id", TEXT_NAME):
            if col not in frame.columns:
                hint = "; run oversight prepare first" if "notes" in frame.columns else ""
                raise LabelledDataError(
                    f"not an entries table: no {col!r} column{hint}", path=str(p), field=col
                )
        frames.append(frame)
    if not frames:
        raise LabelledDataError("no entries file given")
    pool = pd.concat(frames, ignore_index=True)
    pool["contact_id"] = pool["contact_id"].astype(str)
    dup = pool["contact_id"].duplicated(keep="first")
    if dup.any():
        log.warning("%d duplicate contact id(s) in the entries; the first is kept", int(dup.sum()))
        pool = pool[~dup].reset_index(drop=True)
    return pool


def labelled_ids(paths: Iterable[str | os.PathLike[str]]) -> set[str]:
    """Contact ids already sent out or labelled: from earlier ``tasks.json`` files, Label
    Studio exports (``data.contact_id``) or labelled files with a ``contact_id`` column."""
    out: set[str] = set()
    for src in paths:
        p = Path(src)
        if p.is_dir() and (p / TASKS_FILE).is_file():
            p = p / TASKS_FILE
        try:
            if p.suffix.lower() == ".json":
                tasks = json.loads(p.read_text("utf-8-sig"))
                if not isinstance(tasks, list):
                    raise ValueError("not a list of tasks")
                out.update(
                    str(t["data"]["contact_id"])
                    for t in tasks
                    if isinstance(t, dict)
                    and isinstance(t.get("data"), dict)
                    and not is_missing(t["data"].get("contact_id"))
                )
            elif p.suffix.lower() in (".parquet", ".pq"):
                out.update(pd.read_parquet(p, columns=["contact_id"])["contact_id"].astype(str))
            elif p.suffix.lower() == ".csv":
                out.update(pd.read_csv(p, usecols=["contact_id"], dtype=str)["contact_id"])
            else:
                raise ValueError("unsupported file")
        except (OSError, ValueError, KeyError) as exc:
            raise LabelledDataError(
                f"cannot read contact ids to exclude ({type(exc).__name__})", path=str(p)
            ) from None
    return out


@dataclass
class Predictions:
    """Per-head probabilities for every pool row, with the labels' order and the version."""

    proba: dict[str, np.ndarray]
    classes: dict[str, tuple[str, ...]]
    model_version: str


def _proba_from_scored(pool: pd.DataFrame) -> Predictions | None:
    """Probabilities a scored output already holds (``p_<head>_<label>`` columns)."""
    from pipeline.classify.base import HEAD_LABELS, proba_column

    cols = {h: [proba_column(h, lab) for lab in HEAD_LABELS[h]] for h in MODEL_HEADS}
    if not all(c in pool.columns for h in MODEL_HEADS for c in cols[h]):
        return None
    versions = pool["model_version"].dropna().unique() if "model_version" in pool else []
    return Predictions(
        {h: pool[cols[h]].to_numpy(dtype=float) for h in MODEL_HEADS},
        {h: tuple(HEAD_LABELS[h]) for h in MODEL_HEADS},
        ",".join(sorted(map(str, versions))) or "scored",
    )


def predict_pool(pool: pd.DataFrame, model: str | os.PathLike[str]) -> Predictions:
    """Probabilities of a model (folder or MLflow URI) for every pool row."""
    from pipeline.classify.base import HEAD_LABELS, proba_column
    from pipeline.score.local import load_scoring_model
    from pipeline.tracking import predict_frame

    loaded = load_scoring_model(str(model))
    frame = pool.copy()
    frame[TEXT_NAME] = frame[TEXT_NAME].fillna("").astype(str)
    pred = predict_frame(loaded.model, frame)
    return Predictions(
        {
            h: pred[[proba_column(h, lab) for lab in HEAD_LABELS[h]]].to_numpy(dtype=float)
            for h in MODEL_HEADS
        },
        {h: tuple(HEAD_LABELS[h]) for h in MODEL_HEADS},
        loaded.version,
    )


def _strata(pool: pd.DataFrame, preds: Predictions | None) -> list[str]:
    """Predicted type x region where there is a model, else filed code x region."""
    region = (
        pool["region"].fillna("?").astype(str) if "region" in pool else pd.Series("?", pool.index)
    )
    if preds is not None:
        best = preds.proba["oversight_type"].argmax(axis=1)
        first = np.asarray(preds.classes["oversight_type"], dtype=object)[best]
    elif "contact_type_code" in pool:
        first = pool["contact_type_code"].fillna("?").astype(str).to_numpy()
    else:
        first = np.full(len(pool), "?", dtype=object)
    return [f"{a}|{b}" for a, b in zip(first, region, strict=True)]


def _choice_result(name: str, label: str, score: float | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": name,
        "from_name": name,
        "to_name": TEXT_NAME,
        "type": "choices",
        "value": {"choices": [label]},
    }
    if score is not None:
        item["score"] = round(float(score), 4)
    return item


def build_tasks(
    pool: pd.DataFrame,
    positions: Sequence[int],
    *,
    predictions: Predictions | None = None,
    strategy: str = "random",
    uncertainties: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Label Studio tasks for the pool rows at ``positions`` (in that order)."""
    tasks = []
    for rank, pos in enumerate(positions, 1):
        row = pool.iloc[int(pos)]
        cid = str(row["contact_id"])
        code = "" if is_missing(row.get("contact_type_code")) else str(row["contact_type_code"])
        desc = (
            ""
            if is_missing(row.get("contact_type_description"))
            else str(row["contact_type_description"])
        )
        data = {
            TEXT_NAME: "" if is_missing(row[TEXT_NAME]) else str(row[TEXT_NAME]),
            "task_id": task_id(cid),
            "contact_id": cid,
            "case": case_key(row["crn"]) if not is_missing(row.get("crn")) else None,
            "contact_type": f"Filed as: {code} {desc}".strip(),
            "contact_date": None
            if is_missing(row.get("contact_date"))
            else str(row["contact_date"]),
            "region": None if is_missing(row.get("region")) else str(row["region"]),
        }
        meta: dict[str, Any] = {"strategy": strategy, "rank": rank}
        if uncertainties is not None:
            meta["uncertainty"] = round(float(uncertainties[int(pos)]), 4)
        task: dict[str, Any] = {"data": data, "meta": meta}
        if predictions is not None:
            result, scores = [], []
            for h in MODEL_HEADS:
                p = predictions.proba[h][int(pos)]
                best = int(np.argmax(p))
                result.append(_choice_result(h, predictions.classes[h][best], p[best]))
                scores.append(float(p[best]))
            rule = row.get("initiated_by")
            if not is_missing(rule) and str(rule) in LABEL_SETS["initiated_by"]:
                result.append(_choice_result("initiated_by", str(rule)))
            task["predictions"] = [
                {
                    "model_version": predictions.model_version,
                    # the chance that both heads are right, if independent: low = worth a look
                    "score": round(float(np.prod(scores)), 4),
                    "result": result,
                }
            ]
        tasks.append(task)
    return tasks


@dataclass
class ExportResult:
    """What an export wrote."""

    n_pool: int
    n_excluded: int
    n_tasks: int
    strategy: str
    seed: int
    model_version: str | None
    outputs: dict[str, str] = field(default_factory=dict)
    label_mix: dict[str, dict[str, int]] = field(default_factory=dict)


def export_tasks(
    sources: Sequence[str | os.PathLike[str]],
    *,
    n: int,
    out_dir: str | os.PathLike[str],
    strategy: str = "uncertainty",
    model: str | os.PathLike[str] | None = None,
    exclude: Sequence[str | os.PathLike[str]] = (),
    seed: int = 0,
    status: Callable[[str], None] | None = None,
) -> ExportResult:
    """Pick ``n`` entries to label with ``strategy`` and write Label Studio tasks, the labeling
    config and a manifest into ``out_dir`` (see the module docstring).

    Probabilities (for ``uncertainty``, the stratified strata and the pre-annotations) come
    from ``model`` when given, else from a scored input's ``p_*`` columns; ``uncertainty``
    without either raises :class:`~pipeline.errors.ConfigError`. ``exclude``: earlier task
    files, exports or labelled files whose contact ids are never picked again.
    """
    say = status or (lambda _msg: None)
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown --strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if n < 1:
        raise ConfigError(f"--n must be at least 1, not {n}")
    say("reading entries")
    pool = read_pool(sources)
    if model is not None:
        say("predicting with the model")
        preds: Predictions | None = predict_pool(pool, model)
    else:
        preds = _proba_from_scored(pool)
    if strategy == "uncertainty" and preds is None:
        raise ConfigError(
            "the uncertainty strategy needs a model's probabilities: pass --model, or give the "
            "scored output of oversight score"
        )
    done = labelled_ids(exclude)
    mask = pool["contact_id"].isin(done).to_numpy()
    unc = None
    if preds is not None:
        from pipeline.annotate.sampling import uncertainty

        unc = uncertainty(preds.proba["oversight_type"], preds.proba["content"])
    positions = select(
        n,
        strategy=strategy,
        type_proba=preds.proba["oversight_type"] if preds is not None else None,
        content_proba=preds.proba["content"] if preds is not None else None,
        strata=_strata(pool, preds) if strategy == "stratified" else None,
        exclude=mask,
        seed=seed,
        n_rows=len(pool),
    )
    say("writing tasks")
    tasks = build_tasks(pool, positions, predictions=preds, strategy=strategy, uncertainties=unc)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "tasks": out / TASKS_FILE,
        "labeling_config": out / CONFIG_FILE,
        "manifest": out / MANIFEST_FILE,
    }
    _write_atomic(paths["tasks"], json.dumps(tasks, indent=1, ensure_ascii=False) + "\n")
    _write_atomic(paths["labeling_config"], labeling_config())
    mix: dict[str, dict[str, int]] = {}
    if preds is not None and len(positions):
        for h in MODEL_HEADS:
            best = preds.proba[h][positions].argmax(axis=1)
            labels = np.asarray(preds.classes[h], dtype=object)[best]
            mix[h] = {str(k): int(v) for k, v in pd.Series(labels).value_counts().items()}
    result = ExportResult(
        n_pool=len(pool),
        n_excluded=int(mask.sum()),
        n_tasks=len(tasks),
        strategy=strategy,
        seed=seed,
        model_version=preds.model_version if preds is not None else None,
        outputs={k: str(v) for k, v in paths.items()},
        label_mix=mix,
    )
    manifest = {
        **asdict(result),
        "inputs": [str(s) for s in sources],
        "model": str(model) if model is not None else None,
        "task_ids": [t["data"]["task_id"] for t in tasks],
        "version": __version__,
    }
    _write_atomic(paths["manifest"], json.dumps(manifest, indent=2) + "\n")
    if len(tasks) < n:
        log.warning("only %d of %d asked-for entries were left to label", len(tasks), n)
    return result


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, path)


# --- import ------------------------------------------------------------------------------------


def _annotator(completed_by: Any) -> str:
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("id", completed_by.get("email"))
    return "unknown" if is_missing(completed_by) else str(completed_by)


def _task_error(
    message: str, *, path: str, pos: int, tid: Any, field: str | None
) -> AnnotationTaskError:
    shown = f"task {tid}: " if tid is not None else ""
    return AnnotationTaskError(shown + message, path=path, row=pos, field=field)


def _read_results(
    result: Any, config: LabelingConfig, *, path: str, pos: int, tid: Any
) -> dict[str, str]:
    """An annotation's labels, every choice checked against the labeling config."""
    out: dict[str, str] = {}
    if not isinstance(result, list):
        raise _task_error(
            "annotation 'result' is not a list", path=path, pos=pos, tid=tid, field="result"
        )
    for item in result:
        if not isinstance(item, dict) or item.get("type") != "choices":
            continue  # other controls (a comment box, say) carry no label of ours
        name = item.get("from_name")
        if name not in config.choices:
            raise _task_error(
                f"from_name {name!r} is not a Choices tag of the labeling config "
                f"({', '.join(config.choices)})",
                path=path,
                pos=pos,
                tid=tid,
                field=str(name),
            )
        if item.get("to_name") not in config.text_names:
            raise _task_error(
                f"to_name {item.get('to_name')!r} is not a Text tag of the labeling config",
                path=path,
                pos=pos,
                tid=tid,
                field=name,
            )
        value = item.get("value")
        picked = value.get("choices") if isinstance(value, dict) else None
        if not isinstance(picked, list):
            raise _task_error(
                "result has no value.choices list", path=path, pos=pos, tid=tid, field=name
            )
        bad = [c for c in picked if c not in config.choices[name]]
        if bad:
            shown = ", ".join(repr(str(c)[:40]) for c in bad)
            raise UnknownLabelError(
                f"task {tid}: choice {shown} is not offered by the labeling config for {name} "
                f"({', '.join(config.choices[name])})",
                path=path,
                row=pos,
                field=name,
            )
        if len(picked) > 1 and config.single.get(name, True):
            raise _task_error(
                f"{len(picked)} {name} choices where the config allows one",
                path=path,
                pos=pos,
                tid=tid,
                field=name,
            )
        if name in out:
            raise _task_error(
                f"two {name} results in one annotation", path=path, pos=pos, tid=tid, field=name
            )
        if picked:
            out[name] = picked[0]
    return out


def read_export(
    path: str | os.PathLike[str], *, config: LabelingConfig | None = None
) -> pd.DataFrame:
    """One Label Studio JSON export as the long annotation frame: one row per (task, user)
    with ``task_id``, ``ls_id``, ``contact_id``, ``case``, ``annotator``, ``user``,
    ``updated_at``, the ``text`` (redacted again: an export comes from outside the pipeline)
    and the fields' labels.

    Cancelled (skipped) annotations and tasks without annotations are left out. Every task
    needs ``data.contact_id`` and ``data.text``; every choice must be one the labeling config
    offers, under a ``from_name`` it has.
    """
    cfg = config or load_labeling_config()
    p = Path(path)
    tasks = read_label_studio_tasks(p)
    rows = []
    for pos, task in enumerate(tasks, 1):
        tid = task.get("id") if isinstance(task, dict) else None
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise _task_error(
                "task has no 'data' object (export the project as JSON, not JSON-MIN or CSV)",
                path=str(p),
                pos=pos,
                tid=tid,
                field="data",
            )
        data = task["data"]
        cid = data.get("contact_id")
        if is_missing(cid):
            raise _task_error(
                "task has no data.contact_id, so its labels cannot be matched to an entry "
                "(export tasks with oversight annotate export)",
                path=str(p),
                pos=pos,
                tid=tid,
                field="data.contact_id",
            )
        if is_missing(data.get(TEXT_NAME)):
            raise _task_error(
                "task has no data.text", path=str(p), pos=pos, tid=tid, field="data.text"
            )
        ours = data.get("task_id")
        if not is_missing(ours) and str(ours) != task_id(cid):
            raise _task_error(
                "data.task_id does not belong to data.contact_id (was the task edited?)",
                path=str(p),
                pos=pos,
                tid=tid,
                field="data.task_id",
            )
        annotations = task.get("annotations")
        if annotations is None:
            annotations = task.get("completions") or []  # exports of Label Studio < 1.0
        if not isinstance(annotations, list):
            raise _task_error(
                "'annotations' is not a list", path=str(p), pos=pos, tid=tid, field="annotations"
            )
        for ann in annotations:
            if not isinstance(ann, dict) or ann.get("was_cancelled"):
                continue
            labels = _read_results(ann.get("result"), cfg, path=str(p), pos=pos, tid=tid)
            if not labels:
                continue
            rows.append(
                {
                    "task_id": task_id(cid),
                    "ls_id": None if tid is None else str(tid),
                    "contact_id": str(cid),
                    "case": None if is_missing(data.get("case")) else str(data["case"]),
                    "user": _annotator(ann.get("completed_by")),
                    "updated_at": str(ann.get("updated_at") or ann.get("created_at") or ""),
                    "annotation_id": ann.get("id"),
                    TEXT_NAME: str(data[TEXT_NAME]),
                    "source": p.name,
                    **{f: labels.get(f) for f in FIELDS},
                }
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "task_id", "ls_id", "contact_id", "case", "user", "updated_at", "annotation_id",
            TEXT_NAME, "source", *FIELDS,
        ],
    )  # fmt: skip
    # one person's file is named by its stem; a shared project's export by stem and user
    one_user = frame["user"].nunique() <= 1
    frame["annotator"] = [p.stem if one_user else f"{p.stem}:{u}" for u in frame["user"]]
    # an export comes back from outside the pipeline: redact again before anything is kept
    frame[TEXT_NAME] = redact_texts(frame[TEXT_NAME].tolist())
    return frame


def read_exports(
    paths: Sequence[str | os.PathLike[str]], *, config: LabelingConfig | None = None
) -> pd.DataFrame:
    """Several exports as one annotation frame, one row per (task, annotator): where an
    annotator labelled a task twice, the latest annotation (by ``updated_at``) counts."""
    if not paths:
        raise LabelledDataError("no Label Studio export given")
    frames = [read_export(p, config=config) for p in paths]
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        raise LabelledDataError(
            "no annotation found in the export(s)", path=", ".join(str(p) for p in paths)
        )
    frame = frame.sort_values("updated_at", kind="stable")
    frame = frame.drop_duplicates(["task_id", "annotator"], keep="last")
    # back to the order tasks first appeared in, so outputs follow the export
    first = {t: i for i, t in enumerate(pd.unique(pd.concat(frames)["task_id"]))}
    frame = frame.sort_values("task_id", key=lambda s: s.map(first), kind="stable")
    return frame.reset_index(drop=True)


@dataclass
class ImportResult:
    """What an import read and wrote."""

    n_exports: int
    n_annotations: int
    n_tasks: int
    n_labelled: int
    n_disagreements: int
    n_adjudicated: int
    annotators: list[str]
    agreement: dict[str, Any]
    resolutions: dict[str, dict[str, int]]
    outputs: dict[str, str] = field(default_factory=dict)


def import_annotations(
    exports: Sequence[str | os.PathLike[str]],
    *,
    out_dir: str | os.PathLike[str],
    config: str | os.PathLike[str] | None = None,
    adjudicated: str | os.PathLike[str] | None = None,
) -> ImportResult:
    """Read Label Studio exports, measure agreement, resolve final labels and write
    ``labelled.parquet``, ``agreement.json`` and ``adjudication.csv`` into ``out_dir``.

    ``config``: the project's labeling config (default: ours); ``adjudicated``: a filled-in
    adjudication table whose ``final_*`` labels override the vote.
    """
    cfg = load_labeling_config(config)
    annotations = read_exports(exports, config=cfg)
    report = agreement.agreement_report(annotations)
    table = agreement.disagreements(annotations)
    decided: dict[str, dict[str, str]] = {}
    if adjudicated is not None:
        a = Path(adjudicated)
        try:
            filled = pd.read_csv(a, dtype=str, keep_default_na=False, na_values=[""])
        except (OSError, ValueError) as exc:
            raise LabelledDataError(
                f"cannot read the adjudication file ({type(exc).__name__})", path=str(a)
            ) from None
        decided = agreement.read_adjudication(filled, path=str(a))
        unknown = set(decided) - set(annotations["task_id"])
        if unknown:
            raise LabelledDataError(
                f"{len(unknown)} adjudicated task id(s) are in none of the exports, e.g. "
                f"{sorted(unknown)[0]}",
                path=str(a),
                field="task_id",
            )
    final = agreement.resolve(annotations, adjudicated=decided)
    labelled = final[final["oversight_type"].notna() | final["content"].notna()]
    labelled = pd.DataFrame(
        {
            "task_id": labelled["task_id"],
            "contact_id": labelled["contact_id"],
            # the loader groups by this column: the case pseudonym keeps a case in one split
            "crn": labelled["case"],
            TEXT_NAME: labelled[TEXT_NAME],
            **{f: labelled[f] for f in FIELDS},
            **{f"{f}_resolution": labelled[f"{f}_resolution"] for f in FIELDS},
            "n_annotators": labelled["n_annotators"],
        }
    ).reset_index(drop=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "labelled": out / LABELLED_FILE,
        "agreement": out / AGREEMENT_FILE,
        "adjudication": out / ADJUDICATION_FILE,
    }
    tmp = paths["labelled"].with_name(LABELLED_FILE + ".tmp")
    labelled.to_parquet(tmp, index=False)
    os.replace(tmp, paths["labelled"])
    tmp = paths["adjudication"].with_name(ADJUDICATION_FILE + ".tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, paths["adjudication"])
    resolutions = {
        f: {str(k): int(v) for k, v in final[f"{f}_resolution"].value_counts().items()}
        for f in FIELDS
    }
    report["resolutions"] = resolutions
    report["inputs"] = [str(e) for e in exports]
    report["adjudicated_from"] = str(adjudicated) if adjudicated is not None else None
    _write_atomic(paths["agreement"], json.dumps(report, indent=2) + "\n")
    return ImportResult(
        n_exports=len(exports),
        n_annotations=len(annotations),
        n_tasks=int(annotations["task_id"].nunique()),
        n_labelled=len(labelled),
        n_disagreements=len(table),
        n_adjudicated=len(decided),
        annotators=report["annotators"],
        agreement=report,
        resolutions=resolutions,
        outputs={k: str(v) for k, v in paths.items()},
    )
