"""Classifiers for oversight entries, behind one interface and a registry by name.

::

    from pipeline.classify import make_model, load_model

    model = make_model("baseline")                 # or model_from_config(params["model"])
    model.fit(train.text, train.oversight_type, train.content)
    model.predict(test.text)                       # labels, probabilities, p_<head>_<label>
    model.save("models/baseline"); load_model("models/baseline")

Kinds: ``baseline`` (TF-IDF + linear model, :mod:`pipeline.classify.baseline`) and
``transformer`` (a fine-tuned encoder, :mod:`pipeline.classify.transformer`, imported only when
asked for). The interface is documented in :mod:`pipeline.classify.base`; a new kind subclasses
:class:`OversightClassifier` (or offers the same methods) and registers itself with
:func:`register_model`.
"""

from pipeline.classify.base import (
    FEATURE_COLUMNS,
    HEAD_LABELS,
    HEADS,
    OversightClassifier,
    predictions_frame,
    proba_column,
)
from pipeline.classify.registry import (
    available_models,
    load_model,
    make_model,
    model_class,
    model_from_config,
    register_model,
)

__all__ = [
    "FEATURE_COLUMNS",
    "HEADS",
    "HEAD_LABELS",
    "OversightClassifier",
    "available_models",
    "load_model",
    "make_model",
    "model_class",
    "model_from_config",
    "predictions_frame",
    "proba_column",
    "register_model",
]
