"""Measure the nlp step against ground truth (the synthetic export's labels file).

* :func:`score_redaction` - PII recall and precision per kind.
* :func:`score_detection` - oversight detection precision, recall and F1.
* :func:`score_initiator` - initiated_by accuracy on the true oversight contacts.
* :func:`score_attributes` - per-attribute accuracy, precision, recall and F1.
* :func:`evaluate_export` - run :func:`pipeline.nlp.process` over an export and score it all.

Definitions (a gold span is personal data the labels say is in ``notes``):

* recall (per gold kind): share of gold spans whose every non-space character lies inside some
  predicted span, of any kind (redacted is redacted); ``char_recall`` is the share of gold
  characters covered, ``any_overlap_recall`` the share of gold spans touched at all.
* precision (per predicted kind): share of predicted spans that overlap some gold span;
  ``kind_agreement`` is the share of those whose overlapping gold span has the same kind.

Only counts and rates are returned: no note text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.labels import ATTRIBUTES, INITIATORS, PII_KINDS

Span = tuple[int, int, str]


def _spans(value: Any) -> list[Span]:
    """Spans from a list or a JSON string ``[[start, end, kind], ...]`` (None/'' -> [])."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = json.loads(value)
    return [(int(s), int(e), str(k)) for s, e, k in value]


def _covered(s: int, e: int, pred: Sequence[Span], text: str | None) -> tuple[int, int]:
    """(covered, total) count of characters of [s, e) that lie inside predicted spans; with
    ``text`` whitespace characters are not counted."""
    total = covered = 0
    for i in range(s, e):
        if text is not None and i < len(text) and text[i].isspace():
            continue
        total += 1
        if any(ps <= i < pe for ps, pe, _ in pred):
            covered += 1
    return covered, total


@dataclass
class KindScore:
    gold: int = 0
    caught: int = 0
    touched: int = 0
    gold_chars: int = 0
    covered_chars: int = 0
    predicted: int = 0
    correct: int = 0
    same_kind: int = 0

    def as_dict(self) -> dict[str, float | int]:
        def rate(a: int, b: int) -> float:
            return a / b if b else float("nan")

        return {
            "gold": self.gold,
            "recall": rate(self.caught, self.gold),
            "char_recall": rate(self.covered_chars, self.gold_chars),
            "any_overlap_recall": rate(self.touched, self.gold),
            "predicted": self.predicted,
            "precision": rate(self.correct, self.predicted),
            "kind_agreement": rate(self.same_kind, self.correct),
        }


@dataclass
class RedactionScores:
    by_kind: dict[str, KindScore] = field(
        default_factory=lambda: {k: KindScore() for k in PII_KINDS}
    )
    #: per-document misses, as (document index, kind, start, end) - offsets only, no text
    misses: list[tuple[int, str, int, int]] = field(default_factory=list)
    false_positives: list[tuple[int, str, int, int]] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float | int]]:
        out = {k: v.as_dict() for k, v in self.by_kind.items()}
        tot = KindScore()
        for v in self.by_kind.values():
            for f in tot.__dataclass_fields__:
                setattr(tot, f, getattr(tot, f) + getattr(v, f))
        out["ALL"] = tot.as_dict()
        return out


def score_redaction(
    gold: Iterable[Any],
    pred: Iterable[Any],
    texts: Iterable[str | None] | None = None,
) -> RedactionScores:
    """Score predicted PII spans against gold spans, document by document.

    ``gold`` and ``pred`` yield, per document, a list of ``(start, end, kind)`` or its JSON;
    ``texts`` (optional) lets whitespace inside spans be ignored.
    """
    scores = RedactionScores()
    text_iter = iter(texts) if texts is not None else None
    for doc_i, (g_raw, p_raw) in enumerate(zip(gold, pred, strict=True)):
        text = next(text_iter) if text_iter is not None else None
        g, p = _spans(g_raw), _spans(p_raw)
        for s, e, k in g:
            ks = scores.by_kind.setdefault(k, KindScore())
            covered, total = _covered(s, e, p, text)
            ks.gold += 1
            ks.gold_chars += total
            ks.covered_chars += covered
            ks.caught += covered == total
            ks.touched += covered > 0
            if covered < total:
                scores.misses.append((doc_i, k, s, e))
        for s, e, k in p:
            ks = scores.by_kind.setdefault(k, KindScore())
            ks.predicted += 1
            hits = [gk for gs, ge, gk in g if gs < e and s < ge]
            if hits:
                ks.correct += 1
                ks.same_kind += k in hits
            else:
                scores.false_positives.append((doc_i, k, s, e))
    return scores


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f = 2 * p * r / (p + r) if tp else 0.0
    return {"precision": p, "recall": r, "f1": f}


def score_detection(y_true: Iterable[bool], y_pred: Iterable[bool]) -> dict[str, float | int]:
    """Oversight detection: counts plus precision, recall and F1 of the positive class."""
    tp = fp = fn = tn = 0
    for t, p in zip(y_true, y_pred, strict=True):
        t, p = bool(t), bool(p)
        tp += t and p
        fp += p and not t
        fn += t and not p
        tn += not t and not p
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, **_prf(tp, fp, fn)}


def score_initiator(y_true: Iterable[str | None], y_pred: Iterable[str | None]) -> dict[str, Any]:
    """initiated_by accuracy over the pairs whose true value is set, with a confusion table
    ``{true: {pred: n}}``. Predictions of None count as 'unknown'."""
    n = correct = 0
    confusion: dict[str, dict[str, int]] = {t: {p: 0 for p in INITIATORS} for t in INITIATORS}
    for t, p in zip(y_true, y_pred, strict=True):
        if t is None or t != t or t == "":  # None, NaN or empty: not an oversight entry
            continue
        p = p or "unknown"
        n += 1
        correct += t == p
        confusion.setdefault(t, {}).setdefault(p, 0)
        confusion[t][p] += 1
    return {"n": n, "accuracy": correct / n if n else float("nan"), "confusion": confusion}


def score_attributes(
    y_true: Iterable[Mapping[str, Any]], y_pred: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, float | int]]:
    """Per attribute (labels.ATTRIBUTES): accuracy, precision, recall, F1 over the pairs given."""
    counts = {a: [0, 0, 0, 0] for a in ATTRIBUTES}  # tp, fp, fn, tn
    for t, p in zip(y_true, y_pred, strict=True):
        for a in ATTRIBUTES:
            tv, pv = bool(t.get(a)), bool(p.get(a))
            c = counts[a]
            c[0] += tv and pv
            c[1] += pv and not tv
            c[2] += tv and not pv
            c[3] += not tv and not pv
    out = {}
    for a, (tp, fp, fn, tn) in counts.items():
        n = tp + fp + fn + tn
        out[a] = {"n": n, "positives": tp + fn, "accuracy": (tp + tn) / n if n else float("nan")}
        out[a].update(_prf(tp, fp, fn))
    return out


def evaluate_export(
    export_path: str,
    labels_path: str,
    *,
    nlp: Any = None,
    limit: int | None = None,
    n_process: int = 1,
) -> dict[str, Any]:
    """Run :func:`pipeline.nlp.process` (redacting every text) over a synthetic export in Parquet
    and score it against its labels file. Returns plain figures, no note text."""
    import pyarrow.parquet as pq

    from pipeline.nlp.batch import NoteRecord, process

    export = pq.read_table(export_path).to_pylist()
    labels = {r["contact_id"]: r for r in pq.read_table(labels_path).to_pylist()}
    rows = [r for r in export if r["contact_id"] in labels][: limit or None]
    records = [NoteRecord.from_row(r) for r in rows]
    results = list(process(records, nlp=nlp, redact_all=True, n_process=n_process))
    truth = [labels[r["contact_id"]] for r in rows]

    red = score_redaction(
        [t["pii_spans"] for t in truth], [r.pii_spans for r in results], [r["notes"] for r in rows]
    )
    det = score_detection([t["is_oversight"] for t in truth], [r.is_oversight for r in results])
    both = [(t, r) for t, r in zip(truth, results, strict=True) if t["is_oversight"]]
    ini = score_initiator([t["initiated_by"] for t, _ in both], [r.initiated_by for _, r in both])
    att = score_attributes(
        [t for t, _ in both], [{a: getattr(r, a) for a in ATTRIBUTES} for _, r in both]
    )
    return {
        "contacts": len(rows),
        "redaction": red.summary(),
        "detection": det,
        "initiated_by": ini,
        "attributes": att,
    }
