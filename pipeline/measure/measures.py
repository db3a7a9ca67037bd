"""The culture measures of domain.md section 4, each with a 95% interval and the count behind it,
adjusted for classifier error where a validated confusion matrix is available.

Two shapes of measure:

* **shares of entries** (reactive, defensive, defensive by type, type mix, catch-all): class
  counts per group; the adjusted share is multiclass Rogan-Gladen on the predicted shares
  (:func:`~pipeline.measure.shares.rogan_gladen`);
* **"at least one" measures over units** (coverage over cases, quarterly review over high-RoSH
  case-quarters, response over risk events): a unit counts when one of its entries is of the
  wanted kind. Raw: by predicted label. Adjusted: the probability that at least one of its
  entries truly is, each entry's P(true in set | predicted) by Bayes' rule from the confusion
  and the group's adjusted prevalence (entries taken as independent given their predictions).

Intervals come from one cluster bootstrap by case that also redraws the validation confusion
(Dirichlet per true class), so they carry both sampling and validation uncertainty. Detection
errors (an oversight entry missed or a non-oversight contact taken for one) are not adjusted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.labels import CONTENT_LABELS, INITIATORS, OVERSIGHT_TYPES, Content, Initiator
from pipeline.labels import OversightType as OT
from pipeline.measure import shares
from pipeline.measure.tables import CASE_GROUPINGS, MeasureTables, first_delay, unit_class_counts
from pipeline.measure.validation import Validation
from pipeline.schema import MEASURE_ESTIMATE_COLUMNS, MEASURES_COLUMNS

MEASURES: tuple[str, ...] = (
    "reactive_share",
    "defensive_share",
    "coverage_substantive",
    "quarterly_review_high_rosh",
    "response_within_days",
    "median_response_delay_days",
    "type_mix",
    "catch_all_share",
)
GROUPINGS: tuple[str, ...] = ("overall", *CASE_GROUPINGS, "month")


def definitions(*, window: int, lookahead: int) -> dict[str, str]:
    """One sentence per measure, as ``measures.json`` states them."""
    return {
        "reactive_share": "Oversight entries initiated at a practitioner's request, of all "
        "entries whose initiator is known (initiator from the rules).",
        "defensive_share": "Defensive entries of all oversight entries; with a category, of the "
        "entries of that oversight type.",
        "coverage_substantive": "Cases with at least one substantive oversight entry in their "
        "observed span in the export (allocation to last non-oversight contact), of all cases.",
        "quarterly_review_high_rosh": "Full 91-day quarters of high / very high RoSH cases "
        "(counted from allocation) holding at least one review entry, of all such quarters.",
        "response_within_days": f"Risk events followed by a risk or enforcement oversight entry "
        f"on the same case within {window} days (same day counts), of all risk events; the "
        "estimate discounts entries that would have fallen in the window anyway (the rate in "
        "the weeks before each event), the raw figure does not.",
        "median_response_delay_days": f"Median days from a risk event to the first risk or "
        f"enforcement entry, among events with one within {lookahead} days (predicted labels).",
        "type_mix": "Oversight entries of each type, of all oversight entries.",
        "catch_all_share": "Oversight entries filed under the catch-all codes MO1 / C002, of all "
        "oversight entries.",
    }


@dataclass(frozen=True)
class MeasureSettings:
    """Options of a measure run (defaults: ``params.yaml`` ``measure:``)."""

    response_window_days: int = 5
    lookahead_days: int = 30
    background_days: int = 30
    suppression_threshold: int = 10
    confidence: float = 0.95
    n_boot: int = 1000
    seed: int = 0
    adjust: bool = True


@dataclass
class Grouping:
    """How units fall into groups: by a case attribute (``case_codes``), by month
    (``month_codes``), or both unset for one group of everything."""

    by: str
    names: list[str]
    case_codes: np.ndarray | None = None
    month_codes: dict[str, int] | None = None

    def codes(self, units: pd.DataFrame) -> np.ndarray:
        case = units["case"].to_numpy(dtype=np.int64)
        if self.case_codes is not None:
            return self.case_codes[case] if len(case) else np.empty(0, dtype=np.int64)
        if self.month_codes is not None:
            if "month" not in units.columns:
                return np.full(len(units), -1, dtype=np.int64)
            return units["month"].map(self.month_codes).fillna(-1).to_numpy(dtype=np.int64)
        return np.zeros(len(units), dtype=np.int64)

    @property
    def by_month(self) -> bool:
        return self.month_codes is not None


@dataclass
class Estimate:
    """One measure (and category) for every group of a grouping, as replicate stacks: row 0 the
    observed data, rows 1.. the bootstrap. ``n`` is the count behind each group's figure,
    ``n_cases`` the distinct cases among those units."""

    measure: str
    category: str | None
    grouping: Grouping
    est: np.ndarray
    raw: np.ndarray
    n: np.ndarray
    n_cases: np.ndarray
    adjusted: bool
    method: str
    unit: str = "share"
    #: True when ``est`` is not simply ``raw`` (classifier-error adjusted, or corrected for the
    #: background rate of responses): its interval then comes from its own replicates
    corrected: bool = False


def case_grouping(tables: MeasureTables, by: str) -> Grouping:
    """A grouping by a case attribute; cases with no value fall in no group."""
    values = tables.cases[by].astype("string")
    names = sorted(v for v in values.dropna().unique())
    lookup = {n: i for i, n in enumerate(names)}
    codes = values.map(lookup).fillna(-1).to_numpy(dtype=np.int64)
    return Grouping(by, names, case_codes=codes)


def month_grouping(tables: MeasureTables) -> Grouping:
    months = sorted(set(tables.entries["month"]) | set(tables.events["month"]))
    return Grouping("month", months, month_codes={m: i for i, m in enumerate(months)})


def make_grouping(tables: MeasureTables, by: str) -> Grouping:
    if by == "overall":
        return Grouping("overall", ["all"])
    if by == "month":
        return month_grouping(tables)
    return case_grouping(tables, by)


class Engine:
    """Computes the measures for any grouping with shared bootstrap weights and confusion
    draws, so differences between groups (comparisons) are paired replicate by replicate."""

    def __init__(
        self, tables: MeasureTables, validation: Validation, settings: MeasureSettings
    ) -> None:
        self.t = tables
        self.s = settings
        self.w = shares.case_weights(tables.n_cases, n_boot=settings.n_boot, seed=settings.seed)
        self.m: dict[str, np.ndarray] = {}
        if settings.adjust:
            for i, (head, counts) in enumerate(sorted(validation.confusions.items())):
                self.m[head] = shares.confusion_draws(
                    counts, n_boot=settings.n_boot, seed=settings.seed + 101 + i
                )
        e = tables.entries
        self.event_counts = unit_class_counts(
            tables.events,
            e,
            label="otype",
            n_classes=len(OVERSIGHT_TYPES),
            lo=0,
            hi=settings.response_window_days + 1,
        )
        # control windows: the background_days before each event (within the case's span)
        ev = tables.events.copy()
        starts = tables.cases["start"].to_numpy()[ev["case"].to_numpy()] if len(ev) else []
        ev["bg_lo"] = np.maximum(ev["day"].to_numpy() - settings.background_days, starts)
        ev["bg_lo"] = np.minimum(ev["bg_lo"], ev["day"])
        self.event_bg_days = (ev["day"] - ev["bg_lo"]).to_numpy(dtype=np.float64)
        self.event_bg_counts = unit_class_counts(
            ev, e, label="otype", n_classes=len(OVERSIGHT_TYPES), lo="bg_lo", hi="day"
        )
        self.quarter_counts = unit_class_counts(
            tables.quarters, e, label="otype", n_classes=len(OVERSIGHT_TYPES), lo="start", hi="end"
        )
        self.case_content = np.zeros((tables.n_cases, len(CONTENT_LABELS)))
        ok = e["content"].to_numpy() >= 0
        np.add.at(self.case_content, (e["case"].to_numpy()[ok], e["content"].to_numpy()[ok]), 1)
        self.delays = first_delay(
            tables.events, e, classes=_RESPONSIVE, lookahead=settings.lookahead_days
        )
        self._overall = Grouping("overall", ["all"])

    # --- helpers ------------------------------------------------------------------------------
    @property
    def n_reps(self) -> int:
        return self.w.shape[0]

    def _totals(self, g: Grouping, units: pd.DataFrame, cls: np.ndarray, k: int) -> np.ndarray:
        return shares.class_totals(
            units["case"].to_numpy(dtype=np.int64), g.codes(units), len(g.names), cls, k, self.w
        )

    def _n_cases(
        self, g: Grouping, units: pd.DataFrame, mask: np.ndarray | None = None
    ) -> np.ndarray:
        codes = g.codes(units)
        case = units["case"].to_numpy(dtype=np.int64)
        keep = codes >= 0 if mask is None else (codes >= 0) & mask
        pairs = pd.DataFrame({"g": codes[keep], "c": case[keep]}).drop_duplicates()
        return np.bincount(pairs["g"].to_numpy(), minlength=len(g.names))[: len(g.names)]

    @staticmethod
    def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)

    def _prevalence(self, g: Grouping, label: str, k: int, head: str) -> np.ndarray:
        """Adjusted class shares of entries ``(R, G, K)`` in each group, the overall shares
        where a group has no entries."""
        e = self.t.entries
        t = self._totals(g, e, e[label].to_numpy(), k)
        p = shares.rogan_gladen(self._ratio(t, t.sum(-1, keepdims=True)), self.m[head])
        t0 = self._totals(self._overall, e, e[label].to_numpy(), k)
        p0 = shares.rogan_gladen(self._ratio(t0, t0.sum(-1, keepdims=True)), self.m[head])
        return np.where(np.isnan(p), p0, p)

    # --- entry shares -------------------------------------------------------------------------
    def reactive(self, g: Grouping) -> list[Estimate]:
        e = self.t.entries
        t = self._totals(g, e, e["initiator"].to_numpy(), len(INITIATORS))
        pp, unknown = INITIATORS.index(Initiator.PP_REQUEST), INITIATORS.index(Initiator.UNKNOWN)
        known = t.sum(-1) - t[..., unknown]
        raw = self._ratio(t[..., pp], known)
        est, adjusted = raw, False
        if "initiated_by" in self.m:
            p = shares.rogan_gladen(
                self._ratio(t, t.sum(-1, keepdims=True)), self.m["initiated_by"]
            )
            est, adjusted = self._ratio(p[..., pp], 1 - p[..., unknown]), True
        mask = (e["initiator"] >= 0).to_numpy() & (e["initiator"] != unknown).to_numpy()
        return [
            self._estimate("reactive_share", None, g, est, raw, known[0], e, mask, adjusted, "rg")
        ]

    def defensive(self, g: Grouping) -> list[Estimate]:
        e = self.t.entries
        d = CONTENT_LABELS.index(Content.DEFENSIVE)
        t = self._totals(g, e, e["content"].to_numpy(), len(CONTENT_LABELS))
        total = t.sum(-1)
        raw = self._ratio(t[..., d], total)
        est, adjusted = raw, False
        if "content" in self.m:
            est = shares.rogan_gladen(self._ratio(t, total[..., None]), self.m["content"])[..., d]
            adjusted = True
        has = (e["content"] >= 0).to_numpy()
        out = [
            self._estimate("defensive_share", None, g, est, raw, total[0], e, has, adjusted, "rg")
        ]
        # by type: the joint (type, content) distribution, so a type's share is adjusted for
        # entries of other types mistaken for it as well as for content errors
        kt, kc = len(OVERSIGHT_TYPES), len(CONTENT_LABELS)
        ot, ct = e["otype"].to_numpy(), e["content"].to_numpy()
        joint = np.where((ot >= 0) & (ct >= 0), ot * kc + ct, -1)
        tj = self._totals(g, e, joint, kt * kc)
        pj = None
        if "content" in self.m and "oversight_type" in self.m:
            rates = shares.joint_confusion(self.m["oversight_type"], self.m["content"])
            pj = shares.rogan_gladen(self._ratio(tj, tj.sum(-1, keepdims=True)), rates)
            pj = pj.reshape(*pj.shape[:-1], kt, kc)
        tj = tj.reshape(*tj.shape[:-1], kt, kc)
        for i, label in enumerate(OVERSIGHT_TYPES):
            n_t = tj[..., i, :].sum(-1)
            raw_t = self._ratio(tj[..., i, d], n_t)
            est_t = raw_t if pj is None else self._ratio(pj[..., i, d], pj[..., i, :].sum(-1))
            out.append(
                self._estimate(
                    "defensive_share", label, g, est_t, raw_t, n_t[0], e, joint // kc == i,
                    pj is not None, "rg",
                )
            )  # fmt: skip
        return out

    def type_mix(self, g: Grouping) -> list[Estimate]:
        e = self.t.entries
        t = self._totals(g, e, e["otype"].to_numpy(), len(OVERSIGHT_TYPES))
        total = t.sum(-1)
        raw = self._ratio(t, total[..., None])
        est, adjusted = raw, False
        if "oversight_type" in self.m:
            est, adjusted = shares.rogan_gladen(raw, self.m["oversight_type"]), True
        has = (e["otype"] >= 0).to_numpy()
        return [
            self._estimate("type_mix", lab, g, est[..., i], raw[..., i], total[0], e, has, adjusted, "rg")
            for i, lab in enumerate(OVERSIGHT_TYPES)
        ]  # fmt: skip

    def catch_all(self, g: Grouping) -> list[Estimate]:
        e = self.t.entries
        t = self._totals(g, e, e["catch_all"].to_numpy().astype(np.int64), 2)
        total = t.sum(-1)
        raw = self._ratio(t[..., 1], total)
        # the contact code is read, not predicted: nothing to adjust
        return [self._estimate("catch_all_share", None, g, raw, raw, total[0], e, None, False, "")]

    # --- "at least one" measures over units ---------------------------------------------------
    def _any(
        self,
        measure: str,
        g: Grouping,
        units: pd.DataFrame,
        counts: np.ndarray,
        in_set: Sequence[int],
        head: str,
        label: str,
        background: tuple[np.ndarray, np.ndarray, int] | None = None,
    ) -> Estimate | None:
        """Share of units with at least one entry in ``in_set``. With ``background``
        (per-unit class counts in a control window before the unit, the window's days, and the
        measured window's days), entries that would fall in the window anyway are discounted:
        with a background hit probability ``b`` (from the control windows' rate of such entries)
        the share is ``1 - (1 - hit share) / (1 - b)``."""
        codes = g.codes(units)
        if g.by_month and "month" not in units.columns:
            return None  # not defined by month (case-level units)
        n_g = len(g.names)
        k = counts.shape[1]
        s = np.zeros(k)
        s[list(in_set)] = 1
        case = units["case"].to_numpy(dtype=np.int64)
        hit = (counts[:, s > 0].sum(axis=1) > 0).astype(np.float32)
        den = shares.unit_totals(case, codes, n_g, np.ones(len(units), np.float32), self.w)
        raw = self._ratio(shares.unit_totals(case, codes, n_g, hit, self.w), den)
        est, adjusted, kind = raw, False, "posterior"
        bg_num = bg_days = None
        if background is not None:
            bg_counts, days, window = background
            bg_days = shares.unit_totals(case, codes, n_g, days.astype(np.float32), self.w)
            bg_num = shares.unit_totals(
                case, codes, n_g, bg_counts[:, s > 0].sum(axis=1).astype(np.float32), self.w
            )
        if head in self.m and len(units):
            q = shares.posterior_in_set(self.m[head], self._prevalence(g, label, k, head), s)
            log_miss = np.log(np.clip(1 - q, 1e-12, 1)).astype(np.float32)  # (R, G, K)
            q32 = q.astype(np.float32)
            num = np.zeros((self.n_reps, n_g))
            bg_adj = np.zeros((self.n_reps, n_g))
            cg = np.where(codes >= 0, codes, 0)
            for lo in range(0, self.n_reps, 200):
                hi = min(lo + 200, self.n_reps)
                lg = np.zeros((hi - lo, len(units)), dtype=np.float32)
                bg = np.zeros((hi - lo, len(units)), dtype=np.float32)
                for j in range(k):
                    if counts[:, j].any():
                        lg += counts[:, j].astype(np.float32)[None, :] * log_miss[lo:hi, cg, j]
                    if background is not None and background[0][:, j].any():
                        bg += background[0][:, j].astype(np.float32)[None, :] * q32[lo:hi, cg, j]
                p_any = 1 - np.exp(lg)
                num[lo:hi] = shares.unit_totals(case, codes, n_g, p_any, self.w[lo:hi])
                if background is not None:
                    bg_adj[lo:hi] = shares.unit_totals(case, codes, n_g, bg, self.w[lo:hi])
            est, adjusted = self._ratio(num, den), True
            if background is not None:
                bg_num = bg_adj
        if background is not None:
            rate = self._ratio(bg_num, bg_days)
            b = 1 - np.exp(-np.nan_to_num(rate) * background[2])
            est = np.clip(1 - (1 - est) / (1 - b), 0, 1)
            kind = "posterior-background" if adjusted else "background"
        return self._estimate(
            measure, None, g, est, raw, den[0], units, None, adjusted, kind,
            corrected=adjusted or background is not None,
        )  # fmt: skip

    def coverage(self, g: Grouping) -> list[Estimate]:
        if not self.t.has_export or g.by_month:
            return []
        cases = pd.DataFrame({"case": np.arange(self.t.n_cases)})
        sub = CONTENT_LABELS.index(Content.SUBSTANTIVE)
        est = self._any(
            "coverage_substantive", g, cases, self.case_content, [sub], "content", "content"
        )
        return [est] if est is not None else []

    def quarterly_review(self, g: Grouping) -> list[Estimate]:
        if not self.t.has_export or g.by_month:
            return []
        est = self._any(
            "quarterly_review_high_rosh",
            g,
            self.t.quarters,
            self.quarter_counts,
            [OVERSIGHT_TYPES.index(OT.REVIEW)],
            "oversight_type",
            "otype",
        )
        return [est] if est is not None else []

    def response(self, g: Grouping) -> list[Estimate]:
        if not self.t.has_export:
            return []
        out = []
        est = self._any(
            "response_within_days",
            g,
            self.t.events,
            self.event_counts,
            _RESPONSIVE,
            "oversight_type",
            "otype",
            background=(self.event_bg_counts, self.event_bg_days, self.s.response_window_days + 1),
        )
        if est is not None:
            out.append(est)
        ev = self.t.events
        codes = g.codes(ev)
        responded = ~np.isnan(self.delays)
        reps = np.full((self.n_reps, len(g.names)), np.nan)
        n = np.zeros(len(g.names), dtype=np.int64)
        case = ev["case"].to_numpy(dtype=np.int64)
        for i in range(len(g.names)):
            sel = responded & (codes == i)
            n[i] = int(sel.sum())
            if n[i]:
                d = self.delays[sel]
                reps[:, i] = shares.weighted_medians(d, self.w[:, case[sel]])
                reps[0, i] = float(np.median(d))
        out.append(
            Estimate(
                "median_response_delay_days",
                None,
                g,
                reps,
                reps,
                n,
                self._n_cases(g, ev, responded),
                False,
                "bootstrap-median",
                unit="days",
                corrected=True,
            )
        )
        return out

    def _estimate(
        self,
        measure: str,
        category: str | None,
        g: Grouping,
        est: np.ndarray,
        raw: np.ndarray,
        n: np.ndarray,
        units: pd.DataFrame,
        mask: np.ndarray | None,
        adjusted: bool,
        kind: str,
        *,
        corrected: bool | None = None,
    ) -> Estimate:
        method = {
            "rg": "rogan-gladen+bootstrap",
            "posterior": "posterior+bootstrap",
            "posterior-background": "posterior+background+bootstrap",
            "background": "background+bootstrap",
        }.get(kind, "wilson-deff")
        return Estimate(
            measure,
            category,
            g,
            est,
            raw,
            np.rint(n).astype(np.int64),
            self._n_cases(g, units, mask),
            adjusted,
            method if (adjusted if corrected is None else corrected) else "wilson-deff",
            corrected=adjusted if corrected is None else corrected,
        )

    def all(self, g: Grouping) -> list[Estimate]:
        """Every measure for one grouping."""
        steps: tuple[Callable[[Grouping], list[Estimate]], ...] = (
            self.reactive,
            self.defensive,
            self.coverage,
            self.quarterly_review,
            self.response,
            self.type_mix,
            self.catch_all,
        )
        return [est for step in steps for est in step(g)]


_RESPONSIVE: tuple[int, ...] = tuple(OVERSIGHT_TYPES.index(t) for t in (OT.RISK, OT.ENFORCEMENT))


# --- from replicates to rows --------------------------------------------------------------------


def intervals(est: Estimate, *, confidence: float) -> dict[str, np.ndarray]:
    """Point estimates and intervals per group of an :class:`Estimate`.

    Raw shares: Wilson on the effective sample size (:func:`~shares.wilson_deff`). Adjusted
    shares: the bootstrap percentile interval, widened where needed to at least the raw
    interval's width around the adjusted point, since a small group whose replicates barely
    vary (all entries alike) must not look more certain than its count allows. Medians: the
    bootstrap percentile interval."""
    point, boot = est.est[0], est.est[1:]
    raw_point, raw_boot = est.raw[0], est.raw[1:]
    if est.unit == "days":
        lo, hi = shares.percentile_interval(boot, confidence)
        return {
            "estimate": point, "lower": lo, "upper": hi,
            "raw_estimate": raw_point, "raw_lower": lo, "raw_upper": hi,
        }  # fmt: skip
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # groups empty in every replicate
        var = np.nanvar(raw_boot, axis=0) if len(raw_boot) else np.full(len(raw_point), np.nan)
    raw_lo, raw_hi = shares.wilson_deff(raw_point, est.n, var, est.n_cases, confidence=confidence)
    if not est.corrected:
        return {
            "estimate": raw_point, "lower": raw_lo, "upper": raw_hi,
            "raw_estimate": raw_point, "raw_lower": raw_lo, "raw_upper": raw_hi,
        }  # fmt: skip
    lo, hi = shares.percentile_interval(boot, confidence)
    lo = np.clip(np.fmin(lo, point - (raw_point - raw_lo)), 0, 1)
    hi = np.clip(np.fmax(hi, point + (raw_hi - raw_point)), 0, 1)
    return {
        "estimate": point, "lower": lo, "upper": hi,
        "raw_estimate": raw_point, "raw_lower": raw_lo, "raw_upper": raw_hi,
    }  # fmt: skip


def to_rows(estimates: Sequence[Estimate], settings: MeasureSettings) -> pd.DataFrame:
    """The long measures table of the contract (one row per measure, category, by, group)."""
    frames = []
    for est in estimates:
        iv = intervals(est, confidence=settings.confidence)
        f = pd.DataFrame(
            {
                "measure": est.measure,
                "category": est.category,
                "by": est.grouping.by,
                "group": est.grouping.names,
                "unit": est.unit,
                **{k: np.asarray(v, dtype=float) for k, v in iv.items()},
                "adjusted": est.adjusted,
                "method": est.method,
                "n": est.n.astype(np.int64),
            }
        )
        f["suppressed"] = f["n"] < settings.suppression_threshold
        value_cols = list(MEASURE_ESTIMATE_COLUMNS)
        f.loc[f["suppressed"], value_cols] = np.nan
        frames.append(f)
    if not frames:
        return empty_rows()
    out = pd.concat(frames, ignore_index=True)
    out["category"] = out["category"].astype("string")
    return out[list(MEASURES_COLUMNS)]


def empty_rows() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in MEASURES_COLUMNS})


def compute(
    tables: MeasureTables,
    validation: Validation,
    settings: MeasureSettings,
    *,
    by: Sequence[str] = GROUPINGS,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, Engine]:
    """Every measure, overall and for each grouping in ``by``; returns the rows and the engine
    (whose replicates comparisons reuse)."""
    engine = Engine(tables, validation, settings)
    estimates: list[Estimate] = []
    for b in dict.fromkeys(["overall", *by]):
        estimates.extend(engine.all(make_grouping(tables, b)))
        if progress:
            progress(b)
    return to_rows(estimates, settings), engine
