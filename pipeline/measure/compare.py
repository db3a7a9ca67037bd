"""Comparisons: one group against the rest, or one period against another, as a difference
(a - b) with a bootstrap interval. Both sides come from the same replicates (the same resampled
cases and the same confusion draws), so the interval of the difference is paired.

Syntax (CLI and :func:`parse_group` / :func:`parse_periods`):

* ``region=Wales``: cases of that region against all other cases (any case attribute:
  ``region``, ``pdu``, ``team``, ``rosh_level``);
* ``2024-01:2024-06,2024-07:2024-12``: months from..to (inclusive) against months from..to, for
  the measures dated by month (entry shares and responsiveness; coverage and quarterly review
  are defined over a case's whole span and are not compared by period).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.errors import MeasureOptionError
from pipeline.measure import shares
from pipeline.measure.measures import Engine, Estimate, Grouping, MeasureSettings
from pipeline.measure.tables import CASE_GROUPINGS
from pipeline.schema import COMPARISONS_COLUMNS

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class GroupComparison:
    by: str
    value: str

    @property
    def label(self) -> str:
        return f"{self.by}: {self.value} vs others"


@dataclass(frozen=True)
class PeriodComparison:
    a: tuple[str, str]
    b: tuple[str, str]

    @staticmethod
    def _name(p: tuple[str, str]) -> str:
        return p[0] if p[0] == p[1] else f"{p[0]}..{p[1]}"

    @property
    def label(self) -> str:
        return f"period: {self._name(self.a)} vs {self._name(self.b)}"


def parse_group(text: str) -> GroupComparison:
    """``by=value``, e.g. ``region=Wales`` (``rosh`` is short for ``rosh_level``)."""
    by, sep, value = text.partition("=")
    by = by.strip().lower().replace("-", "_")
    by = "rosh_level" if by == "rosh" else by
    if not sep or not value.strip() or by not in CASE_GROUPINGS:
        raise MeasureOptionError(
            f"--compare takes GROUPING=VALUE with GROUPING one of {', '.join(CASE_GROUPINGS)}, "
            "e.g. region=Wales"
        )
    return GroupComparison(by, value.strip())


def parse_periods(text: str) -> PeriodComparison:
    """``FROM:TO,FROM:TO`` in months, e.g. ``2024-01:2024-06,2024-07:2024-12`` (a single month
    may stand for FROM:TO)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 2:
        raise MeasureOptionError(
            "--compare-periods takes two periods, e.g. 2024-01:2024-06,2024-07:2024-12"
        )
    periods = []
    for p in parts:
        lo, _, hi = p.partition(":")
        lo, hi = lo.strip(), (hi.strip() or lo.strip())
        if not (_MONTH.match(lo) and _MONTH.match(hi)) or lo > hi:
            raise MeasureOptionError(
                "a period is FROM:TO in YYYY-MM, FROM not after TO, e.g. 2024-01:2024-06"
            )
        periods.append((lo, hi))
    return PeriodComparison(periods[0], periods[1])


def _grouping(engine: Engine, spec: GroupComparison | PeriodComparison) -> Grouping:
    t = engine.t
    if isinstance(spec, GroupComparison):
        values = t.cases[spec.by].astype("string")
        if not (values == spec.value).fillna(False).any():
            raise MeasureOptionError(
                f"no case has {spec.by} = the value given to --compare; "
                "check the spelling against the measures table's groups"
            )
        codes = np.where((values == spec.value).fillna(False).to_numpy(), 0, 1)
        codes = np.where(values.isna().to_numpy(), -1, codes)
        return Grouping(spec.by, [spec.value, "others"], case_codes=codes.astype(np.int64))
    months = sorted(set(t.entries["month"]) | set(t.events["month"]))
    lookup: dict[str, int] = {}
    for m in months:
        if spec.a[0] <= m <= spec.a[1]:
            lookup[m] = 0
        elif spec.b[0] <= m <= spec.b[1]:
            lookup[m] = 1
    return Grouping(
        "period",
        [PeriodComparison._name(spec.a), PeriodComparison._name(spec.b)],
        month_codes=lookup,
    )


def _row(est: Estimate, label: str, settings: MeasureSettings) -> dict[str, object]:
    diff = est.est[:, 0] - est.est[:, 1]
    lo, hi = shares.percentile_interval(diff[1:, None], settings.confidence)
    n_a, n_b = int(est.n[0]), int(est.n[1])
    suppressed = min(n_a, n_b) < settings.suppression_threshold
    value = (lambda v: None) if suppressed else (lambda v: float(v))
    return {
        "measure": est.measure,
        "category": est.category,
        "comparison": label,
        "group_a": est.grouping.names[0],
        "group_b": est.grouping.names[1],
        "estimate_a": value(est.est[0, 0]),
        "estimate_b": value(est.est[0, 1]),
        "difference": value(diff[0]),
        "lower": value(lo[0]),
        "upper": value(hi[0]),
        "n_a": n_a,
        "n_b": n_b,
        "adjusted": est.adjusted,
        "suppressed": suppressed,
    }


def compare(engine: Engine, specs: Sequence[GroupComparison | PeriodComparison]) -> pd.DataFrame:
    """One row per comparison, measure and category."""
    rows = []
    for spec in specs:
        g = _grouping(engine, spec)
        for est in engine.all(g):
            rows.append(_row(est, spec.label, engine.s))
    frame = pd.DataFrame(rows, columns=list(COMPARISONS_COLUMNS))
    for c in ("estimate_a", "estimate_b", "difference", "lower", "upper"):
        frame[c] = frame[c].astype(float)
    frame["category"] = frame["category"].astype("string")
    return frame
