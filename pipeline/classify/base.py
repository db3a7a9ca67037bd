"""The one interface every classifier of ours offers (scikit-learn style).

A model labels an oversight entry's *redacted* text on two heads (domain.md section 3):
``oversight_type`` (allocation, supervision, risk, enforcement, assurance, review) and
``content`` (defensive, substantive).

The contract (:class:`OversightClassifier` implements the shared parts; a model kind fills in
``_fit`` / ``_predict_proba`` and, where it can, ``_explain``):

* ``__init__`` only stores its keyword parameters (``get_params`` / ``set_params`` work on
  them; a config dict from ``params.yaml`` / ``experiments/*.yaml`` becomes a model through
  :func:`pipeline.classify.make_model`). Fitted attributes end in ``_``.
* ``fit(texts, y_type, y_content, *, features=None) -> self``. Labels are the scheme's strings;
  ``None`` / NaN / ``""`` marks a missing label (a row labelled on one head only); a head with
  no labels at all is not fitted (``heads_`` lists the fitted heads). ``features``: an optional
  frame, one row per text, with the rule attributes of the nlp step
  (:data:`FEATURE_COLUMNS`); models that do not use them ignore it.
* ``classes_[head]``: the head's labels in the scheme's order (:data:`HEAD_LABELS`), always all
  of them; a label absent from training gets probability 0 (and a warning at ``fit``).
* ``predict_proba(texts, *, features=None) -> {head: array (n, len(classes_[head]))}``.
* ``predict(texts, *, features=None) -> DataFrame`` with ``oversight_type``,
  ``oversight_type_proba``, ``content``, ``content_proba`` and one ``p_<head>_<label>`` column
  per class (see :func:`predictions_frame`); the index is the texts' index when they come as a
  ``pandas.Series``.
* ``explain(texts, top_k=5, *, features=None) -> [{head: {"label", "proba", "top_tokens":
  [(feature, score), ...]}}, ...]``: per text and head, the predicted label, its probability and
  the ``top_k`` features (words, n-grams, rule attributes) that pushed hardest towards it.
* ``save(folder)`` writes a self-describing folder (``model.json`` names the model kind, its
  parameters and classes; the kind's own files beside it); ``Model.load(folder)`` or
  :func:`pipeline.classify.load_model` reads it back in a fresh process. Fitted models are
  also picklable. A later ``tracking.py`` can wrap any of them as an MLflow pyfunc by logging
  the saved folder as an artifact and calling ``load_model`` in ``load_context``.

Texts must already be redacted (``pipeline.nlp.redact``): models keep n-grams of their training
texts (seen in at least ``min_df`` of them) and explanations quote them back.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import platform
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from pipeline.errors import ModelFileError, ModelInputError, ModelNotFittedError
from pipeline.labels import ATTRIBUTES, CONTENT_LABELS, INITIATORS, OVERSIGHT_TYPES
from pipeline.schema import is_missing

log = logging.getLogger(__name__)

#: The two heads, in output order.
HEADS: tuple[str, ...] = ("oversight_type", "content")
#: Each head's labels in the scheme's order: the column order of ``predict_proba``.
HEAD_LABELS: dict[str, tuple[str, ...]] = {
    "oversight_type": OVERSIGHT_TYPES,
    "content": CONTENT_LABELS,
}
#: Optional per-entry features from the nlp step: the attribute booleans and ``initiated_by``.
FEATURE_COLUMNS: tuple[str, ...] = (*ATTRIBUTES, "initiated_by")
#: Values ``initiated_by`` may take as a feature (anything else counts as unknown).
INITIATOR_VALUES: tuple[str, ...] = INITIATORS
#: The file every saved model folder holds (written last, so its presence means complete).
META_FILE = "model.json"
FORMAT_VERSION = 1


def proba_column(head: str, label: str) -> str:
    """The ``predict`` column holding P(label) for ``head``: ``p_<head>_<label>``."""
    return f"p_{head}_{label}"


def as_texts(texts: Any) -> list[str]:
    """``texts`` as a list of strings (None / NaN become ``""``).

    A bare string is refused: iterating it would classify its characters.
    """
    if isinstance(texts, str):
        raise ModelInputError("texts must be a sequence of strings, not one string")
    if isinstance(texts, pd.DataFrame):
        raise ModelInputError("texts must be a sequence of strings; pass frame['text']")
    if isinstance(texts, Mapping):
        raise ModelInputError("texts must be a sequence of strings, not a mapping")
    return [t if isinstance(t, str) else "" for t in texts]


def as_labels(values: Any, head: str, n: int) -> np.ndarray:
    """Labels of ``head`` as an object array with None where missing; unknown labels raise
    :class:`~pipeline.errors.ModelInputError` naming the head and the first bad position."""
    if values is None:
        return np.full(n, None, dtype=object)
    if isinstance(values, str):
        raise ModelInputError(f"{head} labels must be a sequence, not one string")
    out = np.asarray([None if is_missing(v) else str(v).strip() for v in values], dtype=object)
    if len(out) != n:
        raise ModelInputError(f"{head}: {len(out)} labels for {n} texts")
    allowed = set(HEAD_LABELS[head])
    for i, v in enumerate(out):
        if v is not None and v not in allowed:
            shown = v if len(v) <= 40 else v[:37] + "..."
            raise ModelInputError(
                f"unknown {head} label {shown!r} at position {i}; expected one of "
                f"{', '.join(HEAD_LABELS[head])}"
            )
    return out


def as_features(features: Any, n: int, columns: Sequence[str] | None = None) -> pd.DataFrame | None:
    """The feature frame checked against ``n`` texts (None stays None). Only
    :data:`FEATURE_COLUMNS` are kept; ``columns``, when given, must all be present."""
    if features is None:
        if columns:
            raise ModelInputError(
                f"this model was fitted with features {', '.join(columns)}; pass features="
            )
        return None
    if not isinstance(features, pd.DataFrame):
        features = pd.DataFrame(features)
    if len(features) != n:
        raise ModelInputError(f"features has {len(features)} rows for {n} texts")
    wanted = list(columns) if columns is not None else [c for c in FEATURE_COLUMNS if c in features]
    missing = [c for c in wanted if c not in features.columns]
    if missing:
        raise ModelInputError(f"features lacks column(s) {', '.join(missing)}")
    return features[wanted].reset_index(drop=True)


def predictions_frame(
    proba: Mapping[str, np.ndarray],
    classes: Mapping[str, Sequence[str]],
    index: pd.Index | None = None,
) -> pd.DataFrame:
    """The ``predict`` frame from per-head probabilities: for each head its label and that
    label's probability, then every class's probability (``p_<head>_<label>``)."""
    heads = [h for h in HEADS if h in proba]
    cols: dict[str, Any] = {}
    for h in heads:
        p = np.asarray(proba[h], dtype=np.float64)
        best = p.argmax(axis=1) if len(p) else np.zeros(0, dtype=int)
        cols[h] = (
            np.asarray(classes[h], dtype=object)[best] if len(p) else np.zeros(0, dtype=object)
        )
        cols[f"{h}_proba"] = p[np.arange(len(p)), best] if len(p) else np.zeros(0)
    for h in heads:
        p = np.asarray(proba[h], dtype=np.float64)
        for j, label in enumerate(classes[h]):
            cols[proba_column(h, label)] = p[:, j]
    return pd.DataFrame(cols, index=index)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


class OversightClassifier(ABC):
    """Base class of the models: parameters, input checks, ``predict``, ``save`` / ``load``.

    Subclasses implement :meth:`_fit` and :meth:`_predict_proba` (and :meth:`_explain` when they
    can explain). The default persistence pickles the fitted model with joblib
    (``model.joblib``); a model with its own files overrides :meth:`_save_state` /
    :meth:`_load_state`.
    """

    #: the registry name, set by :func:`pipeline.classify.register_model`
    name: ClassVar[str] = ""

    # -- parameters ------------------------------------------------------------------------------

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # noqa: ARG002 - sklearn's API
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params: Any):
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                from pipeline.errors import ConfigError

                raise ConfigError(
                    f"unknown parameter {k!r} for model {self.name or type(self).__name__}; "
                    f"valid: {', '.join(sorted(valid))}"
                )
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = {
            k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = {k: v for k, v in self.get_params().items() if defaults.get(k) != v}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # -- fit / predict ---------------------------------------------------------------------------

    def fit(self, texts: Iterable[str], y_type: Any, y_content: Any, *, features: Any = None):
        """Fit both heads on redacted ``texts``; returns ``self``."""
        texts = as_texts(texts)
        n = len(texts)
        if not n:
            raise ModelInputError("cannot fit on no texts")
        labels = {
            "oversight_type": as_labels(y_type, "oversight_type", n),
            "content": as_labels(y_content, "content", n),
        }
        heads = [h for h in HEADS if any(v is not None for v in labels[h])]
        if not heads:
            raise ModelInputError("no labels at all: give oversight_type and/or content labels")
        for h in heads:
            present = {v for v in labels[h] if v is not None}
            if len(present) < 2:
                raise ModelInputError(
                    f"{h}: need at least two different labels to fit, got {sorted(present)}"
                )
            absent = [lab for lab in HEAD_LABELS[h] if lab not in present]
            if absent:
                log.warning(
                    "%s: no training example of %s; it will get probability 0", h, ", ".join(absent)
                )
        feats = as_features(features, n) if self._uses_features() else None
        self.heads_ = heads
        self.classes_ = {h: list(HEAD_LABELS[h]) for h in heads}
        self.n_train_ = {h: int(sum(v is not None for v in labels[h])) for h in heads}
        self.feature_columns_ = list(feats.columns) if feats is not None else []
        self._fit(texts, {h: labels[h] for h in heads}, feats)
        return self

    def _uses_features(self) -> bool:
        """Whether this model reads the ``features`` frame (default: no)."""
        return False

    def _check_fitted(self) -> None:
        if not hasattr(self, "classes_"):
            raise ModelNotFittedError(
                f"this {self.name or type(self).__name__} model is not fitted yet; call fit first"
            )

    def _features_for(self, features: Any, n: int) -> pd.DataFrame | None:
        if not self.feature_columns_:
            return None
        return as_features(features, n, self.feature_columns_)

    def predict_proba(self, texts: Iterable[str], *, features: Any = None) -> dict[str, np.ndarray]:
        """Probabilities per fitted head, shape (n, len(classes_[head])), rows sum to 1."""
        self._check_fitted()
        texts = as_texts(texts)
        feats = self._features_for(features, len(texts))
        if not texts:
            return {h: np.zeros((0, len(self.classes_[h]))) for h in self.heads_}
        return self._predict_proba(texts, feats)

    def predict(self, texts: Iterable[str], *, features: Any = None) -> pd.DataFrame:
        """One row per text: each head's label and probability, and every class's probability."""
        index = texts.index if isinstance(texts, pd.Series) else None
        proba = self.predict_proba(texts, features=features)
        return predictions_frame(proba, self.classes_, index=index)

    def explain(
        self, texts: Iterable[str], top_k: int = 5, *, features: Any = None
    ) -> list[dict[str, dict[str, Any]]]:
        """Per text and head: ``{"label", "proba", "top_tokens": [(feature, score), ...]}``
        with the ``top_k`` features that pushed hardest towards the predicted label."""
        self._check_fitted()
        texts = as_texts(texts)
        if top_k < 1:
            raise ModelInputError("top_k must be at least 1")
        feats = self._features_for(features, len(texts))
        if not texts:
            return []
        return self._explain(texts, feats, top_k)

    @abstractmethod
    def _fit(
        self, texts: list[str], labels: dict[str, np.ndarray], features: pd.DataFrame | None
    ) -> None:
        """Fit the heads in ``labels`` (object arrays, None = missing). ``classes_``,
        ``heads_`` and ``feature_columns_`` are already set."""

    @abstractmethod
    def _predict_proba(
        self, texts: list[str], features: pd.DataFrame | None
    ) -> dict[str, np.ndarray]:
        """Probabilities per head in ``heads_``, columns in ``classes_[head]`` order."""

    def _explain(
        self, texts: list[str], features: pd.DataFrame | None, top_k: int
    ) -> list[dict[str, dict[str, Any]]]:
        raise ModelInputError(f"the {self.name or type(self).__name__} model cannot explain")

    # -- persistence -----------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        import sklearn

        from pipeline import __version__

        return {
            "model": self.name,
            "class": f"{type(self).__module__}.{type(self).__qualname__}",
            "format_version": FORMAT_VERSION,
            "params": _jsonable(self.get_params()),
            "heads": list(self.heads_),
            "classes": {h: list(self.classes_[h]) for h in self.heads_},
            "feature_columns": list(self.feature_columns_),
            "n_train": dict(self.n_train_),
            "versions": {
                "pipeline": __version__,
                "python": platform.python_version(),
                "numpy": np.__version__,
                "scikit-learn": sklearn.__version__,
            },
        }

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write the fitted model under ``folder`` (created); returns the folder."""
        self._check_fitted()
        out = Path(folder)
        try:
            out.mkdir(parents=True, exist_ok=True)
            meta_path = out / META_FILE
            if meta_path.exists():
                meta_path.unlink()  # a half-written folder must not look complete
            self._save_state(out)
            meta_path.write_text(json.dumps(self._meta(), indent=2) + "\n", "utf-8")
        except OSError as exc:
            raise ModelFileError(
                f"cannot write model folder {out}: {exc.strerror or exc}"
            ) from None
        return out

    def _save_state(self, folder: Path) -> None:
        import joblib

        joblib.dump(self, folder / "model.joblib", compress=3)

    @classmethod
    def load(cls, folder: str | os.PathLike[str]):
        """A fitted model from :meth:`save`'s folder. Called on the base class, the folder's
        ``model.json`` picks the model kind; on a subclass, the folder must hold that kind.

        Loading unpickles ``model.joblib``: only load folders you (or your pipeline) wrote.
        """
        path = Path(folder)
        meta = read_meta(path)
        from pipeline.classify.registry import model_class

        kind = model_class(meta["model"])
        if cls is not OversightClassifier and not issubclass(kind, cls):
            raise ModelFileError(f"{path} holds a {meta['model']!r} model, not a {cls.name!r} one")
        model = kind._load_state(path, meta)
        if not hasattr(model, "classes_"):
            raise ModelFileError(f"{path} does not hold a fitted model")
        return model

    @classmethod
    def _load_state(cls, folder: Path, meta: dict[str, Any]):
        import joblib

        file = folder / "model.joblib"
        if not file.is_file():
            raise ModelFileError(f"{folder} lacks model.joblib")
        saved = meta.get("versions", {}).get("scikit-learn")
        import sklearn

        if saved and saved != sklearn.__version__:
            log.warning(
                "model in %s was saved with scikit-learn %s, loading with %s",
                folder,
                saved,
                sklearn.__version__,
            )
        model = joblib.load(file)
        if not isinstance(model, cls):
            raise ModelFileError(f"{file} does not hold a {cls.__name__}")
        return model


def read_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``model.json`` of a saved model folder, checked."""
    path = Path(folder)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise ModelFileError(f"{path} holds no saved model ({META_FILE} is missing)")
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"cannot read {meta_path}: {exc}") from None
    if not isinstance(meta, dict) or "model" not in meta:
        raise ModelFileError(f"{meta_path} does not name a model kind")
    if meta.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
        raise ModelFileError(
            f"{meta_path} has format version {meta.get('format_version')}; this code reads "
            f"up to {FORMAT_VERSION}"
        )
    return meta
