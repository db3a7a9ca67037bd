"""Culture measures for evaluators (domain.md section 4), with classifier-error adjusted
intervals.

::

    from pipeline.measure import measure

    result = measure(
        "data/processed/scored.parquet",
        exports=["data/raw/synth/export.csv"],
        validation="data/processed/evaluation/metrics.json",
        compare_groups=["region=Wales"],
        out_dir="data/processed/measures",
    )
    result.measures  # one row per (measure, category, by, group), estimate + raw with intervals

Modules: :mod:`~pipeline.measure.tables` (cases, entries, case-quarters, risk events),
:mod:`~pipeline.measure.shares` (interval and Rogan-Gladen maths), :mod:`~pipeline.measure.
measures` (each measure), :mod:`~pipeline.measure.compare`, :mod:`~pipeline.measure.validation`
(confusion matrices), :mod:`~pipeline.measure.io` (the output files), :mod:`~pipeline.measure.
run` (the step).
"""

from pipeline.measure.measures import GROUPINGS, MEASURES, MeasureSettings
from pipeline.measure.run import DEFAULT_OUT, MeasureResult, measure, parse_by

__all__ = [
    "DEFAULT_OUT",
    "GROUPINGS",
    "MEASURES",
    "MeasureResult",
    "MeasureSettings",
    "measure",
    "parse_by",
]
