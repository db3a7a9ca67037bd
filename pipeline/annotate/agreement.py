"""How far annotators agree, where they disagree, and which label each entry ends up with.

Input is the long annotation frame that :func:`pipeline.annotate.labelstudio.read_exports`
makes: one row per (task, annotator) with a column per labelled field (``oversight_type``,
``content``, ``initiated_by``; None where the annotator left it empty).

* :func:`cohen_kappa`: Cohen's kappa for two annotators on the items both labelled,
  (p_o - p_e) / (1 - p_e) with p_e from each annotator's own label shares (Cohen 1960).
* :func:`krippendorff_alpha`: Krippendorff's alpha for nominal data, any number of annotators,
  missing values allowed, from the coincidence matrix as in Krippendorff (2011), "Computing
  Krippendorff's Alpha-Reliability", University of Pennsylvania, sections B-C:
  alpha = 1 - (n - 1) * sum_{c != k} o_ck / sum_{c != k} n_c * n_k.
* :func:`agreement_report`: kappa for every annotator pair and field, alpha per field, and
  per-label disagreement counts.
* :func:`disagreements`: the adjudication table (one row per task on which annotators differ).
* :func:`resolve`: the final label per task and field: an adjudicator's decision where there is
  one, else the annotators' label when they agree, else a strict majority, else none (a tie is
  left for adjudication rather than guessed).

Rules of thumb for reading the figures (Landis and Koch 1977 for kappa; Krippendorff 2004 for
alpha): alpha >= 0.8 is reliable, 0.667-0.8 allows tentative conclusions only.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from pipeline.datasets import LABEL_SETS, normalise_label
from pipeline.schema import is_missing

#: The fields annotators label, in the order reports show them.
FIELDS: tuple[str, ...] = tuple(LABEL_SETS)
#: How a task's final label came about.
RESOLUTIONS: tuple[str, ...] = ("single", "unanimous", "majority", "adjudicated", "unresolved")


def _present(value: Any) -> bool:
    return not is_missing(value)


# --- coefficients ------------------------------------------------------------------------------


def cohen_kappa(a: Sequence[Hashable | None], b: Sequence[Hashable | None]) -> float:
    """Cohen's kappa of two annotators' labels for the same items.

    Items that either annotator left empty (None / NaN / "") are dropped. Returns NaN when no
    item is left, or when chance agreement is already perfect (both gave one and the same label
    to everything: kappa is undefined there, not 1).
    """
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: {len(a)} labels against {len(b)}")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if _present(x) and _present(y)]
    n = len(pairs)
    if n == 0:
        return math.nan
    p_o = sum(x == y for x, y in pairs) / n
    count_a = Counter(x for x, _ in pairs)
    count_b = Counter(y for _, y in pairs)
    p_e = sum(count_a[k] * count_b.get(k, 0) for k in count_a) / (n * n)
    if math.isclose(p_e, 1.0):
        return math.nan
    return (p_o - p_e) / (1.0 - p_e)


def coincidence_matrix(
    units: Iterable[Sequence[Hashable | None]],
) -> tuple[list[Hashable], np.ndarray]:
    """Krippendorff's coincidence matrix of nominal values: (values, o) with o[c, k] the
    number of c-k pairs of values within units, each unit's pairs weighted 1 / (m_u - 1).

    ``units``: for each unit (item), the values its annotators gave (None where one did not).
    Units with fewer than two values are not pairable and are left out.
    """
    kept = [[v for v in unit if _present(v)] for unit in units]
    kept = [u for u in kept if len(u) >= 2]
    values = sorted({v for u in kept for v in u}, key=str)
    index = {v: i for i, v in enumerate(values)}
    o = np.zeros((len(values), len(values)))
    for unit in kept:
        m = len(unit)
        counts = Counter(unit)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                # ordered pairs of different annotators: n_c * n_k, less the self-pairs when c == k
                pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                o[index[c], index[k]] += pairs / (m - 1)
    return values, o


def krippendorff_alpha(units: Iterable[Sequence[Hashable | None]]) -> float:
    """Krippendorff's alpha for nominal data (Krippendorff 2011, sections B-C).

    ``units``: for each unit (item), the values its annotators gave, None where an annotator
    gave none (any number of annotators; a reliability-data matrix transposed). Returns NaN
    when fewer than two pairable values exist or only one value was ever used (no variation to
    be reliable about).
    """
    _, o = coincidence_matrix(units)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if n < 2:
        return math.nan
    observed = o.sum() - np.trace(o)
    expected = n_c.sum() ** 2 - (n_c**2).sum()  # sum over c != k of n_c * n_k
    if expected == 0:
        return math.nan
    return float(1.0 - (n - 1) * observed / expected)


# --- on the annotation frame --------------------------------------------------------------------


def _wide(annotations: pd.DataFrame, field: str) -> pd.DataFrame:
    """Tasks x annotators table of one field's labels (None where missing), tasks in the order
    they first appear."""
    tasks = pd.unique(annotations["task_id"])
    annotators = sorted(pd.unique(annotations["annotator"]), key=str)
    cells: dict[Any, dict[Any, Any]] = {a: dict.fromkeys(tasks) for a in annotators}
    for t, a, v in zip(
        annotations["task_id"], annotations["annotator"], annotations[field], strict=True
    ):
        cells[a][t] = None if is_missing(v) else v
    return pd.DataFrame(cells, index=tasks, columns=annotators, dtype=object)


def _labels(values: Iterable[Any]) -> list[Any]:
    """The labels actually given (empty cells dropped)."""
    return [v for v in values if _present(v)]


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def pairwise_kappa(annotations: pd.DataFrame, field: str) -> pd.DataFrame:
    """Cohen's kappa for every pair of annotators on ``field``: one row per pair with the
    number of tasks both labelled, their observed agreement and kappa (NaN when undefined)."""
    wide = _wide(annotations, field)
    rows = []
    for a, b in combinations(sorted(wide.columns, key=str), 2):
        both = wide[[a, b]].dropna()
        n = len(both)
        rows.append(
            {
                "field": field,
                "annotator_a": a,
                "annotator_b": b,
                "n_tasks": n,
                "observed_agreement": float((both[a] == both[b]).mean()) if n else math.nan,
                "kappa": cohen_kappa(both[a].tolist(), both[b].tolist()),
            }
        )
    columns = ["field", "annotator_a", "annotator_b", "n_tasks", "observed_agreement", "kappa"]
    return pd.DataFrame(rows, columns=columns)


def field_alpha(annotations: pd.DataFrame, field: str) -> float:
    """Krippendorff's alpha (nominal) of ``field`` over all tasks and annotators."""
    wide = _wide(annotations, field)
    return krippendorff_alpha(wide.itertuples(index=False, name=None))


def per_label_disagreement(annotations: pd.DataFrame, field: str) -> pd.DataFrame:
    """For each label of ``field``, on tasks labelled by two or more annotators: how often it
    was chosen, on how many tasks, on how many of those the annotators disagreed, and the label
    it was most often confused with."""
    wide = _wide(annotations, field)
    chosen: Counter = Counter()
    tasks: Counter = Counter()
    disputed: Counter = Counter()
    confused: dict[str, Counter] = {}
    for row in wide.itertuples(index=False, name=None):
        labels = _labels(row)
        if len(labels) < 2:
            continue
        counts = Counter(labels)
        chosen.update(labels)
        tasks.update(counts.keys())
        if len(counts) > 1:
            disputed.update(counts.keys())
            for lab in counts:
                others = Counter({k: v for k, v in counts.items() if k != lab})
                confused.setdefault(lab, Counter()).update(others)
    rows = []
    for lab in LABEL_SETS[field]:
        n_tasks = tasks.get(lab, 0)
        top = confused.get(lab, Counter()).most_common(1)
        rows.append(
            {
                "field": field,
                "label": lab,
                "times_chosen": chosen.get(lab, 0),
                "tasks": n_tasks,
                "tasks_disagreed": disputed.get(lab, 0),
                "disagreement_rate": disputed.get(lab, 0) / n_tasks if n_tasks else math.nan,
                "most_confused_with": top[0][0] if top else None,
            }
        )
    return pd.DataFrame(rows)


def agreement_report(
    annotations: pd.DataFrame, *, fields: Sequence[str] = FIELDS
) -> dict[str, Any]:
    """Agreement per field: alpha overall, kappa for each annotator pair, per-label
    disagreement; with the counts behind them. JSON-ready (NaN becomes None)."""
    annotators = sorted(annotations["annotator"].unique(), key=str)
    per_task = annotations.groupby("task_id", sort=False)["annotator"].nunique()
    out: dict[str, Any] = {
        "annotators": [str(a) for a in annotators],
        "n_tasks": int(len(per_task)),
        "n_tasks_multi": int((per_task >= 2).sum()),
        "n_annotations": int(len(annotations)),
        "fields": {},
    }
    for field in fields:
        labelled = annotations[annotations[field].notna()]
        kappas = pairwise_kappa(annotations, field)
        per_label = per_label_disagreement(annotations, field)
        out["fields"][field] = {
            "n_annotations": int(len(labelled)),
            "krippendorff_alpha": _clean(field_alpha(annotations, field)),
            "cohen_kappa": [
                {k: _clean(v) if isinstance(v, float) else v for k, v in rec.items()}
                for rec in kappas.drop(columns="field").to_dict("records")
            ],
            "per_label": [
                {k: _clean(v) if isinstance(v, float) else v for k, v in rec.items()}
                for rec in per_label.drop(columns="field").to_dict("records")
            ],
        }
    return out


# --- disagreements and final labels -------------------------------------------------------------


def _majority(labels: Sequence[str]) -> tuple[str | None, str]:
    """The label and how it was reached, from one task's non-empty labels."""
    if not labels:
        return None, "unresolved"
    counts = Counter(labels).most_common()
    if len(counts) == 1:
        return counts[0][0], "single" if len(labels) == 1 else "unanimous"
    if counts[0][1] > counts[1][1]:
        return counts[0][0], "majority"
    return None, "unresolved"


def _task_meta(annotations: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in ("task_id", "contact_id", "case", "text") if c in annotations.columns]
    return annotations[keep].drop_duplicates("task_id").set_index("task_id")


def disagreements(annotations: pd.DataFrame, *, fields: Sequence[str] = FIELDS) -> pd.DataFrame:
    """The adjudication table: one row per task on which two annotators gave different labels
    for some field. Columns: task_id, contact_id, case, fields_disagreed, then per field each
    annotator's label (``<field>:<annotator>``) and the majority label (``majority_<field>``,
    empty on a tie), an empty ``final_<field>`` for the adjudicator, and the redacted text."""
    meta = _task_meta(annotations)
    annotators = sorted(annotations["annotator"].unique(), key=str)
    wides = {f: _wide(annotations, f) for f in fields}
    rows = []
    for task_id in meta.index:
        disputed = []
        record: dict[str, Any] = {"task_id": task_id}
        for f in fields:
            labels = _labels(wides[f].loc[task_id])
            if len(set(labels)) > 1:
                disputed.append(f)
        if not disputed:
            continue
        record["contact_id"] = meta.at[task_id, "contact_id"] if "contact_id" in meta else None
        record["case"] = meta.at[task_id, "case"] if "case" in meta else None
        record["fields_disagreed"] = ";".join(disputed)
        for f in fields:
            row = wides[f].loc[task_id]
            for a in annotators:
                record[f"{f}:{a}"] = row.get(a)
            record[f"majority_{f}"] = _majority(_labels(row))[0]
            record[f"final_{f}"] = None
        record["text"] = meta.at[task_id, "text"] if "text" in meta else None
        rows.append(record)
    columns = ["task_id", "contact_id", "case", "fields_disagreed"]
    for f in fields:
        columns += [f"{f}:{a}" for a in annotators] + [f"majority_{f}", f"final_{f}"]
    columns.append("text")
    return pd.DataFrame(rows, columns=columns)


def read_adjudication(
    frame: pd.DataFrame, *, path: str, fields: Sequence[str] = FIELDS
) -> dict[str, dict[str, str]]:
    """An adjudicator's decisions from a filled-in adjudication table:
    ``{task_id: {field: label}}`` for every non-empty ``final_<field>`` cell, checked against
    the scheme (an unknown label raises naming the file, row and field)."""
    if "task_id" not in frame.columns:
        from pipeline.errors import LabelledDataError

        raise LabelledDataError("adjudication file has no 'task_id' column", path=path)
    out: dict[str, dict[str, str]] = {}
    for row_no, rec in enumerate(frame.to_dict("records"), 1):
        for f in fields:
            label = normalise_label(rec.get(f"final_{f}"), f, path=path, row=row_no)
            if label is not None:
                out.setdefault(str(rec["task_id"]), {})[f] = label
    return out


def resolve(
    annotations: pd.DataFrame,
    *,
    adjudicated: Mapping[str, Mapping[str, str]] | None = None,
    fields: Sequence[str] = FIELDS,
) -> pd.DataFrame:
    """One row per task with its final label per field and how it was reached
    (``<field>_resolution``: one of :data:`RESOLUTIONS`), plus the number of annotators."""
    adjudicated = adjudicated or {}
    meta = _task_meta(annotations)
    wides = {f: _wide(annotations, f) for f in fields}
    n_annotators = annotations.groupby("task_id", sort=False)["annotator"].nunique()
    rows = []
    for task_id in meta.index:
        record: dict[str, Any] = {"task_id": task_id, **meta.loc[task_id].to_dict()}
        decided = adjudicated.get(str(task_id), {})
        for f in fields:
            labels = _labels(wides[f].loc[task_id])
            if f in decided:
                label, how = decided[f], "adjudicated"
            else:
                label, how = _majority(labels)
            record[f] = label
            record[f"{f}_resolution"] = how if labels or f in decided else None
        record["n_annotators"] = int(n_annotators[task_id])
        rows.append(record)
    frame = pd.DataFrame(rows).astype(object)
    return frame.where(frame.notna(), None)
