"""Paths and defaults in one place; ``params.yaml`` holds the tunable parameters."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError


def _project_root() -> Path:
    """The project folder: $OVERSIGHT_HOME, else the checkout this package lives in, else cwd."""
    env = os.environ.get("OVERSIGHT_HOME")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[1]
    if (here / "pyproject.toml").exists() and (here / "pipeline").is_dir():
        return here
    return Path.cwd()


ROOT = _project_root()
DATA_DIR = ROOT / "data"
RAW_DIR = DATA_DIR / "raw"
INTERIM_DIR = DATA_DIR / "interim"
PROCESSED_DIR = DATA_DIR / "processed"
MODELS_DIR = ROOT / "models"
EXPERIMENTS_DIR = ROOT / "experiments"
DOCS_DIR = ROOT / "docs"
PARAMS_FILE = ROOT / "params.yaml"

#: Where `make demo` and `oversight synth` put the embedded synthetic export by default.
DEMO_EXPORT_DIR = RAW_DIR / "synth"


@cache
def load_params(path: Path | None = None) -> dict[str, Any]:
    """Read ``params.yaml`` (the DVC parameters); empty when the file is absent."""
    path = path or PARAMS_FILE
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections")
    return data


def params(section: str) -> dict[str, Any]:
    """One section of ``params.yaml`` (``{}`` when missing)."""
    value = load_params().get(section, {})
    if not isinstance(value, dict):
        raise ConfigError(f"params.yaml section {section!r} must be a mapping")
    return value
