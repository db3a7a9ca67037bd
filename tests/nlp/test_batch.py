"""The batch path of ``prepare`` (``find_entries``): the components called on the text give
exactly what ``nlp.pipe`` gives, with a Doc made only where a risk term may occur."""

from __future__ import annotations

import pytest

from pipeline.nlp.batch import NOTE_FIELDS, find_entries
from pipeline.synth import generate


@pytest.fixture(scope="module")
def columns():
    """The note columns of a small synthetic export, as find_entries takes them."""
    export = generate(40, seed=31, workers=1).export
    return {
        c: [None if v is None or v != v else str(v) for v in export[c].tolist()]
        for c in NOTE_FIELDS
        if c in export
    }


def test_text_path_matches_the_pipe_path(nlp, columns):
    fast = find_entries(columns, nlp=nlp)
    reference = find_entries(columns, nlp=nlp, via_pipe=True)
    assert len(fast.rows) > 50
    assert fast == reference
    # the comparison covers entries with and without risk terms
    assert any(fast.risk_factor_terms) and not all(fast.risk_factor_terms)


def test_text_path_matches_a_pipeline_run_per_text(nlp, columns):
    found = find_entries(columns, nlp=nlp)
    for k, i in enumerate(found.rows[:40]):
        context = {f: columns[f][i] for f in NOTE_FIELDS if f != "notes" and f in columns}
        (doc, _), *_ = nlp.pipe([(columns["notes"][i] or "", context)], as_tuples=True)
        assert found.text[k] == doc._.redacted
        assert found.initiated_by[k] == doc._.initiated_by
        assert found.risk_factor_terms[k] == list(doc._.risk_factor_terms)
        assert found.attributes["sbar"][k] == bool(doc._.sbar)


def test_risk_term_gate_never_hides_a_term(nlp):
    attributes = nlp.get_pipe("attributes")
    text = "Risk factors: DA with the new partner, alcohol misuse and self-harm."
    assert attributes.may_hold_risk_terms(text)
    assert not attributes.may_hold_risk_terms("Seen today. Reports all well.")
    values = attributes.annotate(text, {}, [], [], doc=lambda: nlp.make_doc(text))
    assert values["risk_factor_terms"] and values["risk_factors"]
    with pytest.raises(ValueError):
        attributes.annotate(text, {}, [], [])  # a Doc is needed for this text


def test_other_pipelines_take_the_pipe_path(columns):
    from pipeline.nlp import make_nlp

    nlp = make_nlp({"attributes": {"scope": "all"}})
    assert find_entries(columns, nlp=nlp) == find_entries(columns, nlp=nlp, via_pipe=True)


@pytest.mark.parametrize(
    "text",
    [
        "Drug-related offending; CP's plan (DA) and self-harm noted.",
        "Crack/heroin use; alcohol-fuelled violence, 2DA, DV.",
        "Café visit: domestic abuse and the victim’s safety discussed.",
        "Concerns re: ALCOHOL, DRUGS and gambling debts.",
        "He cannot manage his tenancy; gonna lose housing.",
    ],
)
def test_risk_term_gate_passes_every_text_the_matchers_match(nlp, text):
    attributes = nlp.get_pipe("attributes")
    doc = nlp.make_doc(text)
    found = list(attributes.lower_matcher(doc)) + list(attributes.exact_matcher(doc))
    assert found  # each text holds a risk term
    assert attributes.may_hold_risk_terms(text)
