"""Rule files: loading, errors, and the literal gates that let regexes be skipped."""

from __future__ import annotations

import functools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import OversightError, RulesError
from pipeline.nlp.attributes import get_attribute_rules
from pipeline.nlp.detect import OversightDetector, get_detector
from pipeline.nlp.redact import Redactor
from pipeline.nlp.rules import GatedPattern, load_rules, necessary_substrings


def test_shipped_rule_files_load():
    for name in (
        "pii_rules.yaml",
        "names.json",
        "lexicon.json",
        "oversight_rules.yaml",
        "attribute_rules.yaml",
    ):
        assert isinstance(load_rules(name), dict)
    names = load_rules("names.json")
    assert len(names["first_names"]) >= 500 and len(names["surnames"]) >= 300


def test_missing_and_malformed_rule_files_raise_rules_error(tmp_path):
    with pytest.raises(RulesError) as exc:
        OversightDetector(str(tmp_path / "nope.yaml"))
    assert isinstance(exc.value, OversightError) and "nope.yaml" in str(exc.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("strong: [{anchors: [x], pattern: '(unclosed'}]\nweak: []\nnegations: []\n")
    with pytest.raises(RulesError, match="strong"):
        OversightDetector(str(bad))
    notalist = tmp_path / "pii.yaml"
    notalist.write_text("titles: Mr\n")
    with pytest.raises(RulesError, match="titles"):
        Redactor(str(notalist))


@pytest.mark.parametrize(
    ("pattern", "needles"),
    [
        (r"\bbecause\b|\bdue\s+to\b", {"because", "due"}),
        (r"\b(?:at|per)\s+(?:the\s+)?pp's\s+request", {"request"}),
        (r"\bactions?\s*:", {"action"}),
        (r"(?:the\s+)?\d+", None),
        (r"\bx\d+", None),
    ],
)
def test_necessary_substrings(pattern, needles):
    got = necessary_substrings(pattern)
    assert (set(got) if got else None) == needles


def _all_patterns() -> list[re.Pattern[str]]:
    a = get_attribute_rules()
    d = get_detector()
    pats = [rx.pattern for _, _, rx in a.initiator_cues]
    for group in (a.rationale, a.action_owner, a.timescale, a.retrospective):
        pats += [g.pattern for g in group]
    pats += [c.pattern.pattern for c in (*d.strong, *d.weak)]
    return pats


@functools.cache
def _gated() -> list[tuple[re.Pattern[str], GatedPattern]]:
    return [(rx, GatedPattern(rx)) for rx in _all_patterns()]


_vocab = st.sampled_from(
    [
        "because",
        "given",
        "due",
        "to",
        "the",
        "pp's",
        "request",
        "at",
        "per",
        "spo",
        "mo:",
        "review",
        "in",
        "4/52",
        "by",
        "12/05",
        "within",
        "5",
        "days",
        "i",
        "have",
        "reviewed",
        "the",
        "case",
        "agree",
        "with",
        "management",
        "oversight",
        "countersigned",
        "already",
        "had",
        "been",
        "issued",
        "decision",
        "made",
        "on",
        "pp",
        "to",
        "i",
        "will",
        "admin",
        "to",
        "w/c",
        "quarterly",
        "initial",
        "touch",
        "point",
        "panel",
    ]
    + [" ", "\n", ".", ":", "-", "'", "/"]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_vocab, max_size=30).map(" ".join))
def test_gates_never_change_a_regex_result(text):
    low = text.lower()
    for rx, gated in _gated():
        assert (gated.search(low) is None) == (rx.search(low) is None), rx.pattern


def _shipped_sources() -> list[str]:
    from pipeline.nlp.rules import load_rules as lr

    o, a = lr("oversight_rules.yaml"), lr("attribute_rules.yaml")
    srcs = [c["pattern"] for c in (*o["strong"], *o["weak"])] + list(o["negations"])
    srcs += [c["pattern"] for cues in a["initiator_cues"].values() for c in cues]
    for key in ("rationale", "action_owner", "timescale", "retrospective"):
        srcs += a[key]
    return srcs


@functools.cache
def _rewritten() -> list[tuple[re.Pattern[str], re.Pattern[str]]]:
    from pipeline.nlp.rules import literal_first

    return [(re.compile(s, re.M), re.compile(literal_first(s), re.M)) for s in _shipped_sources()]


@settings(max_examples=200, deadline=None)
@given(st.lists(_vocab, max_size=30).map(" ".join))
def test_literal_first_rewrite_keeps_every_match(text):

    low = text.lower()
    for a, b in _rewritten():
        assert [m.span() for m in a.finditer(low)] == [m.span() for m in b.finditer(low)], a.pattern


@functools.cache
def _bank() -> tuple[list[re.Pattern[str]], object]:
    from pipeline.nlp.rules import PatternBank

    a = get_attribute_rules()
    anchored = [rx for _, _, rx in a.initiator_cues] + [
        rx for group in (a.rationale, a.action_owner, a.timescale, a.retrospective) for rx in group
    ]
    return [rx.pattern for rx in anchored], PatternBank(anchored)


# words that hold the banks' opening words inside them ("on" in "information", "i" in "it"),
# where only a whole-word occurrence may start a match
_glued = st.sampled_from(["information", "upon", "it", "within", "iasked", "spot", "café", "aé"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_vocab, _glued), max_size=30).map(" ".join))
def test_pattern_bank_answers_as_each_regex_does(text):
    patterns, bank = _bank()
    low = text.lower()
    from pipeline.nlp.rules import word_set

    assert bank.found(low, word_set(low)) == [rx.search(low) is not None for rx in patterns]
