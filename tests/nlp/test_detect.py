"""oversight_detector: code tables first, then the text (cheap path and spaCy agree)."""

from __future__ import annotations

import pytest

from pipeline.labels import CASE_DISCUSSION_CODES, OVERSIGHT_CODES, SYSTEM_CODES
from pipeline.nlp import NoteRecord, detect, process
from pipeline.nlp.detect import REASONS, get_detector

SPO_NOTE = "Comment added by Jane Doe on 05/05/2022 at 17:45\nI have reviewed this case and agree with PP's plan."


@pytest.mark.parametrize("code", sorted(OVERSIGHT_CODES))
def test_oversight_codes_are_oversight_whatever_the_text(code):
    d = detect({"notes": "Seen in office.", "contact_type_code": code})
    assert (d.is_oversight, d.reason) == (True, "code")


@pytest.mark.parametrize("code", sorted(SYSTEM_CODES))
def test_system_codes_are_never_oversight(code):
    d = detect({"notes": SPO_NOTE, "contact_type_code": code})
    assert (d.is_oversight, d.reason) == (False, "system")


def test_system_generated_flag_beats_an_oversight_code():
    d = detect({"notes": SPO_NOTE, "contact_type_code": "MO1", "system_generated": "Y"})
    assert (d.is_oversight, d.reason) == (False, "system")


def test_mo_outcome_on_other_code_counts_as_code():
    d = detect({"notes": "Discussed.", "contact_type_code": "C238", "outcome_code": "MO27"})
    assert (d.is_oversight, d.reason) == (True, "code")
    off = get_detector(use_outcome_codes=False).decide(
        "Discussed.", code="C238", outcome_code="MO27"
    )
    assert not off.is_oversight


@pytest.mark.parametrize(
    "text",
    [
        "Management oversight: risk reviewed following the DA call-out. PP to refer to MARAC.",
        "MO: agree with PP's decision to issue a warning.",
        "As SPO I am satisfied the case is managed at the right level.",
        "I have reviewed this case in supervision; plan remains appropriate.",
        "OASys countersigned. Good analysis of risk to children.",
        "I endorse the recommendation not to recall.",
        "Decision: no recall at this time, PP to continue to manage.",
        "S: police call-out on 12/03.\nB: history of DA.\nA: risk to partner raised.\nR: PP to refer to MARAC.",
        "PP came to see me about the missed appointments. Warning agreed.",
        "Quarterly high-RoSH review completed; no change to tier.",
    ],
)
@pytest.mark.parametrize("code", sorted(CASE_DISCUSSION_CODES) + ["COTH"])
def test_text_decides_for_case_discussion_and_ordinary_codes(text, code):
    d = detect({"notes": text, "contact_type_code": code, "staff_grade": "PO"})
    assert (d.is_oversight, d.reason) == (True, "text"), d.evidence


@pytest.mark.parametrize(
    "text",
    [
        "Case discussed with the prison OM ahead of release. Referral to the ETE team.",
        "Office visit: Kofi attended on time, discussed employment. Next appt Friday.",
        "PP to request management oversight re the breach.",
        "Awaiting SPO review of the plan. MO to follow.",
        "OASys submitted for countersigning.",
        "Flagged to SPO by email for oversight.",
        "",
        None,
    ],
)
def test_casework_and_requests_are_not_oversight(text):
    d = detect({"notes": text, "contact_type_code": "C238", "staff_grade": "PO"})
    assert (d.is_oversight, d.reason) == (False, "none"), d.evidence


def test_weak_cues_count_when_a_manager_wrote_the_note():
    text = "Discussed, all in hand - noted."
    po = detect({"notes": text, "contact_type_code": "COTH", "staff_grade": "PO"})
    spo = detect({"notes": text, "contact_type_code": "COTH", "staff_grade": "SPO"})
    assert not po.is_oversight and spo.is_oversight
    # a comment block by someone other than the contact's creator counts as a manager's
    blocks = "Comment added by Sam Okafor on 01/03/2024 at 10:00\nDiscussed, all in hand - noted."
    by_other = detect({"notes": blocks, "contact_type_code": "COTH", "created_by": "Alex Green"})
    by_self = detect({"notes": blocks, "contact_type_code": "COTH", "created_by": "Sam Okafor"})
    assert by_other.is_oversight and not by_self.is_oversight


def test_reasons_are_the_documented_four():
    assert set(REASONS) == {"code", "text", "system", "none"}


def test_spacy_component_agrees_with_cheap_path(nlp):
    rows = [
        {"notes": SPO_NOTE, "contact_type_code": "C238", "created_by": "Bob Smith"},
        {"notes": "Seen in office, no concerns.", "contact_type_code": "COAP"},
        {"notes": SPO_NOTE, "contact_type_code": "ETIE"},
        {"notes": "Seen.", "contact_type_code": "MO3"},
    ]
    docs = nlp.pipe([(r["notes"], r) for r in rows], as_tuples=True)
    for (doc, row), res in zip(docs, process(rows), strict=True):
        cheap = detect(row)
        assert (doc._.is_oversight, doc._.oversight_reason) == (cheap.is_oversight, cheap.reason)
        assert (res.is_oversight, res.oversight_reason) == (cheap.is_oversight, cheap.reason)


def test_note_record_from_row_ignores_extra_columns_and_nan():
    rec = NoteRecord.from_row(
        {"notes": "x", "contact_type_code": "MO1", "region": "Wales", "outcome_code": float("nan")}
    )
    assert rec.outcome_code is None and rec.contact_type_code == "MO1"
