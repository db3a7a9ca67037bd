"""Generate a synthetic nDelius export: the export tables, the ground truth and the manifest."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pandas as pd

from pipeline import __version__
from pipeline.labels import ATTRIBUTES, CONTENT_LABELS, OVERSIGHT_TYPES
from pipeline.schema import EXPORT_COLUMNS, LABEL_COLUMNS
from pipeline.synth.bank import load_profiles
from pipeline.synth.cases import CaseBuilder, contact_type, outcome_description

#: First contact id; nDelius ids are large integers.
CONTACT_ID_BASE = 2_500_000_000
GENERATOR_VERSION = "1"


@dataclass
class Synth:
    """A generated export: what a real system would hand over, plus the truth kept apart."""

    export: pd.DataFrame
    labels: pd.DataFrame
    cases: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)


def _spans_json(spans: list[tuple[int, int, str]]) -> str:
    # hand-built: json.dumps per contact was a measurable share of generation time
    return "[" + ",".join(f'[{a},{b},"{k}"]' for a, b, k in spans) + "]"


def _chunk(
    args: tuple[int, int, int, float],
) -> tuple[dict[str, list], dict[str, list], list[dict]]:
    """Build cases [start, stop) into column lists; contact ids are chunk-local until merged."""
    start, stop, seed, noise = args
    ex_rows: list[tuple] = []
    lb_rows: list[tuple] = []
    cases: list[dict] = []
    for index in range(start, stop):
        case = CaseBuilder(index, seed).build()
        noise_rng = random.Random(seed * 31 + index)
        f = case.facts
        base = len(ex_rows)
        local = {id(c): base + i for i, c in enumerate(case.contacts)}
        # case-level columns, denormalised onto every row as reporting extracts do
        case_cols = (case.region, case.team.pdu, case.team.name)
        risk_cols = (f.tier, f.rosh, f.mappa_level, f.mappa_cat, case.sentence.value)
        for c in case.contacts:
            cid = local[id(c)]
            created = c.when + timedelta(days=c.created_delay)
            # one tuple per row, transposed once at the end: far cheaper than 25 list appends
            ex_rows.append(
                (
                    cid, case.crn, f.pop_first, f.pop_last, c.when.isoformat(), c.time, c.code,
                    contact_type(c.code), c.outcome, outcome_description(c.outcome),
                    c.note.text, "Y" if c.sensitive else "N", "Y" if c.system else "N",
                    *case_cols,
                    c.staff.name if c.staff else "System",
                    c.staff.grade.value if c.staff else None,
                    c.created_by.name if c.created_by else "System",
                    f"{created.isoformat()}T{c.time}:00",
                    *risk_cols,
                )
            )  # fmt: skip
            otype = c.otype.value if c.otype else None
            content = c.content.value if c.content else None
            noisy_type, noisy_content, flipped = otype, content, False
            if c.is_oversight:
                if noise_rng.random() < noise:
                    noisy_type = noise_rng.choice([t for t in OVERSIGHT_TYPES if t != otype])
                    flipped = True
                if noise_rng.random() < noise:
                    noisy_content = next(x for x in CONTENT_LABELS if x != content)
                    flipped = True
            attrs = c.attrs
            lb_rows.append(
                (
                    cid, case.crn, case.region, c.is_oversight, noisy_type, noisy_content,
                    c.initiator.value if c.initiator else None, otype, content, flipped,
                    c.trigger, *(bool(attrs.get(a, False)) for a in ATTRIBUTES), c.risk_event,
                    local[id(c.responds_to)] if c.responds_to else None, c.delay,
                    _spans_json(c.note.spans),
                )
            )  # fmt: skip
        cases.append(
            {
                "crn": case.crn,
                "pop_forename": f.pop_first,
                "pop_surname": f.pop_last,
                "pop_dob": f.dob,
                "pop_pnc": f.pnc,
                "region": case.region,
                "pdu": case.team.pdu,
                "team": case.team.name,
                "tier": f.tier,
                "rosh_level": f.rosh,
                "mappa_level": f.mappa_level,
                "mappa_category": f.mappa_cat,
                "sentence_type": case.sentence.value,
                "pp_name": f.pp.name,
                "pp_grade": f.pp.grade.value,
                "spo_name": f.spo.name,
                "start_date": case.start.isoformat(),
                "end_date": case.end.isoformat(),
                "high_rosh_quarters": case.high_rosh_quarters,
                "n_contacts": len(case.contacts),
            }
        )
    ex = dict(zip(EXPORT_COLUMNS, map(list, zip(*ex_rows, strict=True)), strict=True))
    lb = dict(zip(LABEL_COLUMNS, map(list, zip(*lb_rows, strict=True)), strict=True))
    return ex, lb, cases


def _iter_chunks(
    n_cases: int, seed: int, noise: float, workers: int, chunk: int
) -> Iterator[tuple[int, tuple[dict, dict, list]]]:
    tasks = [(s, min(s + chunk, n_cases), seed, noise) for s in range(0, n_cases, chunk)]
    if workers <= 1 or len(tasks) == 1:
        for t in tasks:
            yield t[1] - t[0], _chunk(t)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for t, res in zip(tasks, pool.map(_chunk, tasks), strict=True):
            yield t[1] - t[0], res


def generate(
    n_cases: int,
    *,
    seed: int = 0,
    noise_rate: float = 0.03,
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Synth:
    """Generate ``n_cases`` cases. The same seed always gives the same tables, whatever ``workers``."""
    if n_cases < 1:
        raise ValueError("n_cases must be at least 1")
    if not 0.0 <= noise_rate < 0.5:
        raise ValueError("noise_rate must be in [0, 0.5)")
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    chunk = max(25, min(500, math.ceil(n_cases / (workers * 4))))
    ex_parts, lb_parts, case_rows = [], [], []
    offset = 0
    for done, (ex, lb, cases) in _iter_chunks(n_cases, seed, noise_rate, workers, chunk):
        n = len(ex["contact_id"])
        ex["contact_id"] = [str(CONTACT_ID_BASE + offset + i) for i in ex["contact_id"]]
        lb["contact_id"] = ex["contact_id"]
        lb["responds_to"] = [
            None if r is None else str(CONTACT_ID_BASE + offset + r) for r in lb["responds_to"]
        ]
        offset += n
        ex_parts.append(pd.DataFrame(ex, columns=list(EXPORT_COLUMNS)))
        lb_parts.append(pd.DataFrame(lb, columns=list(LABEL_COLUMNS)))
        case_rows.extend(cases)
        if progress:
            progress(done)
    export = pd.concat(ex_parts, ignore_index=True)
    labels = pd.concat(lb_parts, ignore_index=True)
    labels["response_delay_days"] = labels["response_delay_days"].astype("Int32")
    cases_df = pd.DataFrame(case_rows)
    manifest = build_manifest(export, labels, cases_df, seed=seed, noise_rate=noise_rate)
    return Synth(export, labels, cases_df, manifest)


def _lognormal_cdf(x: float, median: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf((math.log(x) - math.log(median)) / (sigma * math.sqrt(2))))


def build_manifest(
    export: pd.DataFrame,
    labels: pd.DataFrame,
    cases: pd.DataFrame,
    *,
    seed: int,
    noise_rate: float,
) -> dict[str, Any]:
    """The true culture parameters, the same measures realised in this draw, and counts."""
    prof = load_profiles()
    glob = prof["global"]
    params: dict[str, Any] = {}
    for region, spec in prof["regions"].items():
        c = dict(spec["culture"])
        # P(a risk event gets a risk/enforcement response within N days), for N = 5
        # delay = floor(lognormal) <= 5  <=>  lognormal < 6
        c["p_response_within_5_days"] = c["response_rate"] * _lognormal_cdf(
            6.0, c["median_delay_days"], glob["delay_sigma"]
        )
        params[region] = c
    ov = labels[labels["is_oversight"]]
    population: dict[str, Any] = {}
    for region, g in ov.groupby("region", sort=True):
        known = g[g["initiated_by"] != "unknown"]
        risk_events = labels[(labels["region"] == region) & labels["risk_event"].notna()]
        responded = set(
            g.loc[g["responds_to"].notna() & (g["response_delay_days"] <= 5), "responds_to"]
        )
        population[region] = {
            "oversight_entries": int(len(g)),
            "reactive_share": float((known["initiated_by"] == "pp_request").mean()),
            "defensive_share": float((g["content_clean"] == "defensive").mean()),
            "defensive_share_by_type": {
                t: float((gt["content_clean"] == "defensive").mean())
                for t, gt in g.groupby("oversight_type_clean", sort=True)
            },
            "risk_events": int(len(risk_events)),
            "responded_within_5_days": float(risk_events["contact_id"].isin(responded).mean())
            if len(risk_events)
            else None,
            "type_mix": {
                t: int(n) for t, n in g["oversight_type_clean"].value_counts().sort_index().items()
            },
        }
    codes = export.set_index("contact_id").loc[ov["contact_id"], "contact_type_code"]
    return {
        "generator": {
            "name": "oversight-nlp synth",
            "version": GENERATOR_VERSION,
            "package_version": __version__,
            "seed": seed,
            "noise_rate": noise_rate,
        },
        "counts": {
            "cases": int(len(cases)),
            "contacts": int(len(export)),
            "oversight_entries": int(len(ov)),
            "empty_notes": int((export["notes"] == "").sum()),
            "label_flipped": int(labels["label_flipped"].sum()),
            "catch_all_share": float(codes.isin(["MO1", "C002"]).mean()) if len(ov) else None,
        },
        "definitions": {
            "reactive_share": "P(pp_request | trigger in {risk_response, enforcement, supervision}, initiator known)",
            "defensive": "P(defensive) = sigmoid(logit(defensive_base) + type_shift[type] + initiator_shift[initiator] + back_cover_shift * [trigger == back_cover])",
            "response": "each risk event gets a response with P = response_rate, after floor(LogNormal(log(median_delay_days), delay_sigma)) days",
            "quarterly_review": "P(review in a quarter) for each full 91-day quarter of a high/very high RoSH case",
        },
        "parameters": {"global": glob, "regions": params},
        "population": population,
    }
