"""Models by name: register a kind once, build it from a config, load a saved one.

::

    @register_model("baseline")
    class BaselineClassifier(OversightClassifier): ...

    model = make_model("baseline", alpha=1e-5)             # params checked against __init__
    model = model_from_config({"model": "baseline", "params": {"alpha": 1e-5}})
    available_models()                                     # ('baseline', 'transformer')
    model = load_model("models/baseline")                  # any saved kind

The built-in kinds are imported only when first asked for, so listing or building the baseline
never imports torch. A kind's module may register itself with :func:`register_model`; a built-in
one that does not is registered from :data:`BUILTIN` when its module is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, ModelFileError, UnknownModelError

#: name -> model class
_REGISTRY: dict[str, type] = {}

#: Built-in kinds: name -> "module:Class" (imported on first use).
BUILTIN: dict[str, str] = {
    "baseline": "pipeline.classify.baseline:BaselineClassifier",
    "transformer": "pipeline.classify.transformer:TransformerClassifier",
}


def register_model(name: str):
    """Class decorator: make the class available as ``name`` (sets ``cls.name``)."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("a model name must be a non-empty string")

    def deco(cls: type) -> type:
        old = _REGISTRY.get(name)
        if old is not None and old.__qualname__ != cls.__qualname__:
            raise ConfigError(f"model name {name!r} is already taken by {old.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _import_builtin(name: str) -> None:
    module_name, cls_name = BUILTIN[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UnknownModelError(
            f"model {name!r} cannot be imported ({exc.name or exc} is missing); install its "
            "optional dependencies (e.g. pip install 'oversight-nlp[transformers]')"
        ) from None
    if name not in _REGISTRY:
        cls = getattr(module, cls_name, None)
        if cls is None:
            raise UnknownModelError(f"{module_name} defines no {cls_name}")
        register_model(name)(cls)


def model_class(name: str) -> type:
    """The class registered as ``name`` (importing a built-in kind on first use)."""
    if name not in _REGISTRY and name in BUILTIN:
        _import_builtin(name)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; available: {', '.join(available_models()) or 'none'}"
        ) from None


def available_models() -> tuple[str, ...]:
    """Registered names plus built-in kinds whose module is present (not imported here)."""
    names = set(_REGISTRY)
    for name, target in BUILTIN.items():
        try:
            if importlib.util.find_spec(target.split(":")[0]) is not None:
                names.add(name)
        except (ImportError, ValueError):
            continue
    return tuple(sorted(names))


def _param_names(cls: type) -> list[str]:
    params = inspect.signature(cls.__init__).parameters.values()
    return [
        p.name
        for p in params
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def make_model(name: str, **params: Any):
    """A new, unfitted model of kind ``name`` with ``params`` (unknown ones are refused)."""
    cls = model_class(name)
    valid = _param_names(cls)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) {', '.join(unknown)} for model {name!r}; "
            f"valid: {', '.join(valid)}"
        )
    return cls(**params)


def model_from_config(config: Mapping[str, Any]):
    """A model from a config mapping: ``{"model": NAME, "params": {...}}`` (``name`` is
    accepted for ``model``; without ``params`` the other keys are the parameters)."""
    if not isinstance(config, Mapping):
        raise ConfigError("a model config must be a mapping with a 'model' key")
    cfg = dict(config)
    name = cfg.pop("model", None) or cfg.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError("a model config needs 'model: NAME'")
    if "params" in cfg:
        params = cfg.pop("params") or {}
        if cfg:
            raise ConfigError(f"unexpected key(s) beside 'params': {', '.join(sorted(cfg))}")
    else:
        params = cfg
    if not isinstance(params, Mapping):
        raise ConfigError("'params' must be a mapping")
    # YAML has no tuples: n-gram ranges arrive as lists
    params = {
        k: tuple(v) if isinstance(v, list) and k.endswith("_range") else v
        for k, v in params.items()
    }
    return make_model(name, **params)


def saved_kind(folder: str | os.PathLike[str]) -> str:
    """The model kind a saved folder holds (from its ``model.json``)."""
    from pipeline.classify.base import read_meta

    path = Path(folder)
    if not path.is_dir():
        raise ModelFileError(f"model folder {path} does not exist")
    return str(read_meta(path)["model"])


def load_model(folder: str | os.PathLike[str], **kwargs: Any):
    """Load any saved model; ``kwargs`` go to the kind's ``load`` (e.g. ``device=``)."""
    return model_class(saved_kind(folder)).load(folder, **kwargs)
