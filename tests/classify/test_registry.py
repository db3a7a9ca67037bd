"""Models by name: listing, building from a config, registering, loading."""

from __future__ import annotations

import pytest

from pipeline.classify import (
    OversightClassifier,
    available_models,
    make_model,
    model_class,
    model_from_config,
    register_model,
)
from pipeline.classify.baseline import BaselineClassifier
from pipeline.classify.registry import _REGISTRY
from pipeline.errors import ConfigError, UnknownModelError


def test_builtin_kinds_are_listed():
    names = available_models()
    assert "baseline" in names
    assert model_class("baseline") is BaselineClassifier


def test_unknown_model_and_parameters_are_refused():
    with pytest.raises(UnknownModelError, match="available: .*baseline"):
        make_model("forest")
    with pytest.raises(ConfigError, match="no_such_param"):
        make_model("baseline", no_such_param=1)


def test_model_from_config_reads_yaml_shapes():
    model = model_from_config(
        {"model": "baseline", "params": {"alpha": 2e-5, "char_ngram_range": [3, 5]}}
    )
    assert model.alpha == 2e-5 and model.char_ngram_range == (3, 5)
    flat = model_from_config({"name": "baseline", "min_df": 4})
    assert flat.min_df == 4
    with pytest.raises(ConfigError):
        model_from_config({"params": {}})
    with pytest.raises(ConfigError):
        model_from_config({"model": "baseline", "params": {}, "alpha": 1})


def test_register_a_new_kind():
    @register_model("_test_kind")
    class Dummy(OversightClassifier):
        def __init__(self, *, k: int = 1) -> None:
            self.k = k

        def _fit(self, texts, labels, features):
            pass

        def _predict_proba(self, texts, features):
            return {}

    try:
        assert "_test_kind" in available_models()
        assert make_model("_test_kind", k=3).k == 3
        assert Dummy.name == "_test_kind"
        with pytest.raises(ConfigError, match="already taken"):

            @register_model("_test_kind")
            class Other(OversightClassifier):
                pass
    finally:
        _REGISTRY.pop("_test_kind", None)
