"""Batch scoring for QA teams: exports in, labelled and explained oversight entries out.

::

    from pipeline.score import score

    summary = score(["exports/"], model="models:/oversight@champion", out_dir="data/processed")
    summary.noop  # True when the same input was already scored by the same model

The local engine (:mod:`pipeline.score.local`) streams chunks through ingest, the nlp step and
the model, writes each chunk atomically and resumes after an interruption.
"""

from pipeline.score.local import (
    DEFAULT_CHUNK_ROWS,
    FORMATS,
    SCORE_COLUMNS,
    SCORED_COLUMNS,
    SCORED_SCHEMA,
    SUMMARY_FILE,
    LoadedModel,
    ScoreSummary,
    check_model,
    input_fingerprint,
    load_scoring_model,
    score,
)

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "FORMATS",
    "SCORED_COLUMNS",
    "SCORED_SCHEMA",
    "SCORE_COLUMNS",
    "SUMMARY_FILE",
    "LoadedModel",
    "ScoreSummary",
    "check_model",
    "input_fingerprint",
    "load_scoring_model",
    "score",
]
