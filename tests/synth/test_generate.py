"""The synthetic export: determinism, structure, PII ground truth and known culture parameters."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from pipeline.labels import (
    CONTACT_TYPES,
    CONTENT_LABELS,
    INITIATORS,
    OVERSIGHT_TYPES,
    PII_KINDS,
    SYSTEM_CODES,
)
from pipeline.schema import EXPORT_COLUMNS, LABEL_COLUMNS
from pipeline.synth import generate
from pipeline.synth.bank import load_people
from pipeline.synth.cases import defensive_probability

PATTERNS = {
    "CRN": re.compile(r"[A-Z]\d{6}"),
    "PNC": re.compile(r"\d{2,4}/\d{6,7}[A-Z]"),
    "NI_NUMBER": re.compile(r"[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]"),
    "DOB": re.compile(r"\d{2}/\d{2}/\d{4}"),
    "PHONE": re.compile(r"(\+44 |0)\d{2,4}[ \d]{6,10}"),
    "EMAIL": re.compile(r"[a-z0-9._'-]+@[a-z.]+"),
    "ADDRESS": re.compile(r"(Flat \d+, )?\d+ [A-Z][\w' -]+(, [A-Z][a-z]+)?"),
    "POSTCODE": re.compile(r"[A-Z]{1,2}\d{1,2} \d[A-Z]{2}"),
}


def test_same_seed_same_export_whatever_the_workers():
    a = generate(12, seed=3, workers=1)
    b = generate(12, seed=3, workers=2)
    pd.testing.assert_frame_equal(a.export, b.export)
    pd.testing.assert_frame_equal(a.labels, b.labels)
    assert json.dumps(a.manifest, sort_keys=True, default=str) == json.dumps(
        b.manifest, sort_keys=True, default=str
    )
    c = generate(12, seed=4, workers=1)
    assert not a.export["notes"].equals(c.export["notes"])


def test_tables_have_the_schema_columns_and_unique_ids(small_synth):
    ex, lb = small_synth.export, small_synth.labels
    assert tuple(ex.columns) == EXPORT_COLUMNS
    assert tuple(lb.columns) == LABEL_COLUMNS
    assert ex["contact_id"].is_unique and ex["contact_id"].tolist() == lb["contact_id"].tolist()
    assert ex["crn"].str.fullmatch(r"[A-Z]\d{6}").all()
    assert small_synth.cases["crn"].is_unique and len(small_synth.cases) == 40
    pd.to_datetime(ex["contact_date"], format="%Y-%m-%d")  # every date parses


def test_contacts_per_case_and_oversight_volume(culture_synth):
    per_case = culture_synth.export.groupby("crn").size()
    assert 20 <= per_case.median() <= 60
    share = culture_synth.labels["is_oversight"].mean()
    assert 0.08 < share < 0.3  # tens of thousands of entries at 10,000 cases


def test_oversight_labels_are_valid_and_non_oversight_rows_carry_none(culture_synth):
    lb = culture_synth.labels
    ov, other = lb[lb["is_oversight"]], lb[~lb["is_oversight"]]
    assert set(ov["oversight_type"]) <= set(OVERSIGHT_TYPES)
    assert set(ov["content"]) <= set(CONTENT_LABELS)
    assert set(ov["initiated_by"]) <= set(INITIATORS)
    assert other[["oversight_type", "content", "initiated_by"]].isna().all().all()
    codes = culture_synth.export.loc[lb["is_oversight"].to_numpy(), "contact_type_code"]
    assert not set(codes) & SYSTEM_CODES and set(codes) <= set(CONTACT_TYPES)


def test_every_region_shows_every_type_and_content(culture_synth):
    ov = culture_synth.labels[culture_synth.labels["is_oversight"]]
    for region, g in ov.groupby("region"):
        assert set(g["oversight_type_clean"]) == set(OVERSIGHT_TYPES), region
        assert set(g["content_clean"]) == set(CONTENT_LABELS), region


def test_catch_all_codes_hold_several_true_types(culture_synth):
    ex, lb = culture_synth.export, culture_synth.labels
    mo1 = lb.loc[(ex["contact_type_code"] == "MO1").to_numpy() & lb["is_oversight"]]
    assert mo1["oversight_type_clean"].nunique() == len(OVERSIGHT_TYPES)


def test_some_oversight_is_filed_under_ordinary_codes(culture_synth):
    ex, lb = culture_synth.export, culture_synth.labels
    ordinary = ex["contact_type_code"].isin(["COTH"]).to_numpy()
    assert (lb["is_oversight"] & ordinary).sum() > 0
    assert (
        ~lb["is_oversight"] & ex["contact_type_code"].isin(["CSPO", "C238"]).to_numpy()
    ).sum() > 0


def test_notes_have_headers_empty_and_long_cases(culture_synth):
    notes = culture_synth.export["notes"]
    assert (notes == "").sum() > 0
    assert (
        notes.str.contains(r"Comment added by .+ on \d{2}/\d{2}/\d{4} at \d{2}:\d{2}").sum() > 100
    )
    assert notes.str.count("Comment added by").max() >= 2  # several blocks in one contact
    assert notes.str.len().max() > 2000
    assert notes.str.contains("\n").sum() > 0


def test_every_pii_span_points_at_the_right_characters(culture_synth):
    ex, lb, cases = culture_synth.export, culture_synth.labels, culture_synth.cases
    truth = cases.set_index("crn")
    pool = load_people()
    name_words = {
        w
        for n in pool["first_names"]["male"] + pool["first_names"]["female"] + pool["surnames"]
        for w in n.split()
    }
    n_spans = dict.fromkeys(PII_KINDS, 0)
    for notes, crn, spans in zip(ex["notes"], ex["crn"], lb["pii_spans"], strict=True):
        prev_end = 0
        for start, end, kind in json.loads(spans):
            assert prev_end <= start < end <= len(notes)
            prev_end = end
            text = notes[start:end]
            n_spans[kind] += 1
            if kind == "PERSON":
                assert all(w in name_words for w in text.split()), text
            else:
                assert PATTERNS[kind].fullmatch(text), (kind, text)
            if kind == "CRN":
                assert text == crn
            elif kind == "DOB":
                assert text == truth.loc[crn, "pop_dob"]
            elif kind == "PNC":
                assert text == truth.loc[crn, "pop_pnc"]
    assert all(n > 0 for n in n_spans.values()), n_spans


def test_label_noise_rate_is_about_what_was_asked(culture_synth):
    ov = culture_synth.labels[culture_synth.labels["is_oversight"]]
    flipped_type = (ov["oversight_type"] != ov["oversight_type_clean"]).mean()
    flipped_content = (ov["content"] != ov["content_clean"]).mean()
    se = math.sqrt(0.03 * 0.97 / len(ov))
    assert abs(flipped_type - 0.03) < 5 * se and abs(flipped_content - 0.03) < 5 * se
    assert (
        ov["label_flipped"]
        == (
            (ov["oversight_type"] != ov["oversight_type_clean"])
            | (ov["content"] != ov["content_clean"])
        )
    ).all()
    clean = generate(30, seed=2, noise_rate=0.0, workers=1).labels
    assert not clean["label_flipped"].any()


def _z(observed: float, expected: float, variance: float) -> float:
    return (observed - expected) / math.sqrt(variance) if variance > 0 else 0.0


def test_manifest_culture_parameters_are_recovered(culture_synth):
    """Each region's knobs, re-estimated from the ground truth, within sampling error."""
    m = culture_synth.manifest
    glob, regions = m["parameters"]["global"], m["parameters"]["regions"]
    lb, cases = culture_synth.labels, culture_synth.cases
    ov = lb[lb["is_oversight"]]
    limit = 4.5  # about 50 tests: keep the family-wise false alarm rate negligible
    for region, g in ov.groupby("region"):
        p = regions[region]
        # reactive share among unscheduled touch points with a known initiator
        u = g[g["trigger"].isin(["risk_response", "enforcement", "supervision"])]
        known = u[u["initiated_by"] != "unknown"]
        k, n = (known["initiated_by"] == "pp_request").sum(), len(known)
        assert (
            abs(_z(k / n, p["reactive_share"], p["reactive_share"] * (1 - p["reactive_share"]) / n))
            < limit
        ), region
        # defensive: expected count from the documented formula, entry by entry
        probs = [
            defensive_probability(p, glob, t, i, trig == "back_cover")
            for t, i, trig in zip(
                g["oversight_type_clean"], g["initiated_by"], g["trigger"], strict=True
            )
        ]
        observed = (g["content_clean"] == "defensive").sum()
        assert abs(_z(observed, sum(probs), sum(q * (1 - q) for q in probs))) < limit, region
        # responsiveness: share of risk events answered within 5 days
        events = lb[(lb["region"] == region) & lb["risk_event"].notna()]
        answered = set(g.loc[g["response_delay_days"] <= 5, "responds_to"].dropna())
        share = events["contact_id"].isin(answered).mean()
        q5 = p["p_response_within_5_days"]
        assert abs(_z(share, q5, q5 * (1 - q5) / len(events))) < limit, region
        # quarterly review of high-RoSH cases
        quarters = cases.loc[cases["region"] == region, "high_rosh_quarters"].sum()
        if quarters >= 20:
            reviews = (g["trigger"] == "quarterly_review").sum()
            qr = p["quarterly_review"]
            assert abs(_z(reviews / quarters, qr, qr * (1 - qr) / quarters)) < limit, region


def test_wales_profile_is_less_reactive_and_less_defensive(culture_synth):
    pop = culture_synth.manifest["population"]
    england = [r for r in pop if r != "Wales"]
    for r in england:
        assert pop["Wales"]["reactive_share"] < pop[r]["reactive_share"]
        assert pop["Wales"]["defensive_share"] < pop[r]["defensive_share"]


@pytest.mark.parametrize("bad", [0, -3])
def test_generate_rejects_bad_sizes(bad):
    with pytest.raises(ValueError):
        generate(bad)
