"""Shared by the scoring tests: a small baseline fitted on a synthetic export and saved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.classify import make_model
from pipeline.datasets import load_synth
from pipeline.synth import generate, write_synth


@pytest.fixture(scope="session")
def fit_baseline(tmp_path_factory) -> Callable[..., Path]:
    """``fit_baseline(cases=, seed=)``: the folder of a baseline fitted on that export."""

    def fit(*, cases: int, seed: int) -> Path:
        train = tmp_path_factory.mktemp("train")
        write_synth(generate(cases, seed=seed, workers=1), train, fmt="parquet")
        labelled = load_synth(train)
        model = make_model("baseline", min_df=2, n_jobs=1)
        model.fit(labelled["text"], labelled["oversight_type"], labelled["content"])
        return model.save(tmp_path_factory.mktemp("model") / "baseline")

    return fit
