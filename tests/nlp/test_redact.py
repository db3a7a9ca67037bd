"""pii_redactor: every kind of personal data is replaced, domain words and ordinary dates stay."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.labels import PiiKind
from pipeline.nlp import redact
from pipeline.nlp.redact import PLACEHOLDER_RE

P = PiiKind


def kinds(text: str, **kw) -> list[tuple[str, str]]:
    _, spans = redact(text, **kw)
    return [(text[s:e], k) for s, e, k in spans]


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        ("Case transferred, CRN X123456 updated.", "X123456", P.CRN),
        ("PNC 2015/0123456A checked, no new matters.", "2015/0123456A", P.PNC),
        ("pnc 15/123456A checked", "15/123456A", P.PNC),
        ("NI number AB123456C confirmed for UC.", "AB123456C", P.NI_NUMBER),
        ("NI QQ 12 34 56 C on file.", "QQ 12 34 56 C", P.NI_NUMBER),
        ("Personal details updated: DOB 12/03/1985.", "12/03/1985", P.DOB),
        ("He was born on 3rd March 1985 in Cardiff.", "3rd March 1985", P.DOB),
        ("Mr Jones (D.O.B: 01.02.79) reported.", "01.02.79", P.DOB),
        ("Texted reminder to 07700 900123.", "07700 900123", P.PHONE),
        ("New number +44 7700 900123 given.", "+44 7700 900123", P.PHONE),
        ("Landline (029) 2034 5678 disconnected.", "(029) 2034 5678", P.PHONE),
        (
            "Email from pop (kelly.h_99@example.co.uk) with payslip.",
            "kelly.h_99@example.co.uk",
            P.EMAIL,
        ),
        ("Postcode CF10 1AA is in the exclusion zone.", "CF10 1AA", P.POSTCODE),
        ("Home visit to 12 Station Road completed.", "12 Station Road", P.ADDRESS),
        (
            "Lives at Flat 3, 14a Acacia Avenue, Cardiff.",
            "Flat 3, 14a Acacia Avenue, Cardiff",
            P.ADDRESS,
        ),
        ("Visit to 173 Heol y Parc, all in order.", "173 Heol y Parc", P.ADDRESS),
        ("He has moved to Elm Grove Mews after eviction.", None, None),
    ],
)
def test_each_kind_is_replaced_by_its_placeholder(text, secret, kind):
    redacted, spans = redact(text)
    if secret is None:
        return
    assert secret not in redacted
    assert kind.placeholder in redacted
    assert (secret, kind.value) in [(text[s:e], k) for s, e, k in spans]


def test_realistic_note_with_names_and_every_kind():
    text = (
        "Comment added by Sarah Jenkins on 14/03/2024 at 10:12\n"
        "Home visit to 12 Station Road, Cardiff CF10 1AA. Mr Kowalski (DOB 02/07/1990) was present "
        "with his partner Kelly Hughes and their son Tyler. Spoke to social worker Aisha Khan and "
        "PC 2231 Davies re the DA call-out. Kelly's mum Sharon rang on 07700 900456. "
        "CRN Y654321, PNC 2009/0242988W, NI JK 12 34 56 B, email kelly.h@example.com."
    )
    redacted, spans = redact(text, known_names=["Piotr Kowalski", "Sarah Jenkins"])
    for secret in (
        "Sarah Jenkins", "Station Road", "CF10 1AA", "Kowalski", "02/07/1990", "Kelly", "Hughes",
        "Tyler", "Aisha Khan", "Davies", "Sharon", "07700 900456", "Y654321", "2009/0242988W",
        "JK 12 34 56 B", "kelly.h@example.com",
    ):  # fmt: skip
        assert secret not in redacted, secret
    # the note still reads naturally and keeps the ordinary date and the cue words
    assert "Mr [PERSON] (DOB [DOB])" in redacted
    assert "his partner [PERSON] and their son [PERSON]" in redacted
    assert "PC 2231 [PERSON] re the DA call-out" in redacted
    assert "on 14/03/2024 at 10:12" in redacted
    # spans index the original text, sorted and disjoint
    assert spans == sorted(spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_domain_words_are_left_alone():
    text = (
        "Management Oversight: SPO review of the PP's plan. PO and PSO aware; PQiP to shadow. "
        "MAPPA level 2, RoSH high, OASys due. MARAC on Tuesday, IOM cohort, UPW and RAR days. "
        "ETE referral, HDC refused, PSR gatekeeping, NFA. HVRA approved, AQA and RCAT feedback. "
        "CSC and CP concerns, DA history, AP bed in Wales not England. Tier A-2. Probation and "
        "Police agree. Review in May, June or August; seen Monday. Will attend. Mark the file. "
        "Given the risk, no change. Child Protection registration added."
    )
    assert kinds(text) == []


def test_date_of_birth_versus_ordinary_date():
    text = "Seen on 12/03/2024. DOB 12/03/1985. Next appt 19/03/2024."
    redacted, spans = redact(text)
    assert redacted == "Seen on 12/03/2024. DOB [DOB]. Next appt 19/03/2024."
    # a full date long before the contact date is a date of birth even without a cue
    r2, _ = redact(
        "Case of Mr Lloyd (ob 11/04/1994) allocated on 02/05/2024.", reference_date=date(2024, 5, 2)
    )
    assert "11/04/1994" not in r2 and "02/05/2024" in r2
    # ... but not a recent one
    r3, _ = redact("Breach letter sent 01/02/2024.", reference_date=date(2024, 5, 2))
    assert r3 == "Breach letter sent 01/02/2024."


def test_names_from_context_columns_are_redacted_everywhere():
    text = "kofi attended. Mr Thomas said KOFI's housing is stable. Thomas to bring ID."
    redacted, _ = redact(text, known_names=["Kofi", "Thomas", None, ""])
    assert (
        redacted
        == "[PERSON] attended. Mr [PERSON] said [PERSON]'s housing is stable. [PERSON] to bring ID."
    )


def test_known_names_that_are_common_words_need_a_capital():
    redacted, _ = redact("I will mark the file. Mark Will said hello.", known_names=["Mark Will"])
    assert redacted == "I will mark the file. [PERSON] said hello."


def test_staff_name_in_comma_form_and_header_author():
    text = "Comment added by Jane Doe on 05/05/2022 at 17:45\nDoe agreed. Jane to update."
    redacted, _ = redact(text, known_names=["DOE, Jane"])
    assert (
        redacted
        == "Comment added by [PERSON] on 05/05/2022 at 17:45\n[PERSON] agreed. [PERSON] to update."
    )


def test_adjacent_name_tokens_merge_into_one_placeholder():
    redacted, _ = redact("Spoke with Mohammed Da Silva and Mary-Jane O'Brien today.")
    assert redacted == "Spoke with [PERSON] and [PERSON] today."


def test_cue_patterns_find_names_outside_the_gazetteer():
    text = (
        "His girlfriend Zsofia and ex-partner, Brannagh Quirke, were present. Mrs Featherstonehaugh "
        "called. DS Wojtaszek attended. Ngozika Obiechina (PP) asked. Keyworker Tamsyn rang."
    )
    redacted, _ = redact(text)
    for name in (
        "Zsofia",
        "Brannagh",
        "Quirke",
        "Featherstonehaugh",
        "Wojtaszek",
        "Ngozika",
        "Obiechina",
        "Tamsyn",
    ):
        assert name not in redacted, name
    assert redacted.startswith("His girlfriend [PERSON] and ex-partner, [PERSON], were present.")


def test_redaction_is_idempotent_on_a_realistic_note():
    text = "Comment added by Ann Lee on 01/02/2023 at 09:00\nMr Lee's partner Kelly, 07700 900123."
    once, _ = redact(text, known_names=["Ann Lee"])
    twice, spans = redact(once, known_names=["Ann Lee"])
    assert twice == once and spans == []


def test_doc_extensions(nlp):
    doc = nlp("Spoke to Kelly Hughes on 07700 900123.")
    assert doc._.redacted == "Spoke to [PERSON] on [PHONE]."
    assert [(doc.text[s:e], k) for s, e, k in doc._.pii_spans] == [
        ("Kelly Hughes", "PERSON"),
        ("07700 900123", "PHONE"),
    ]


def test_context_names_reach_the_component(nlp):
    ((doc, _),) = nlp.pipe(
        [("Zebedee attended, Quux noted.", {"pop_forename": "Zebedee", "staff_name": "Ann Quux"})],
        as_tuples=True,
    )
    assert doc._.redacted == "[PERSON] attended, [PERSON] noted."


# -- properties -----------------------------------------------------------------------------------

_settings = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_noise = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60)
_wordy = st.lists(
    st.sampled_from(
        [
            "Mr",
            "Smith",
            "DOB",
            "12/03/1985",
            "07700",
            "900123",
            "Flat",
            "3",
            "Road",
            "[PERSON]",
            "partner",
            "Kelly",
            "PP",
            "SPO",
            "born",
            "@",
            ".",
            ",",
            "\n",
            "CF10",
            "1AA",
            "X123456",
            "Comment added by",
            "on 05/05/2022 at 17:45",
            "(PP)",
            "+44",
            "Lane",
            "Da",
            "Silva",
            "[",
            "]",
        ]
    ),
    max_size=25,
).map(" ".join)


@_settings
@given(st.one_of(_noise, _wordy), st.lists(st.one_of(st.none(), _noise), max_size=3))
def test_redactor_never_crashes_and_is_idempotent(text, names):
    once, spans = redact(text, known_names=names)
    assert isinstance(once, str)
    for s, e, k in spans:
        assert 0 <= s < e <= len(text) and k in {p.value for p in PiiKind}
    again, more = redact(once, known_names=names)
    assert again == once
    assert more == []


_crn = st.builds(
    lambda c, n: f"{c}{n:06d}", st.sampled_from("ABCDEFGHXYZ"), st.integers(0, 999_999)
)
_phone = st.sampled_from(
    [
        "07700 900{:03d}",
        "07700900{:03d}",
        "+44 7700 900{:03d}",
        "01632 960{:03d}",
        "(029) 2018 {:04d}",
    ]
).flatmap(lambda f: st.integers(0, 999).map(f.format))
_email = st.builds(
    lambda a, b: f"{a}@{b}.co.uk",
    st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True),
    st.from_regex(r"[a-z]{2,10}", fullmatch=True),
)


@_settings
@given(_noise, st.one_of(_crn, _phone, _email), _noise)
def test_planted_identifiers_never_survive(before, secret, after):
    text = f"{before} {secret} {after}"
    redacted, _ = redact(text)
    assert secret not in redacted
    assert PLACEHOLDER_RE.search(redacted)
