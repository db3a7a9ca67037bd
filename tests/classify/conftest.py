"""Fixtures for the classifier tests: a small labelled frame and a baseline fitted on it once."""

from __future__ import annotations

import pytest

from pipeline.classify import make_model
from pipeline.datasets import load_synth
from pipeline.synth import write_synth


@pytest.fixture(scope="session")
def synth_folder(small_synth, tmp_path_factory):
    """The session's small generator export written as a Parquet folder."""
    folder = tmp_path_factory.mktemp("synth_small")
    write_synth(small_synth, folder, fmt="parquet")
    return folder


@pytest.fixture(scope="session")
def labelled(synth_folder):
    """Its oversight entries, redacted, with the annotated labels."""
    return load_synth(synth_folder)


@pytest.fixture(scope="session")
def baseline(labelled):
    """A baseline fitted on the small frame (min_df lowered for the small vocabulary)."""
    model = make_model("baseline", min_df=2, n_jobs=1)
    return model.fit(labelled["text"], labelled["oversight_type"], labelled["content"])
