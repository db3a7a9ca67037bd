"""attributes: initiated_by and the attribute booleans of an oversight entry."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.labels import ATTRIBUTES
from pipeline.nlp import process


def run(text: str, **ctx) -> object:
    row = {"notes": text, "contact_type_code": ctx.pop("code", "MO1"), **ctx}
    (res,) = process([row])
    return res


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("At PP's request I have reviewed the case. Agree with the plan.", "pp_request"),
        ("PP requested MO following the arrest. Risk discussed.", "pp_request"),
        ("PP raised concerns about the new partner in supervision.", "pp_request"),
        ("On review of the case I noted the OASys is out of date. PP to update.", "spo"),
        ("Dip sample of open DA cases: this case picked out. Plan is thin.", "spo"),
        ("Quarterly review of high RoSH case. No change.", "scheduled"),
        ("Initial touch point completed. Allocation to PSO appropriate.", "scheduled"),
        ("OASys countersigned, analysis sound.", "scheduled"),
        ("MAPPA review due next month; level 1 management remains appropriate.", "scheduled"),
        ("Lifer panel held, no change to the plan.", "scheduled"),
        ("Noted.", "unknown"),
    ],
)
def test_initiated_by(text, expected):
    assert run(text).initiated_by == expected


def test_a_pp_request_block_above_the_spo_entry_makes_it_pp_request():
    text = (
        "Comment added by Amy Woods on 01/03/2024 at 09:00\n"
        "SPO, please could you review and add your comments.\n"
        "Comment added by Sean Taylor on 02/03/2024 at 11:00\n"
        "Risk discussed, agree with PP's actions."
    )
    res = run(text, staff_name="Sean Taylor", staff_grade="SPO", created_by="Amy Woods")
    assert res.initiated_by == "pp_request"


@pytest.mark.parametrize(
    ("attribute", "positive", "negative"),
    [
        (
            "sbar",
            "S: call-out on 12/03\nB: DA history\nA: risk raised\nR: PP to refer to MARAC",
            "Situation noted, no change.",
        ),
        (
            "rationale",
            "Recall is proportionate because the risk to the partner has increased.",
            "Agree with PP's plan.",
        ),
        (
            "rationale",
            "Given the escalating non-compliance, breach action agreed.",
            "He was given a warning letter.",
        ),
        ("action_owner", "PP to refer to the substance misuse service.", "Case discussed, NFA."),
        ("action_owner", "I will inform the MAPPA coordinator.", "Noted."),
        ("timescale", "PP to update the RMP by 12/05.", "PP to update the RMP."),
        ("timescale", "Review in 4/52.", "Reviewed in supervision."),
        ("timescale", "Complete the referral within 5 working days.", "Referral completed."),
        (
            "risk_factors",
            "Relapse on alcohol is a known trigger for violence in this case.",
            "Case reviewed, all in hand.",
        ),
        (
            "risk_factors",
            "Risk to the children has increased given the DA incident.",
            "Agree with the plan.",
        ),
        (
            "retrospective",
            "Warning had already been issued; I endorse this retrospectively.",
            "I endorse the plan.",
        ),
        (
            "retrospective",
            "Decision made on 03/04 at the time, recording now for completeness.",
            "Decision: recall.",
        ),
    ],
)
def test_each_attribute(attribute, positive, negative):
    assert getattr(run(positive), attribute) is True, positive
    assert getattr(run(negative), attribute) is False, negative


def test_named_person_can_own_an_action():
    res = run("Agree with the plan. Jade Okafor to book a three-way meeting.")
    assert res.action_owner is True


def test_attribute_extensions_on_doc(nlp):
    ((doc, _),) = nlp.pipe(
        [
            (
                "MO: because of the DA call-out, PP to refer to MARAC by Friday.",
                {"contact_type_code": "MO1"},
            )
        ],
        as_tuples=True,
    )
    assert doc._.is_oversight is True
    assert {a: doc._.get(a) for a in ATTRIBUTES} == {
        "sbar": False,
        "rationale": True,
        "action_owner": True,
        "timescale": True,
        "risk_factors": True,
        "retrospective": False,
    }
    assert doc._.initiated_by in {"pp_request", "spo", "scheduled", "unknown"}
    assert "da" in doc._.risk_factor_terms


def test_non_oversight_contacts_get_no_attributes():
    res = run("Office visit, attended. Because of work he asked to move to Fridays.", code="COAP")
    assert res.is_oversight is False and res.initiated_by is None
    assert not any(getattr(res, a) for a in ATTRIBUTES)


_RISK_WORDS = st.sampled_from(
    [
        "domestic",
        "abuse",
        "children's",
        "social",
        "care",
        "child",
        "in",
        "need",
        "ex-partner",
        "no",
        "fixed",
        "abode",
        "self-harm",
        "sofa-surfing",
        "non-fatal",
        "strangulation",
        "DA",
        "DV",
        "CP",
        "(DA)",
        "drugs,",
        "alcohol.",
        "can't",
        "e.g.",
        "Café",
        "risk",
        "the",
        "and",
        "'s",
        "-",
        "/",
        "12/05",
        "gonna",
        "cannot",
    ]
)
_GAPS = st.sampled_from([" ", " ", " ", "  ", "\n", " \n", "\t", "\xa0", ""])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(_RISK_WORDS, _GAPS), max_size=40))
def test_risk_terms_in_windows_are_those_of_the_whole_doc(nlp, parts):
    """Tokenising only the stretches around possible terms finds exactly the whole Doc's
    matches (spaCy tokenises each whitespace-separated chunk on its own)."""
    text = "".join(w + g for w, g in parts)
    attributes = nlp.get_pipe("attributes")
    whole = sorted(attributes._risk_spans(text, text.lower(), nlp.make_doc(text), None))
    windowed = sorted(attributes._risk_spans(text, text.lower(), None, nlp.make_doc))
    assert windowed == whole


def test_windows_cover_a_term_far_from_the_text_start(nlp):
    attributes = nlp.get_pipe("attributes")
    text = (
        "Seen at office. " * 40
        + "The main risk is domestic abuse from the new partner. "
        + "Ok. " * 40
    )
    windows = attributes.risk_term_windows(text)
    assert windows and sum(e - s for s, e in windows) < len(text) // 4
    assert any("domestic abuse" in text[s:e] for s, e in windows)
    values = attributes.annotate(text, {}, [], [], tokenizer=nlp.make_doc)
    assert values == attributes.annotate(text, {}, [], [], doc=nlp.make_doc(text))
    assert "domestic abuse" in values["risk_factor_terms"]
