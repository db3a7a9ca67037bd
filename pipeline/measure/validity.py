"""Validity check of the measures on a synthetic export: do the intervals cover the truth?

The generator (``pipeline.synth``) draws every entry from known culture parameters
(``manifest.json``). Some parameters are a measure's value directly; for the others the true
value is the expectation the generator's own definitions give for the entries, cases and
quarters it actually drew (the *ground truth covariates*), so that the comparison is with what
the measure estimates, not with a different quantity:

* ``reactive_share``: E[PP requests] / E[known initiator] over the true entries, from each
  entry's trigger (back-cover requests are always PP requests; an unscheduled trigger has a known
  initiator with P = 1 - unknown_initiator and is a PP request with P = reactive_share of that;
  a scheduled one is never a PP request);
* ``defensive_share`` (overall and by true type): the mean of the generator's
  ``defensive_probability`` (defensive_base on the logit scale plus the type, initiator and
  back-cover shifts) over the true entries;
* ``coverage_substantive``: the mean over cases of 1 - prod(P(defensive)) over the case's entries;
* ``quarterly_review_high_rosh``: the mean over the generator's high-RoSH quarters of 1 when
  another review (MAPPA, panel, termination) fell in the quarter, else ``quarterly_review``;
* ``response_within_days`` (window 5): ``p_response_within_5_days`` of the manifest;
* ``catch_all_share``: the mean over entries of P(filed under MO1 / C002): (1 - misfile share)
  times 1 for triggers with no specific code (countersigning, PSR gatekeeping, AQA feedback),
  else times ``catch_all_share``.

``type_mix`` has no parameter: it is compared with the realised true shares (reported apart).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.labels import OVERSIGHT_TYPES
from pipeline.synth.cases import defensive_probability

_UNSCHEDULED = frozenset({"risk_response", "enforcement", "supervision"})
_NO_SPECIFIC_CODE = frozenset({"countersign", "psr_gatekeeping", "aqa_feedback"})
#: Measures whose truth comes from the parameters (the acceptance set).
PARAMETER_MEASURES: tuple[str, ...] = (
    "reactive_share",
    "defensive_share",
    "coverage_substantive",
    "quarterly_review_high_rosh",
    "response_within_days",
    "catch_all_share",
)


def true_values(labels: pd.DataFrame, cases: pd.DataFrame, manifest: dict) -> pd.DataFrame:
    """Columns ``region``, ``measure``, ``category``, ``truth``, ``kind`` (``parameter`` or
    ``realised``) for every region of a generated export."""
    glob = manifest["parameters"]["global"]
    params = manifest["parameters"]["regions"]
    ov = labels.loc[labels["is_oversight"].fillna(False).astype(bool)].copy()
    ov["day"] = pd.to_datetime(ov["contact_date"])
    rows: list[dict] = []
    for region, c in params.items():
        g = ov.loc[ov["region"] == region]
        if g.empty:
            continue
        u = c["unknown_initiator"]
        trig = g["trigger"].to_numpy()
        bc = trig == "back_cover"
        unsched = np.isin(trig, list(_UNSCHEDULED))
        pp = bc.sum() + unsched.sum() * (1 - u) * c["reactive_share"]
        known = bc.sum() + (~bc).sum() * (1 - u)
        rows.append(_row(region, "reactive_share", None, pp / known))

        p_def = np.array(
            [
                defensive_probability(c, glob, t, i, b)
                for t, i, b in zip(g["oversight_type_clean"], g["initiated_by"], bc, strict=True)
            ]
        )
        rows.append(_row(region, "defensive_share", None, p_def.mean()))
        for t in OVERSIGHT_TYPES:
            sel = (g["oversight_type_clean"] == t).to_numpy()
            if sel.any():
                rows.append(_row(region, "defensive_share", t, p_def[sel].mean()))
            rows.append(_row(region, "type_mix", t, float(sel.mean()), kind="realised"))

        cs = cases.loc[cases["region"] == region]
        log_def = pd.Series(np.log(p_def), index=g["crn"].to_numpy()).groupby(level=0).sum()
        p_cov = 1 - np.exp(cs["crn"].map(log_def).fillna(-np.inf).to_numpy())
        p_cov = np.where(cs["crn"].isin(log_def.index).to_numpy(), p_cov, 0.0)
        rows.append(_row(region, "coverage_substantive", None, float(p_cov.mean())))

        q_exp = _quarter_expectation(g, cs, c["quarterly_review"])
        if q_exp is not None:
            rows.append(_row(region, "quarterly_review_high_rosh", None, q_exp))
        rows.append(_row(region, "response_within_days", None, c["p_response_within_5_days"]))
        m = glob["misfile_other_share"]
        p_ca = np.where(np.isin(trig, list(_NO_SPECIFIC_CODE)), 1.0, c["catch_all_share"]) * (1 - m)
        rows.append(_row(region, "catch_all_share", None, float(p_ca.mean())))
        rows.append(
            _row(region, "median_response_delay_days", None, c["median_delay_days"], kind="parameter (not in the acceptance set)")
        )  # fmt: skip
    return pd.DataFrame(rows)


def _row(
    region: str, measure: str, category: str | None, truth: float, *, kind: str = "parameter"
) -> dict:
    return {
        "region": region,
        "measure": measure,
        "category": category,
        "truth": float(truth),
        "kind": kind,
    }


def _quarter_expectation(g: pd.DataFrame, cs: pd.DataFrame, qr: float) -> float | None:
    high = cs.loc[cs["high_rosh_quarters"] > 0]
    if high.empty:
        return None
    other = g.loc[(g["oversight_type_clean"] == "review") & (g["trigger"] != "quarterly_review")]
    other_days = other.groupby("crn")["day"].apply(list).to_dict()
    vals = []
    for crn, start, nq in zip(
        high["crn"], pd.to_datetime(high["start_date"]), high["high_rosh_quarters"], strict=True
    ):
        days = other_days.get(crn, [])
        for q in range(int(nq)):
            lo = start + pd.Timedelta(days=91 * q)
            hi = lo + pd.Timedelta(days=91)
            vals.append(1.0 if any(lo <= d < hi for d in days) else qr)
    return float(np.mean(vals))


def truth_from_synth(synth) -> pd.DataFrame:
    """:func:`true_values` of a :class:`~pipeline.synth.generate.Synth` held in memory."""
    labels = synth.labels.merge(synth.export[["contact_id", "contact_date"]], on="contact_id")
    return true_values(labels, synth.cases, synth.manifest)


def load_truth(folder: str | Path) -> pd.DataFrame:
    """:func:`true_values` of a generator folder (``labels.parquet``, ``cases.parquet``,
    ``manifest.json`` and the export, from which the contact dates are taken)."""
    import json

    from pipeline.datasets import _find_export
    from pipeline.ingest import iter_export

    p = Path(folder)
    labels = pd.read_parquet(p / "labels.parquet")
    cases = pd.read_parquet(p / "cases.parquet")
    manifest = json.loads((p / "manifest.json").read_text("utf-8"))
    dates = pd.concat(
        [c.frame[["contact_id", "contact_date"]] for c in iter_export(_find_export(p))],
        ignore_index=True,
    )
    labels = labels.merge(dates, on="contact_id", how="left")
    return true_values(labels, cases, manifest)


def coverage_table(measures: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The region rows of a measures table joined with the truth: ``covered`` (adjusted
    interval) and ``raw_covered`` (the raw interval), suppressed rows left out."""
    m = measures.loc[(measures["by"] == "region") & ~measures["suppressed"].astype(bool)].copy()
    m = m.rename(columns={"group": "region"})
    m["category"] = m["category"].astype(object).where(m["category"].notna(), None)
    t = truth.copy()
    key = ["region", "measure", "category"]
    m["_cat"] = m["category"].fillna("")
    t["_cat"] = t["category"].fillna("")
    out = m.merge(t.drop(columns="category"), on=["region", "measure", "_cat"], how="inner")
    out = out.drop(columns="_cat")
    out["covered"] = (out["lower"] <= out["truth"]) & (out["truth"] <= out["upper"])
    out["raw_covered"] = (out["raw_lower"] <= out["truth"]) & (out["truth"] <= out["raw_upper"])
    cols = [*key, "kind", "truth", "estimate", "lower", "upper", "raw_estimate", "raw_lower",
            "raw_upper", "n", "adjusted", "covered", "raw_covered"]  # fmt: skip
    return out[cols]
