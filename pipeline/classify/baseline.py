"""The baseline: TF-IDF of words and in-word character n-grams, a linear model per head.

Per head a scikit-learn :class:`~sklearn.pipeline.Pipeline` (``pipelines_[head]``):

1. ``features``: a :class:`~sklearn.compose.ColumnTransformer` over a frame with a ``text``
   column (and, with ``use_features=True``, the nlp step's rule attributes):

   * ``text``: :class:`~pipeline.classify.features.TextTfidf`, word 1-2 gram TF-IDF beside
     character 2-5 gram TF-IDF inside words (like ``char_wb``: robust to the typos, shorthand
     and inflections other writers bring), from one tokenisation;
   * ``attr`` (optional): the attribute booleans and ``initiated_by`` one-hot, times
     ``feature_weight``.

   The TF-IDFs lower-case, turn digits into ``0``, use sublinear tf and keep n-grams seen in at
   least ``min_df`` training texts. The feature step is fitted once and shared by both heads.
2. ``classifier``: a linear model. ``classifier="sgd"`` (default): logistic loss trained by
   averaged SGD (``alpha`` L2 penalty, ``epochs`` passes), one-vs-rest for the six types;
   ``"logreg"``: ``LogisticRegression`` (lbfgs, multinomial); ``"linearsvc"``: ``LinearSVC``
   (needs a calibration). ``calibration``: ``"isotonic"`` (default) or ``"sigmoid"`` wraps the
   classifier in ``CalibratedClassifierCV`` (``calibration_cv`` folds, the fold models averaged);
   ``"none"`` keeps the classifier's own probabilities.

Why these defaults (measured for issue 4: trained on 50,000 entries of generator seed 1, tested
on the 20,005 entries of seed 2, ECE against the annotated labels, 15 bins): averaged SGD
matches ``LogisticRegression``'s macro-F1 (0.969 type, 0.967 content) and trains several times
faster; its own probabilities are fairly calibrated (ECE 0.008 type, 0.016 content), isotonic
calibration with 2 folds brings both to 0.001 (3 folds: the same, at twice the time), sigmoid
calibration does not help (0.009, 0.014). ``alpha=1e-5`` is a moderate L2 penalty and ``min_df=3`` drops rare
strings; no feature is keyed to the generator's wording.

Training on 50,000 entries takes 20-40 s on the 2-core machine, depending on what else runs
(features about a third, the rest the two calibration folds); ``n_jobs`` (default 2) fits the
one-vs-rest problems in threads.

``explain`` ranks, for the predicted label, the features of the text by coefficient x value
(coefficients centred across classes); by default word n-grams and attributes
(``explain_kinds``), since character n-grams are hard to read.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import LinearSVC

from pipeline.classify.base import (
    INITIATOR_VALUES,
    OversightClassifier,
    as_texts,
    predictions_frame,
)
from pipeline.classify.features import TextTfidf
from pipeline.classify.registry import register_model
from pipeline.errors import ConfigError, ModelInputError

log = logging.getLogger(__name__)

CLASSIFIERS = ("sgd", "logreg", "linearsvc")
CALIBRATIONS = ("none", "sigmoid", "isotonic")
EXPLAIN_KINDS = ("word", "char", "attr")
TEXT = "text"

_TRUE = frozenset({"true", "t", "yes", "y", "1"})


def _truthy(values: pd.Series) -> np.ndarray:
    """Booleans from bools, numbers or strings (``true``/``yes``/``y``/``1``); missing is False."""
    out = np.zeros(len(values), dtype=np.float32)
    for i, v in enumerate(values.tolist()):
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            continue
        if isinstance(v, str):
            out[i] = v.strip().lower() in _TRUE
        else:
            out[i] = bool(v)
    return out


class AttributeEncoder(TransformerMixin, BaseEstimator):
    """Rule attributes to a sparse matrix: each boolean column as 0/1, ``initiated_by`` one-hot
    over :data:`~pipeline.labels.INITIATORS`; every value times ``weight``."""

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def fit(self, X, y=None):  # noqa: N803 - scikit-learn's signature
        X = pd.DataFrame(X)
        self.columns_ = list(X.columns)
        names = []
        for c in self.columns_:
            if c == "initiated_by":
                names.extend(f"initiated_by={v}" for v in INITIATOR_VALUES)
            else:
                names.append(c)
        self.names_ = names
        return self

    def transform(self, X):  # noqa: N803
        X = pd.DataFrame(X)
        blocks = []
        for c in self.columns_:
            col = X[c] if c in X.columns else pd.Series([None] * len(X))
            if c == "initiated_by":
                vals = col.astype(object).where(col.notna(), None).tolist()
                onehot = np.zeros((len(X), len(INITIATOR_VALUES)), dtype=np.float32)
                index = {v: j for j, v in enumerate(INITIATOR_VALUES)}
                for i, v in enumerate(vals):
                    j = index.get(str(v).strip().lower()) if v is not None else None
                    if j is not None:
                        onehot[i, j] = 1.0
                blocks.append(onehot)
            else:
                blocks.append(_truthy(col)[:, None])
        dense = np.hstack(blocks) if blocks else np.zeros((len(X), 0), dtype=np.float32)
        return sp.csr_matrix(dense * np.float32(self.weight), dtype=np.float32)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self.names_, dtype=object)


@register_model("baseline")
class BaselineClassifier(OversightClassifier):
    """Word + character TF-IDF and a linear classifier per head (see the module docstring).

    Parameters: ``word_ngram_range`` (None: no word features), ``char_ngram_range`` (None: no
    character features), ``min_df``, ``max_df``, ``max_features`` (per vectorizer),
    ``sublinear_tf``; ``classifier`` (``sgd`` | ``logreg`` | ``linearsvc``), ``alpha`` and
    ``epochs`` (sgd), ``C`` and ``max_iter`` (logreg, linearsvc), ``tol`` (logreg),
    ``class_weight`` (None | ``"balanced"``); ``calibration`` (``none`` | ``sigmoid`` |
    ``isotonic``), ``calibration_cv``; ``use_features`` and ``feature_weight`` (rule
    attributes as extra features); ``explain_kinds``; ``n_jobs``; ``random_state``.
    """

    def __init__(
        self,
        *,
        word_ngram_range: tuple[int, int] | None = (1, 2),
        char_ngram_range: tuple[int, int] | None = (2, 5),
        min_df: int | float = 3,
        max_df: int | float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        classifier: str = "sgd",
        alpha: float = 1e-5,
        epochs: int = 5,
        C: float = 1.0,  # noqa: N803 - scikit-learn's name
        max_iter: int = 300,
        tol: float = 1e-4,
        class_weight: str | None = None,
        calibration: str = "isotonic",
        calibration_cv: int = 2,
        use_features: bool = False,
        feature_weight: float = 1.0,
        explain_kinds: tuple[str, ...] = ("word", "attr"),
        n_jobs: int | None = 2,
        random_state: int = 0,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.classifier = classifier
        self.alpha = alpha
        self.epochs = epochs
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_cv = calibration_cv
        self.use_features = use_features
        self.feature_weight = feature_weight
        self.explain_kinds = explain_kinds
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- building blocks -----------------------------------------------------------------------

    def _check_params(self) -> None:
        bad = []
        if self.classifier not in CLASSIFIERS:
            bad.append(f"classifier in {CLASSIFIERS}")
        if self.calibration not in CALIBRATIONS:
            bad.append(f"calibration in {CALIBRATIONS}")
        if self.classifier == "linearsvc" and self.calibration == "none":
            bad.append(
                "calibration 'sigmoid' or 'isotonic' with classifier='linearsvc' (it has no probabilities)"
            )
        if self.word_ngram_range is None and self.char_ngram_range is None:
            bad.append("word_ngram_range or char_ngram_range")
        if not (self.alpha > 0 and self.C > 0):
            bad.append("alpha > 0 and C > 0")
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            bad.append("epochs >= 1")
        if not (isinstance(self.calibration_cv, int) and self.calibration_cv >= 2):
            bad.append("calibration_cv >= 2")
        if self.class_weight not in (None, "balanced"):
            bad.append("class_weight None or 'balanced'")
        if any(k not in EXPLAIN_KINDS for k in self.explain_kinds):
            bad.append(f"explain_kinds from {EXPLAIN_KINDS}")
        if bad:
            raise ConfigError(f"invalid baseline parameters: need {'; '.join(bad)}")

    def _uses_features(self) -> bool:
        return bool(self.use_features)

    def _featurizer(self, feature_columns: list[str]) -> ColumnTransformer:
        text = TextTfidf(
            word_ngram_range=self.word_ngram_range,
            char_ngram_range=self.char_ngram_range,
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
        )
        parts: list[tuple[str, Any, Any]] = [("text", text, TEXT)]
        if feature_columns:
            parts.append(("attr", AttributeEncoder(self.feature_weight), list(feature_columns)))
        return ColumnTransformer(parts, remainder="drop", sparse_threshold=1.0)

    def _classifier(self):
        if self.classifier == "sgd":
            clf = SGDClassifier(
                loss="log_loss",
                alpha=self.alpha,
                max_iter=self.epochs,
                tol=None,
                average=True,
                class_weight=self.class_weight,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
            )
        elif self.classifier == "logreg":
            clf = LogisticRegression(
                C=self.C, max_iter=self.max_iter, tol=self.tol, class_weight=self.class_weight
            )
        else:
            clf = LinearSVC(
                C=self.C,
                max_iter=self.max_iter,
                class_weight=self.class_weight,
                random_state=self.random_state,
            )
        if self.calibration != "none":
            clf = CalibratedClassifierCV(clf, method=self.calibration, cv=self.calibration_cv)
        return clf

    @staticmethod
    def _frame(texts: list[str], features: pd.DataFrame | None) -> pd.DataFrame:
        frame = pd.DataFrame({TEXT: texts})
        if features is not None:
            for c in features.columns:
                frame[c] = features[c].to_numpy()
        return frame

    # -- fit / predict -------------------------------------------------------------------------

    def _fit(self, texts, labels, features) -> None:
        self._check_params()
        start = time.perf_counter()
        featurizer = self._featurizer(self.feature_columns_)
        x = featurizer.fit_transform(self._frame(texts, features))
        x = sp.csr_matrix(x, dtype=np.float32)
        self.pipelines_: dict[str, Pipeline] = {}
        self.calibrated_: dict[str, bool] = {}
        for head, y in labels.items():
            mask = np.fromiter((v is not None for v in y), dtype=bool, count=len(y))
            clf = self._classifier()
            smallest = int(np.unique(y[mask].astype(str), return_counts=True)[1].min())
            if self.calibration != "none" and smallest < self.calibration_cv:
                # CalibratedClassifierCV needs calibration_cv examples of every class
                if self.classifier == "linearsvc":
                    raise ModelInputError(
                        f"{head}: a class has {smallest} example(s), fewer than calibration_cv="
                        f"{self.calibration_cv}; linearsvc needs calibration (use sgd or logreg)"
                    )
                log.warning(
                    "%s: a class has %d example(s), fewer than calibration_cv=%d: not calibrated",
                    head,
                    smallest,
                    self.calibration_cv,
                )
                clf = clf.estimator
            self.calibrated_[head] = isinstance(clf, CalibratedClassifierCV)
            with warnings.catch_warnings():
                # fixed-epoch SGD (tol=None) is intended, not a convergence failure
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(x[mask] if not mask.all() else x, y[mask].astype(str))
            self.pipelines_[head] = Pipeline([("features", featurizer), ("classifier", clf)])
        self.n_features_ = int(x.shape[1])
        self.fit_seconds_ = time.perf_counter() - start

    def _transform(self, texts: list[str], features: pd.DataFrame | None) -> sp.csr_matrix:
        featurizer = self.pipelines_[self.heads_[0]].named_steps["features"]
        return sp.csr_matrix(featurizer.transform(self._frame(texts, features)), dtype=np.float32)

    def _head_proba(self, head: str, x: sp.csr_matrix) -> np.ndarray:
        clf = self.pipelines_[head].named_steps["classifier"]
        p = clf.predict_proba(x).astype(np.float64)
        out = np.zeros((x.shape[0], len(self.classes_[head])))
        pos = {c: j for j, c in enumerate(self.classes_[head])}
        for k, c in enumerate(clf.classes_):
            out[:, pos[str(c)]] = p[:, k]
        s = out.sum(axis=1, keepdims=True)
        s[s == 0] = 1.0
        return out / s

    def _predict_proba(self, texts, features):
        x = self._transform(texts, features)
        return {h: self._head_proba(h, x) for h in self.heads_}

    # -- explain -------------------------------------------------------------------------------

    def _coef(self, head: str) -> np.ndarray:
        """Coefficients (len(classes_[head]) x n_features), centred across classes."""
        clf = self.pipelines_[head].named_steps["classifier"]
        if isinstance(clf, CalibratedClassifierCV):
            coef = np.mean([c.estimator.coef_ for c in clf.calibrated_classifiers_], axis=0)
        else:
            coef = clf.coef_
        coef = np.asarray(coef, dtype=np.float64)
        if coef.shape[0] == 1:  # binary: one row for the second class
            coef = np.vstack([-coef[0], coef[0]])
        coef = coef - coef.mean(axis=0, keepdims=True)
        out = np.zeros((len(self.classes_[head]), coef.shape[1]))
        pos = {c: j for j, c in enumerate(self.classes_[head])}
        for k, c in enumerate(clf.classes_):
            out[pos[str(c)]] = coef[k]
        return out

    def feature_names(self) -> np.ndarray:
        """Readable names of the feature columns: ``word n-gram``, ``char:"gram"``,
        ``attr:sbar``, ``initiated_by=pp_request``."""
        self._check_fitted()
        names = []
        for kind, name in self._raw_names():
            if kind == "char":
                names.append(f'char:"{name}"')
            elif kind == "attr":
                names.append(name if name.startswith("initiated_by=") else f"attr:{name}")
            else:
                names.append(name)
        return np.asarray(names, dtype=object)

    def _raw_names(self) -> list[tuple[str, str]]:
        """(kind, name) of every feature column: kind word, char or attr."""
        featurizer = self.pipelines_[self.heads_[0]].named_steps["features"]
        out = []
        for raw in featurizer.get_feature_names_out():
            step, _, rest = str(raw).partition("__")
            if step == "text":
                kind, _, name = rest.partition("__")
                out.append((kind, name))
            else:
                out.append(("attr", rest))
        return out

    def _kind_mask(self) -> np.ndarray:
        kinds = np.asarray([k for k, _ in self._raw_names()])
        return np.isin(kinds, list(self.explain_kinds))

    def _explain_parts(self) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
        """Feature names (as a list of ``str``: indexed per chosen feature), the mask of
        explainable features and the centred coefficients: fixed once fitted, so worked out
        once (getting the names from the featuriser costs more than explaining a chunk)."""
        cache = self.__dict__.get("_explain_cache")
        key = (id(self.pipelines_), tuple(self.explain_kinds))
        if cache is None or cache[0] != key:
            parts = (
                [str(name) for name in self.feature_names()],
                self._kind_mask(),
                {h: self._coef(h) for h in self.heads_},
            )
            cache = self.__dict__["_explain_cache"] = (key, parts)
        return cache[1]

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_explain_cache", None)  # derived: never saved with the model
        return state

    def _explain(self, texts, features, top_k):
        x = self._transform(texts, features)
        proba = {h: self._head_proba(h, x) for h in self.heads_}
        return self._explain_x(x, proba, top_k)

    def _top_features(
        self, x: sp.csr_matrix, proba: dict[str, np.ndarray], top_k: int
    ) -> dict[str, _Top]:
        """Per head, each row's predicted class and its ``top_k`` explainable features with the
        largest positive contribution (value x centred coefficient) to that class; ties keep
        the features' column order. Vectorised over the whole matrix."""
        _, allowed, coefs = self._explain_parts()
        n = x.shape[0]
        # only the explainable entries: their rows found from their positions (cheaper than
        # a row number for every entry of x, most of which are character n-grams)
        at = np.flatnonzero(allowed.take(x.indices))
        rows = np.searchsorted(x.indptr, at, side="right") - 1
        idx, val = x.indices.take(at), x.data.take(at)
        out = {}
        for h in self.heads_:
            best = proba[h].argmax(axis=1)
            coef = coefs[h]
            contrib = val * coef.ravel().take(best.take(rows) * coef.shape[1] + idx)
            chosen = _top_per_row(rows, contrib, n, top_k)
            out[h] = _Top(best, rows[chosen], idx[chosen], contrib[chosen])
        return out

    def _explain_x(
        self, x: sp.csr_matrix, proba: dict[str, np.ndarray], top_k: int
    ) -> list[dict[str, dict[str, Any]]]:
        """Per row of ``x``: for each head its label, probability and the ``top_k`` features
        with the largest positive contribution to that label (:meth:`_top_features`)."""
        names = self._explain_parts()[0]
        n = x.shape[0]
        out: list[dict[str, dict[str, Any]]] = [{} for _ in range(n)]
        for h, top in self._top_features(x, proba, top_k).items():
            tops: list[list[tuple[str, float]]] = [[] for _ in range(n)]
            for r, j, c in zip(
                top.rows.tolist(), top.cols.tolist(), top.contrib.tolist(), strict=True
            ):
                tops[r].append((names[j], round(c, 6)))
            labels = self.classes_[h]
            p_best = proba[h][np.arange(n), top.best]
            for i, (j, p) in enumerate(zip(top.best.tolist(), p_best.tolist(), strict=True)):
                out[i][h] = {"label": labels[j], "proba": float(p), "top_tokens": tops[i]}
        return out

    def _top_tokens_x(
        self, x: sp.csr_matrix, proba: dict[str, np.ndarray], top_k: int
    ) -> dict[str, list[list[str]]]:
        """Per head and row of ``x``, the names of the features :meth:`_top_features` chose."""
        names = self._explain_parts()[0]
        out = {}
        for h, top in self._top_features(x, proba, top_k).items():
            chosen = list(map(names.__getitem__, top.cols.tolist()))
            bounds = [0, *np.cumsum(np.bincount(top.rows, minlength=x.shape[0])).tolist()]
            out[h] = [chosen[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return out

    def _predict_and(self, texts: Any, top_k: int, features: Any, explain_x: Any) -> tuple:
        """``(predict(texts), explain_x(x, proba, top_k))`` from one featurisation ``x``."""
        self._check_fitted()
        index = texts.index if isinstance(texts, pd.Series) else None
        texts = as_texts(texts)
        if top_k < 1:
            raise ModelInputError("top_k must be at least 1")
        feats = self._features_for(features, len(texts))
        if texts:
            x = self._transform(texts, feats)
            proba = {h: self._head_proba(h, x) for h in self.heads_}
        else:
            x = sp.csr_matrix((0, len(self._explain_parts()[1])), dtype=np.float32)
            proba = {h: np.zeros((0, len(self.classes_[h]))) for h in self.heads_}
        return predictions_frame(proba, self.classes_, index=index), explain_x(x, proba, top_k)

    def predict_explain(
        self, texts: Any, top_k: int = 5, *, features: Any = None
    ) -> tuple[pd.DataFrame, list[dict[str, dict[str, Any]]]]:
        """``(predict(texts), explain(texts, top_k))`` from one featurisation of the texts:
        the same answers as the two calls, at about half the cost."""
        return self._predict_and(texts, top_k, features, self._explain_x)

    def predict_top_tokens(
        self, texts: Any, top_k: int = 5, *, features: Any = None
    ) -> tuple[pd.DataFrame, dict[str, list[list[str]]]]:
        """``predict(texts)`` and, per head, each text's ``top_k`` feature names (the
        ``top_tokens`` of :meth:`explain` without their scores), from one featurisation: what
        scoring writes, without the cost of explain's per-row dicts and rounded scores."""
        return self._predict_and(texts, top_k, features, self._top_tokens_x)


class _Top(NamedTuple):
    """One head's explanation of a matrix: each row's predicted class (``best``) and the
    chosen features as (row, column, contribution), ordered by row, then rank."""

    best: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    contrib: np.ndarray


#: up to this top_k, :func:`_top_per_row` first drops what cannot make a row's top k: each of
#: the k passes costs a few percent of the sort it shrinks
_TRIM_MAX_K = 16


def _top_per_row(rows: np.ndarray, contrib: np.ndarray, n: int, top_k: int) -> np.ndarray:
    """Positions of each row's ``top_k`` largest positive ``contrib``, by row, then
    contribution (largest first), equal contributions in position order. ``rows`` is
    non-decreasing (entries in matrix order), ``n`` the number of rows."""
    positive = np.flatnonzero(contrib > 0)
    if len(positive) and top_k <= _TRIM_MAX_K:
        positive = positive[_at_least_kth(rows[positive], contrib[positive], top_k)]
    # by row, then by contribution (largest first), equal contributions in position order:
    # two stable sorts (faster than np.lexsort on float keys)
    order = positive[np.argsort(-contrib[positive], kind="stable")]
    # (row numbers below 2**16 sort as uint16: numpy's radix sort, same stable order)
    by_row = rows[order].astype(np.uint16) if n <= 1 << 16 else rows[order]
    order = order[np.argsort(by_row, kind="stable")]
    r_sorted = rows[order]
    first = np.searchsorted(r_sorted, np.arange(n))
    return order[np.arange(len(order)) - first[r_sorted] < top_k]


def _at_least_kth(rows: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``values`` at least their row's k-th largest distinct value (all of a row
    with fewer): a superset of each row's k largest, found in k linear passes instead of a
    sort. ``rows`` is non-decreasing and not empty."""
    starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
    segment = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(rows))))
    rest = values.copy()
    for _ in range(k):
        top = np.maximum.reduceat(rest, starts)
        rest[rest >= top[segment]] = -np.inf
    return values >= top[segment]
