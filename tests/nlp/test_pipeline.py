"""make_nlp, the registered components and the batch API."""

from __future__ import annotations

import pytest
import spacy
from spacy.tokens import Doc, DocBin

from pipeline.errors import ConfigError, NlpConfigError
from pipeline.labels import ATTRIBUTES
from pipeline.nlp import COMPONENTS, NoteRecord, NoteResult, make_nlp, process

ROWS = [
    {
        "contact_id": "1",
        "notes": "Comment added by Jane Doe on 05/05/2022 at 17:45\nMO: agree with PP's plan for Kofi.",
        "contact_type_code": "C238",
        "pop_forename": "Kofi",
        "pop_surname": "Thomas",
        "staff_name": "Jane Doe",
        "created_by": "Bob Smith",
    },
    {
        "contact_id": "2",
        "notes": "Office visit, Kofi Thomas attended. Tel 07700 900123.",
        "contact_type_code": "COAP",
        "pop_forename": "Kofi",
    },
    {
        "contact_id": "3",
        "notes": "Tier changed to B2.",
        "contact_type_code": "ETIE",
        "system_generated": "Y",
    },
    {"contact_id": "4", "notes": None, "contact_type_code": "MO1"},
]


def test_make_nlp_builds_the_registered_components_on_blank_english(nlp):
    assert nlp.pipe_names == list(COMPONENTS)
    assert nlp.lang == "en"
    for name in COMPONENTS:
        assert name in spacy.registry.factories.get_all() or nlp.has_factory(name)


def test_make_nlp_config_selects_and_configures_components():
    red = make_nlp(
        {"components": ["comment_blocks", "pii_redactor"], "pii_redactor": {"old_date_years": 0}}
    )
    assert red.pipe_names == ["comment_blocks", "pii_redactor"]
    doc = red("Seen 01/02/2024. Letter 01/02/1990.")
    assert doc._.redacted == "Seen 01/02/2024. Letter 01/02/1990."


@pytest.mark.parametrize(
    "config",
    [
        {"components": ["nope"]},
        {"tokenizer": {}},
        {"pii_redactor": "x"},
        {"pii_redactor": {"colour": 1}},
    ],
)
def test_bad_config_raises_nlp_config_error(config):
    with pytest.raises(NlpConfigError) as exc:
        make_nlp(config)
    assert isinstance(exc.value, ConfigError)


def test_process_keeps_order_and_returns_plain_values():
    results = list(process(ROWS, batch_size=2))
    assert [r.contact_id for r in results] == ["1", "2", "3", "4"]
    assert all(isinstance(r, NoteResult) for r in results)
    first, second, system, empty = results
    assert (first.is_oversight, first.oversight_reason) == (True, "text")
    assert (
        first.redacted
        == "Comment added by [PERSON] on 05/05/2022 at 17:45\nMO: agree with PP's plan for [PERSON]."
    )
    assert first.pii_spans[0] == (17, 25, "PERSON")
    assert first.blocks[0].author == "Jane Doe" and first.blocks[0].author_is_creator is False
    assert first.initiated_by is not None
    # a non-oversight contact is not redacted unless asked
    assert (second.is_oversight, second.redacted, second.pii_spans) == (False, None, None)
    assert (system.is_oversight, system.oversight_reason) == (False, "system")
    assert (empty.is_oversight, empty.oversight_reason, empty.redacted, empty.blocks) == (
        True,
        "code",
        "",
        (),
    )
    d = first.to_dict()
    assert set(ATTRIBUTES) <= set(d) and isinstance(d["blocks"], tuple)


def test_process_redact_all_redacts_every_text():
    results = list(process(ROWS, redact_all=True))
    assert results[1].redacted == "Office visit, [PERSON] attended. Tel [PHONE]."
    assert results[2].redacted == "Tier changed to B2."


def test_process_accepts_records_and_strings():
    rec = NoteRecord(notes="Management oversight: plan agreed.", contact_type_code="COTH")
    a, b = process([rec, "plain text, Mr Smith"], redact_all=True)
    assert a.is_oversight and not b.is_oversight and b.redacted == "plain text, Mr [PERSON]"
    with pytest.raises(NlpConfigError):
        list(process([42]))
    with pytest.raises(NlpConfigError):
        list(process([], batch_size=0))


def test_process_in_worker_processes_matches_single_process():
    rows = ROWS * 5
    assert list(process(rows, n_process=2, batch_size=3)) == list(process(rows))


def test_context_from_as_tuples_lands_on_doc_extension(nlp):
    ((doc, ctx),) = nlp.pipe(
        [("Seen.", NoteRecord(notes="Seen.", contact_type_code="MO1"))], as_tuples=True
    )
    assert doc._.context["contact_type_code"] == "MO1"
    assert doc._.is_oversight is True


def test_docs_with_extensions_serialise(nlp):
    doc = nlp("Comment added by Jane Doe on 05/05/2022 at 17:45\nAgree w/ PP.")
    restored = Doc(nlp.vocab).from_bytes(doc.to_bytes())
    assert restored._.redacted == doc._.redacted
    assert restored._.blocks[0][3] == "Jane Doe"
    DocBin(store_user_data=True, docs=[doc]).to_bytes()


def test_nlp_round_trips_through_config(tmp_path, nlp):
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert loaded.pipe_names == nlp.pipe_names
    assert loaded("Spoke to Kelly Hughes.")._.redacted == "Spoke to [PERSON]."


def test_process_with_a_redaction_only_pipeline_keeps_the_decision():
    red = make_nlp({"components": ["comment_blocks", "pii_redactor"]})
    results = list(process(ROWS, nlp=red))
    assert [r.is_oversight for r in results] == [True, False, False, True]
    assert results[0].redacted.startswith("Comment added by [PERSON]")
