"""The validated confusion matrices the measures are adjusted with.

``oversight evaluate`` writes ``metrics.json`` with, per head, ``labels`` and ``confusion`` (rows
true, columns predicted). The initiator is not a model head (rules give it), so its confusion can
come from a labelled export instead: :func:`initiator_confusion` compares the rules' initiator on
a scored (or prepared) labelled export with the truth in the ``labels.parquet`` beside it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import ValidationFileError
from pipeline.labels import CONTENT_LABELS, INITIATORS, OVERSIGHT_TYPES

#: Each adjusted label's classes, in the order the measures use.
LABEL_CLASSES: dict[str, tuple[str, ...]] = {
    "oversight_type": OVERSIGHT_TYPES,
    "content": CONTENT_LABELS,
    "initiated_by": INITIATORS,
}


@dataclass
class Validation:
    """Confusion counts (rows true, columns predicted, in :data:`LABEL_CLASSES` order) and the
    validation scores reported beside the measures; a head absent here is not adjusted."""

    confusions: dict[str, np.ndarray] = field(default_factory=dict)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)


def _reorder(labels: Sequence[str], counts: np.ndarray, head: str, path: str) -> np.ndarray:
    wanted = LABEL_CLASSES[head]
    unknown = [lab for lab in labels if lab not in wanted]
    if unknown:
        raise ValidationFileError(
            f"the {head} confusion has a label outside the scheme", path=path, field=head
        )
    idx = [list(labels).index(w) if w in labels else -1 for w in wanted]
    out = np.zeros((len(wanted), len(wanted)))
    for i, a in enumerate(idx):
        for j, b in enumerate(idx):
            if a >= 0 and b >= 0:
                out[i, j] = counts[a, b]
    return out


def scores_from_confusion(counts: np.ndarray) -> dict[str, Any]:
    """Accuracy, macro-F1 (over classes present in truth or prediction) and n of a confusion."""
    c = np.asarray(counts, dtype=float)
    n = float(c.sum())
    tp = np.diag(c)
    prec_den, rec_den = c.sum(axis=0), c.sum(axis=1)
    present = (prec_den + rec_den) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(prec_den + rec_den > 0, 2 * tp / (prec_den + rec_den), 0.0)
    return {
        "macro_f1": float(f1[present].mean()) if present.any() else None,
        "accuracy": float(tp.sum() / n) if n else None,
        "n": int(n),
    }


def load_validation(path: str | Path | None) -> Validation:
    """Confusions and scores from an evaluation's ``metrics.json`` (or its folder); an empty
    :class:`Validation` when ``path`` is None."""
    out = Validation()
    if path is None:
        return out
    p = Path(path)
    if p.is_dir():
        p = p / "metrics.json"
    if not p.is_file():
        raise ValidationFileError(
            "no validation metrics; run `oversight evaluate` first or pass --no-adjust", path=str(p)
        )
    try:
        data = json.loads(p.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationFileError(
            f"cannot read the validation metrics ({type(exc).__name__})", path=str(p)
        ) from None
    for head in LABEL_CLASSES:
        block = data.get(head) if isinstance(data, dict) else None
        if not isinstance(block, dict) or "confusion" not in block or "labels" not in block:
            continue
        try:
            counts = np.asarray(block["confusion"], dtype=float)
            labels = [str(v) for v in block["labels"]]
            if counts.shape != (len(labels), len(labels)):
                raise ValueError
        except (TypeError, ValueError):
            raise ValidationFileError(
                "the confusion is not a square matrix matching its labels",
                path=str(p),
                field=head,
            ) from None
        out.confusions[head] = _reorder(labels, counts, head, str(p))
        out.scores[head] = {
            "macro_f1": block.get("macro_f1"),
            "accuracy": block.get("accuracy"),
            "n": block.get("n", int(counts.sum())),
        }
        out.sources[head] = str(p)
    return out


def _labels_beside(source: str) -> Path | None:
    p = Path(source)
    for folder in (p.parent, p.parent.parent):
        if (folder / "labels.parquet").is_file():
            return folder / "labels.parquet"
    return None


def initiator_confusion(path: str | Path) -> np.ndarray:
    """Confusion counts of the rules' initiator (rows true, columns predicted) on a labelled
    export: ``path`` is a scored or prepared entries Parquet whose ``source_file`` lies in a
    generator folder (``labels.parquet`` beside it), or a JSON file holding
    ``{"initiated_by": {"labels": [...], "confusion": [[...]]}}``. Entries the truth says are not
    oversight are left out."""
    p = Path(path)
    if not p.is_file():
        raise ValidationFileError("no such initiator validation file", path=str(p))
    if p.suffix.lower() == ".json":
        found = load_validation(p).confusions.get("initiated_by")
        if found is None:
            raise ValidationFileError(
                "no initiated_by confusion in the file", path=str(p), field="initiated_by"
            )
        return found
    try:
        entries = pd.read_parquet(p, columns=["contact_id", "initiated_by", "source_file"])
    except (OSError, ValueError, KeyError) as exc:
        raise ValidationFileError(
            f"cannot read the labelled entries ({type(exc).__name__}); need contact_id, "
            "initiated_by and source_file",
            path=str(p),
        ) from None
    truth = []
    for source in entries["source_file"].dropna().unique():
        labels_path = _labels_beside(str(source))
        if labels_path is None:
            raise ValidationFileError(
                "no labels.parquet beside the export these entries came from",
                path=str(source),
            )
        truth.append(
            pd.read_parquet(labels_path, columns=["contact_id", "is_oversight", "initiated_by"])
        )
    if not truth:
        raise ValidationFileError("no labelled entries to validate the initiator on", path=str(p))
    t = pd.concat(truth, ignore_index=True).drop_duplicates("contact_id")
    t = t.loc[t["is_oversight"].fillna(False).astype(bool)]
    m = entries.merge(t, on="contact_id", suffixes=("_pred", "_true"))
    labels = LABEL_CLASSES["initiated_by"]
    lookup = {lab: i for i, lab in enumerate(labels)}
    yt = m["initiated_by_true"].map(lookup)
    yp = m["initiated_by_pred"].map(lookup)
    ok = yt.notna() & yp.notna()
    counts = np.zeros((len(labels), len(labels)))
    np.add.at(counts, (yt[ok].astype(int).to_numpy(), yp[ok].astype(int).to_numpy()), 1)
    if counts.sum() == 0:
        raise ValidationFileError("no labelled entries matched the truth", path=str(p))
    return counts
