"""`attributes`: what an oversight entry shows, for explanation and for the culture measures.

* ``initiated_by``: pp_request / spo / scheduled / unknown (``labels.Initiator``), from weighted
  cues ("at PP's request", "on review of the case I", "quarterly review", ...).
* the attribute booleans of ``labels.Attribute``: sbar, rationale, action_owner, timescale,
  risk_factors, retrospective.

Cue lists live in ``attribute_rules.yaml``. Risk factors are matched with spaCy's PhraseMatcher
over the Doc's tokens; everything else with compiled regexes over the lower-cased entry text.

The entry text: when a contact's notes hold comment blocks by several authors, the oversight
entry is the manager's part (blocks by the contact's staff member when that is a manager, else
blocks added by someone other than the contact's creator), so that a PP's request above an SPO's
comment is not read as the SPO's reasoning. Otherwise the whole notes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache
from typing import Any

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from pipeline.errors import RulesError
from pipeline.labels import Attribute, Initiator
from pipeline.nlp.blocks import Block
from pipeline.nlp.detect import OversightDetector, get_detector, words_like
from pipeline.nlp.doctext import doc_text, ext_get, ext_set
from pipeline.nlp.rules import (
    AnchoredPattern,
    PatternBank,
    compile_anchored,
    compile_pattern,
    load_rules,
    require,
    word_set,
)

RULES = "attribute_rules.yaml"
_FLAGS = re.MULTILINE


def _name_tokens(name: str | None) -> set[str]:
    return {w.lower() for w in re.findall(r"[^\W\d_]{2,}", name)} if name else set()


def entry_ranges(
    text: str, blocks: list[Block], context: Mapping[str, Any] | None, detector: OversightDetector
) -> list[tuple[int, int]]:
    """Character ranges of the oversight entry inside ``text`` (see the module docstring)."""
    whole = [(0, len(text))]
    authored = [b for b in blocks if b.author]
    if len(blocks) < 2 or not authored or not context:
        return whole
    grade = context.get("staff_grade")
    staff = _name_tokens(context.get("staff_name"))
    owner = _name_tokens(context.get("created_by"))
    if grade and str(grade).strip().lower() in detector.manager_grades and staff:
        mine = [b for b in authored if not _name_tokens(b.author).isdisjoint(staff)]
        if mine:
            return [(b.start, b.end) for b in mine]
    if owner:
        others = [b for b in authored if _name_tokens(b.author).isdisjoint(owner)]
        if others:
            return [(b.start, b.end) for b in others]
    return whole


def _has_other_text(text: str, ranges: list[tuple[int, int]]) -> bool:
    """Whether ``text`` holds words outside ``ranges`` (beyond comment headers)."""
    pos = 0
    rest = []
    for s, e in sorted(ranges):
        rest.append(text[pos:s])
        pos = e
    rest.append(text[pos:])
    return sum(len(r.split()) for r in rest) >= 3


class AttributeRules:
    """The compiled cues of ``attribute_rules.yaml``."""

    def __init__(
        self, rules_path: str | None = None, detector: OversightDetector | None = None
    ) -> None:
        rules = load_rules(RULES, rules_path)
        self.detector = detector or get_detector()
        order = require(rules, "initiator_order", RULES)
        valid = {i.value for i in Initiator}
        if any(o not in valid for o in order):
            raise RulesError("unknown initiator", path=RULES, key="initiator_order")
        self.order = {o: i for i, o in enumerate(order)}
        #: (initiator, weight, pattern) of each cue
        self.initiator_cues: list[tuple[str, int, AnchoredPattern]] = []
        for ini, cues in require(rules, "initiator_cues", RULES, dict).items():
            if ini not in valid:
                raise RulesError("unknown initiator", path=RULES, key=f"initiator_cues.{ini}")
            for i, cue in enumerate(cues):
                key = f"initiator_cues.{ini}[{i}]"
                if not isinstance(cue, dict) or "pattern" not in cue:
                    raise RulesError("each cue needs a 'pattern'", path=RULES, key=key)
                rx = compile_anchored(cue["pattern"], RULES, key, _FLAGS)
                self.initiator_cues.append((ini, int(cue.get("weight", 1)), rx))
        self.default_by_code = {
            str(k).upper(): str(v) for k, v in (rules.get("default_by_code") or {}).items()
        }
        if any(v not in valid for v in self.default_by_code.values()):
            raise RulesError("unknown initiator", path=RULES, key="default_by_code")
        self.sbar_min = int(rules.get("sbar_min_sections", 3))
        self.request_block_weight = int(rules.get("request_block_weight", 0))

        def patterns(key: str) -> list[AnchoredPattern]:
            return [
                compile_anchored(p, RULES, f"{key}[{i}]", _FLAGS)
                for i, p in enumerate(require(rules, key, RULES))
            ]

        self.rationale = patterns("rationale")
        self.action_owner = patterns("action_owner")
        self.timescale = patterns("timescale")
        self.retrospective = patterns("retrospective")
        self.name_action = compile_pattern(
            str(rules.get("name_action", r"(?!x)x")), RULES, "name_action"
        )
        #: all the cues in one bank each: the initiator's, and the attribute groups'
        self._initiator_bank = PatternBank(rx for _, _, rx in self.initiator_cues)
        self._groups = (
            (Attribute.RATIONALE.value, self.rationale),
            (Attribute.ACTION_OWNER.value, self.action_owner),
            (Attribute.TIMESCALE.value, self.timescale),
            (Attribute.RETROSPECTIVE.value, self.retrospective),
        )
        self._attribute_bank = PatternBank(rx for _, group in self._groups for rx in group)
        #: both at once, for an entry that is the whole notes (the usual case)
        self._both_bank = PatternBank(
            [*(rx for _, _, rx in self.initiator_cues)]
            + [rx for _, group in self._groups for rx in group]
        )
        self.risk_terms = require(rules, "risk_terms", RULES)
        self.risk_acronyms = require(rules, "risk_acronyms", RULES)
        self.risk_analytic = frozenset(
            t.lower() for t in require(rules, "risk_analytic_terms", RULES)
        )
        context = [
            re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w)
            for w in require(rules, "risk_context", RULES)
        ]
        self.risk_context = re.compile(r"\b(?:" + "|".join(context) + r")\b")
        self.scope = str(rules.get("scope", "entry"))
        if self.scope not in ("entry", "all"):
            raise RulesError("scope must be 'entry' or 'all'", path=RULES, key="scope")

    def initiated_by(
        self,
        low: str,
        code: str | None = None,
        request_block: bool = False,
        words: set[str] | None = None,
        hits: list[bool] | None = None,
    ) -> str:
        """The initiator the cues point to (highest total weight; ties by ``initiator_order``).
        ``request_block``: the notes hold text by someone other than the entry's author (a PP's
        request above the SPO's comment), worth ``request_block_weight`` to pp_request.
        ``words``: ``word_set(low)`` when the caller has it; ``hits``: which initiator cues
        match (from :meth:`scan`), when the caller has them."""
        scores: dict[str, int] = {}
        if request_block and self.request_block_weight:
            scores[Initiator.PP_REQUEST.value] = self.request_block_weight
        if hits is None:
            hits = self._initiator_bank.found(low, word_set(low) if words is None else words)
        for (ini, weight, _rx), hit in zip(self.initiator_cues, hits, strict=True):
            if hit:
                scores[ini] = scores.get(ini, 0) + weight
        if not scores:
            c = code.strip().upper() if isinstance(code, str) else ""
            return self.default_by_code.get(c, Initiator.UNKNOWN.value)
        return max(scores, key=lambda k: (scores[k], -self.order.get(k, 99)))

    def text_attributes(
        self,
        low: str,
        person_spans: Iterable[tuple[int, int]] = (),
        original: str | None = None,
        words: set[str] | None = None,
        hits: list[bool] | None = None,
    ) -> dict[str, bool]:
        """The regex attributes of a lower-cased entry text. ``person_spans`` (offsets into the
        same text) let a named person own an action ("Jade to refer ..."). ``words``:
        ``word_set(low)`` when the caller has it; ``hits``: which attribute cues match (from
        :meth:`scan`), when the caller has them."""
        if words is None:
            words = word_set(low)
        if hits is None:
            hits = self._attribute_bank.found(low, words)
        it = iter(hits)
        found = {name: any([next(it) for _ in group]) for name, group in self._groups}
        if not found[Attribute.ACTION_OWNER.value]:
            found[Attribute.ACTION_OWNER.value] = any(
                self.name_action.match(low, e) for _, e in person_spans
            )
        return {
            Attribute.SBAR.value: self._has_sbar(low, words),
            Attribute.RATIONALE.value: found[Attribute.RATIONALE.value],
            Attribute.ACTION_OWNER.value: found[Attribute.ACTION_OWNER.value],
            Attribute.TIMESCALE.value: found[Attribute.TIMESCALE.value],
            Attribute.RETROSPECTIVE.value: found[Attribute.RETROSPECTIVE.value],
        }

    def _has_sbar(self, low: str, runs: set[str]) -> bool:
        det = self.detector
        if self.sbar_min == det.sbar_min:
            return det.has_sbar(low, words_like(low, runs), runs)
        return len(det.sbar_sections(low, words_like(low, runs))) >= self.sbar_min

    def scan(self, low: str, words: set[str]) -> tuple[list[bool], list[bool]]:
        """Which initiator cues and which attribute cues match ``low``, in one pass."""
        hits = self._both_bank.found(low, words)
        n = len(self.initiator_cues)
        return hits[:n], hits[n:]


@cache
def get_attribute_rules(rules_path: str | None = None) -> AttributeRules:
    return AttributeRules(rules_path)


class AttributesComponent:
    """The spaCy component: sets ``initiated_by``, the attribute booleans and
    ``risk_factor_terms`` on oversight Docs (non-oversight Docs get unknown/False).

    The work is done by :meth:`annotate` on the text, the export row, the comment blocks and the
    PII spans; the Doc's tokens are needed only for the risk-term PhraseMatchers, and only when
    the text holds one of the terms' words, so the batch path (:func:`pipeline.nlp.batch.
    find_entries`) calls :meth:`annotate` with a Doc made on demand and gets the same values.
    """

    def __init__(self, nlp: Language, rules: str | None = None, scope: str | None = None) -> None:
        self.rules = get_attribute_rules(rules)
        self.scope = scope or self.rules.scope
        self.lower_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        lower_docs = [nlp.make_doc(t) for t in self.rules.risk_terms]
        self.lower_matcher.add("RISK", lower_docs)
        self.exact_matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
        exact_docs = [nlp.make_doc(t) for t in self.rules.risk_acronyms]
        self.exact_matcher.add("RISK", exact_docs)
        # A text that cannot hold a risk term is never tokenised (see may_hold_risk_terms)
        unsplit = _letter_split_tokens(nlp)
        self._lower_gate = _TermGate(lower_docs, lower=True, unsafe=unsplit)
        self._exact_gate = _TermGate(exact_docs, lower=False, unsafe=unsplit)
        # the most whitespace-separated chunks a term's match can span, plus one for safety
        self._window = _Windows(max(len(d) for d in [*lower_docs, *exact_docs]) + 1)

    def _in_risk_context(self, text: str, start: int, end: int) -> bool:
        """Whether the sentence around text[start:end] names it as bearing on risk."""
        s = max(text.rfind(c, 0, start) for c in ".;\n•!?") + 1
        ends = [i for i in (text.find(c, end) for c in ".;\n•!?") if i >= 0]
        e = min(ends) if ends else len(text)
        sentence = (text[s:start] + " " + text[end:e]).lower()
        return self.rules.risk_context.search(sentence) is not None

    def _anchors(self, text: str, low: str) -> tuple[list[str], list[str]]:
        """The gates' anchors (:meth:`_TermGate.anchors`): the LOWER terms' in ``low``, the
        acronyms' in ``text``; both empty when no risk term can match."""
        return self._lower_gate.anchors(low), self._exact_gate.anchors(text)

    def may_hold_risk_terms(self, text: str, text_low: str | None = None) -> bool:
        """False only when no risk term can match in ``text`` (no tokenising needed)."""
        low = text.lower() if text_low is None else text_low
        return any(self._anchors(text, low))

    def risk_term_windows(
        self,
        text: str,
        text_low: str | None = None,
        anchors: tuple[list[str], list[str]] | None = None,
    ) -> list[tuple[int, int]]:
        """Stretches of ``text`` that hold every risk-term match it has, each a run of whole
        whitespace-separated chunks: [] when no term can match.

        spaCy's tokenizer cuts a text at whitespace first and tokenises each chunk on its own,
        so a stretch that starts and ends at chunk boundaries is tokenised exactly as inside the
        whole text, and a term's match (at most ``n`` tokens, so ``n`` chunks) lies within the
        chunks around one place where one of its tokens occurs. Needs offsets of ``text_low``
        to index ``text`` (the caller falls back to the whole text otherwise). ``anchors``:
        :meth:`_anchors` of the text, when the caller has them."""
        low = text.lower() if text_low is None else text_low
        lower, exact = self._anchors(text, low) if anchors is None else anchors
        places = [
            p
            for source, found in ((low, lower), (text, exact))
            for anchor in found
            for p in _occurrences(source, anchor)
        ]
        return self._window.around(text, places)

    def _risk_spans(
        self,
        text: str,
        text_low: str,
        doc: Doc | Callable[[], Doc] | None,
        tokenizer: Callable[[str], Doc] | None,
        anchors: tuple[list[str], list[str]] | None = None,
    ) -> Iterator[tuple[int, int]]:
        """Character spans of the risk-term matches in ``text``: from the Doc when given, else
        from the stretches :meth:`risk_term_windows` picks, each tokenised by ``tokenizer``."""
        if isinstance(doc, Doc):
            pieces: list[tuple[int, Doc]] = [(0, doc)]
        elif tokenizer is not None and len(text_low) == len(text):
            windows = self.risk_term_windows(text, text_low, anchors)
            if sum(e - s for s, e in windows) > len(text) // 2:
                windows = [(0, len(text))]  # most of the text: one Doc costs less
            pieces = [(s, tokenizer(text[s:e])) for s, e in windows]
        elif doc is not None:
            pieces = [(0, doc())]
        elif tokenizer is not None:
            pieces = [(0, tokenizer(text))]
        else:
            raise ValueError("annotate needs the Doc: the text may hold a risk term")
        for offset, piece in pieces:
            for matcher in (self.lower_matcher, self.exact_matcher):
                for _, start, end in matcher(piece):
                    last = piece[end - 1]
                    yield offset + piece[start].idx, offset + last.idx + len(last)

    def __call__(self, doc: Doc) -> Doc:
        if not ext_get(doc, "is_oversight"):
            ext_set(doc, "initiated_by", None)
            for a in Attribute:
                ext_set(doc, a.value, False)
            ext_set(doc, "risk_factor_terms", [])
            return doc
        values = self.annotate(
            doc_text(doc),
            ext_get(doc, "context") or {},
            ext_get(doc, "blocks") or [],
            ext_get(doc, "pii_spans") or (),
            doc=doc,
        )
        for name, value in values.items():
            ext_set(doc, name, value)
        return doc

    def annotate(
        self,
        text: str,
        ctx: Mapping[str, Any],
        blocks: list[Block],
        spans: Iterable[tuple[int, int, str]],
        *,
        doc: Doc | Callable[[], Doc] | None = None,
        tokenizer: Callable[[str], Doc] | None = None,
    ) -> dict[str, Any]:
        """The attribute values of an oversight entry: the attribute booleans,
        ``risk_factor_terms`` and ``initiated_by``. ``doc``: the text's Doc, or a function that
        makes it (called only when a risk term may occur); or ``tokenizer`` (``nlp.make_doc``)
        to tokenise only the stretches of the text where a risk term may occur (the same
        matches, at a fraction of the cost); with neither, the text must hold no risk term's
        words (else ValueError)."""
        out: dict[str, Any] = {}
        if self.scope == "entry":
            ranges = entry_ranges(text, blocks, ctx, self.rules.detector)
        else:
            ranges = [(0, len(text))]
        whole = ranges == [(0, len(text))]
        text_low = text.lower()
        # offsets into text index text_low too, unless a letter's lower case is longer
        text_low_at = text_low if len(text_low) == len(text) else None
        low = text_low if whole else "\n".join(text[s:e] for s, e in ranges).lower()
        words = word_set(low)
        # offsets of PERSON spans inside the joined entry text
        persons: list[tuple[int, int]] = []
        base = 0
        for s, e in ranges:
            for ps, pe, kind in spans:
                if kind == "PERSON" and s <= ps and pe <= e:
                    persons.append((ps - s + base, pe - s + base))
            base += e - s + 1
        initiator_hits = attribute_hits = None
        if whole:
            initiator_hits, attribute_hits = self.rules.scan(low, words)
        out.update(self.rules.text_attributes(low, persons, words=words, hits=attribute_hits))
        terms: set[str] = set()
        anchors = self._anchors(text, text_low)
        if any(anchors):
            for s_char, e_char in self._risk_spans(text, text_low, doc, tokenizer, anchors):
                if not any(s <= s_char and e_char <= e for s, e in ranges):
                    continue
                term = (
                    text_low_at[s_char:e_char]
                    if text_low_at is not None
                    else text[s_char:e_char].lower()
                )
                if term in self.rules.risk_analytic or self._in_risk_context(text, s_char, e_char):
                    terms.add(term)
        out["risk_factor_terms"] = sorted(terms)
        out[Attribute.RISK_FACTORS.value] = bool(terms)
        # who started it is often said outside the entry: the PP's request above the SPO's
        # comment ("SPO, please could you review"), so the initiator reads the whole notes
        out["initiated_by"] = self.rules.initiated_by(
            low if whole else text_low,
            ctx.get("contact_type_code"),
            request_block=not whole and _has_other_text(text, ranges),
            words=words if whole else None,
            hits=initiator_hits,
        )
        return out


_LETTERS = re.compile(r"[^\W\d_]+")
#: bytes -> the byte for an ASCII letter, else a space: in an ASCII text the runs of letters
#: (``_LETTERS``'s matches) are then the words of ``str.split``
_ASCII_LETTER = bytes(c if chr(c).isascii() and chr(c).isalpha() else 32 for c in range(256))


def _letter_split_tokens(nlp: Language) -> frozenset[str]:
    """Tokens (as written and lower-cased) that the tokenizer's special cases cut off next to a
    letter ("can|not", "gon|na"): the only way a token can start or end inside a run of
    letters (prefix, suffix and infix rules split at punctuation, digits and spaces)."""
    from spacy.attrs import ORTH

    found: set[str] = set()
    for pieces in nlp.tokenizer.rules.values():
        orths = [p.get(ORTH, p.get("ORTH", "")) for p in pieces]
        for i, orth in enumerate(orths):
            if not orth:
                continue
            before = i > 0 and orths[i - 1][-1:].isalpha() and orth[0].isalpha()
            after = i + 1 < len(orths) and orth[-1].isalpha() and orths[i + 1][:1].isalpha()
            if before or after:
                found.update((orth, orth.lower()))
    return frozenset(found)


class _TermGate:
    """Whether a PhraseMatcher's terms can match a text, without tokenising it.

    A term matches only where each of its tokens is a token of the text. In an ASCII text a
    token made of letters is then a whole run of letters (tokens start and end at spaces,
    punctuation or digits), unless a special case cut it out of a longer word (``unsafe``);
    other tokens, and every token of other texts, are at least substrings. So a term whose
    every token passes that test may match, and a text where no term does holds none (a
    necessary condition: the matcher still decides)."""

    def __init__(self, patterns: Iterable[Doc], *, lower: bool, unsafe: frozenset[str]) -> None:
        self.lower = lower
        #: per term: the tokens to find as letter runs, and those to find as substrings
        terms: list[tuple[frozenset[str], tuple[str, ...]]] = []
        for d in patterns:
            texts = [t.lower_ if lower else t.text for t in d]
            runs = frozenset(x for x in texts if x.isalpha() and x not in unsafe)
            subs = tuple(dict.fromkeys(x for x in texts if x and x not in runs))
            if texts:
                terms.append((runs, subs))
        #: terms by one of their letter-run tokens; terms without one are always checked
        self.by_word: dict[str, list[tuple[frozenset[str], tuple[str, ...]]]] = {}
        self.always: list[tuple[frozenset[str], tuple[str, ...]]] = []
        for runs, subs in dict.fromkeys(terms):
            if runs:
                self.by_word.setdefault(max(runs, key=len), []).append((runs, subs))
            else:
                self.always.append((runs, subs))
        self.words = frozenset(self.by_word)

    def possible(self, text: str) -> bool:
        """False only when no term can match ``text`` (lower-cased for a LOWER matcher)."""
        return bool(self.anchors(text))

    def anchors(self, text: str) -> list[str]:
        """One token text of every term that may match ``text`` (lower-cased for a LOWER
        matcher); [] when none can. A match of such a term holds that token, so it lies where
        the string occurs."""
        found: list[str] = []
        if text.isascii():
            # the runs of ASCII letters, through bytes (a C table look-up per character)
            runs = set(text.encode("ascii").translate(_ASCII_LETTER).decode("ascii").split())
            for word in self.words.intersection(runs):
                if any(
                    need <= runs and all(map(text.__contains__, subs))
                    for need, subs in self.by_word[word]
                ):
                    found.append(word)
        else:
            # beyond ASCII a run of word characters may hold more than letters: substrings only
            for word, terms in self.by_word.items():
                if any(
                    all(map(text.__contains__, need)) and all(map(text.__contains__, subs))
                    for need, subs in terms
                ):
                    found.append(word)
        for _, subs in self.always:
            if all(map(text.__contains__, subs)):
                found.append(max(subs, key=len))
        return found


def _occurrences(text: str, sub: str) -> Iterator[int]:
    p = text.find(sub)
    while p >= 0:
        yield p
        p = text.find(sub, p + 1)


class _Windows:
    """Stretches of whole whitespace-separated chunks around places in a text: the chunk holding
    each place and ``n`` chunks on either side, overlapping stretches merged. Chunks are what
    spaCy's tokenizer cuts at (``str.isspace``, as ``\\s`` in a ``str`` regex)."""

    def __init__(self, n: int) -> None:
        # from a place: the rest of its chunk, then up to n more chunks (run on the reversed
        # text, the same pattern walks leftwards)
        self._ahead = re.compile(rf"\S*(?:\s+\S+){{0,{n}}}")

    def around(self, text: str, places: Iterable[int]) -> list[tuple[int, int]]:
        places = sorted(set(places))
        if not places:
            return []
        ahead = self._ahead.match
        size = len(text)
        back = text[::-1]
        out: list[list[int]] = []
        for p in places:
            if out and p < out[-1][1]:
                # inside the last stretch: extend it from here (its chunks are already in)
                out[-1][1] = max(out[-1][1], ahead(text, p).end())  # type: ignore[union-attr]
                continue
            start = size - ahead(back, size - p).end()  # type: ignore[union-attr]
            end = ahead(text, p).end()  # type: ignore[union-attr]
            if out and start <= out[-1][1]:
                out[-1][1] = max(out[-1][1], end)
            else:
                out.append([start, end])
        return [(s, e) for s, e in out]
