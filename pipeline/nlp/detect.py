"""`oversight_detector`: is a contact management oversight, and why.

The decision, in order (the first that applies wins):

1. ``system``: the contact was written by the system (``system_generated`` = Y, or a code in
   ``labels.SYSTEM_CODES``): never oversight.
2. ``code``: a management-oversight contact type (``labels.OVERSIGHT_CODES``), or an MO outcome
   (``labels.MO_OUTCOME_CODES``) on any other type: oversight.
3. ``text``: for every other code (case-discussion codes and ordinary casework alike) the notes
   decide, with the cues of ``oversight_rules.yaml``: a strong cue (the SPO's own voice or an
   explicit oversight record) or an SBAR layout decides by itself; a weak cue counts when a
   manager wrote (part of) the note: a manager grade on the contact, or a comment block added
   by someone other than the contact's creator.
4. ``none``: not oversight.

The same :class:`OversightDetector` serves the cheap path of ``process`` (raw text, no spaCy) and
the spaCy component, so both always agree. Its first step is a prefilter: the words of the text
are split with ``str.translate`` and compared with the cue anchors as sets, and a text with no
anchor word is decided without running any regex.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from pipeline.errors import RulesError
from pipeline.labels import MO_OUTCOME_CODES, OVERSIGHT_CODES, SYSTEM_CODES
from pipeline.nlp.blocks import Block, split_blocks
from pipeline.nlp.rules import (
    AnchoredPattern,
    compile_anchored,
    load_rules,
    require,
    word_set,
)

RULES = "oversight_rules.yaml"

REASON_CODE = "code"
REASON_TEXT = "text"
REASON_SYSTEM = "system"
REASON_NONE = "none"
REASONS: tuple[str, ...] = (REASON_CODE, REASON_TEXT, REASON_SYSTEM, REASON_NONE)

#: ASCII punctuation to spaces: ``text.lower().translate(_SPLIT).split()`` gives the words.
_SPLIT = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~’‘“”•–—"})
_NAME_WORD = re.compile(r"[^\W\d_]{2,}")


_ASCII_SPLIT = bytes.maketrans(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", b" " * 32)
#: A character that :func:`words_of` neither splits on nor keeps in a word run of ``\w``: when a
#: text has none, its words are exactly its ``\w+`` runs (``rules.word_set``).
_UNLISTED = re.compile(r"[^\w\s!\"#$%&'()*+,\-./:;<=>?@\[\\\]^`{|}~’‘“”•–—]|_")
#: the ASCII characters ``_UNLISTED`` matches (taken from it): in an ASCII text it matches
#: exactly when deleting these bytes shortens the text (a C-level pass, no regex scan)
_ASCII_UNLISTED = bytes(c for c in range(128) if _UNLISTED.match(chr(c)))


def _has_unlisted(low: str) -> bool:
    """Whether ``_UNLISTED`` occurs in ``low``."""
    if low.isascii():
        raw = low.encode("ascii")
        return len(raw.translate(None, _ASCII_UNLISTED)) != len(raw)
    return _UNLISTED.search(low) is not None


def words_of(low: str) -> set[str]:
    """The set of words of a lower-cased text (split on whitespace and punctuation)."""
    if low.isascii():  # the same split, through bytes (a C table look-up per character)
        return set(low.encode("ascii").translate(_ASCII_SPLIT).decode("ascii").split())
    return set(low.translate(_SPLIT).split())


def words_like(low: str, runs: set[str]) -> set[str]:
    r""":func:`words_of` ``low``, given ``runs`` = its set of ``\w+`` runs: the same set when the
    text holds nothing but word characters, whitespace and the punctuation words_of splits on."""
    return words_of(low) if _has_unlisted(low) else runs


@dataclass(frozen=True, slots=True)
class Cue:
    anchors: frozenset[str]
    pattern: AnchoredPattern
    name: str


@dataclass(frozen=True, slots=True)
class Detection:
    is_oversight: bool
    reason: str
    #: which rule decided: e.g. "code:MO1", "outcome:MO27", "strong:4", "sbar", "weak:2+grade"
    evidence: str = ""


#: Decisions are immutable, so the common one is shared.
_NOT_OVERSIGHT = Detection(False, REASON_NONE)


def _truthy_flag(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value.strip().upper() in ("Y", "YES", "TRUE", "1")
        or value is True
    )


def _runs(low: str, cache_: list, words: set[str] | None = None) -> set[str]:
    """``word_set(low)`` (the anchored patterns' word look-up), kept in ``cache_[0]``; it is
    the text's :func:`words_of` set whenever the two splits agree."""
    if not cache_:
        cache_.append(words if words is not None and not _has_unlisted(low) else word_set(low))
    return cache_[0]


def _name_tokens(name: str | None) -> set[str]:
    return {w.lower() for w in _NAME_WORD.findall(name)} if name else set()


class OversightDetector:
    """The oversight decision, built once from ``oversight_rules.yaml`` (or a file like it)."""

    def __init__(
        self, rules_path: str | None = None, *, use_outcome_codes: bool | None = None
    ) -> None:
        rules = load_rules(RULES, rules_path)
        flags = re.MULTILINE

        def cues(key: str) -> list[Cue]:
            out = []
            for i, item in enumerate(require(rules, key, RULES, items=dict)):
                if not isinstance(item, dict) or "pattern" not in item or "anchors" not in item:
                    raise RulesError(
                        "each cue needs 'anchors' and 'pattern'", path=RULES, key=f"{key}[{i}]"
                    )
                anchors = frozenset(str(a).lower() for a in item["anchors"])
                rx = compile_anchored(item["pattern"], RULES, f"{key}[{i}]", flags)
                out.append(Cue(anchors, rx, f"{key}:{i}"))
            return out

        self.strong = cues("strong")
        self.weak = cues("weak")
        self.negations = [
            compile_anchored(p, RULES, f"negations[{i}]", flags)
            for i, p in enumerate(require(rules, "negations", RULES))
        ]
        sbar = require(rules, "sbar", RULES, dict)
        self.sbar_min = int(sbar.get("min_sections", 3))
        self.sbar_headings = {
            name: compile_anchored(p, RULES, f"sbar.headings.{name}", flags)
            for name, p in require(sbar, "headings", RULES, dict).items()
        }
        self.sbar_anchors = frozenset(
            {"s", "b", "a", "r", "situation", "background", "assessment", "recommendation", "rec"}
        )
        self.strong_anchors = frozenset().union(*(c.anchors for c in self.strong))
        self.weak_anchors = frozenset().union(*(c.anchors for c in self.weak))
        self.manager_grades = frozenset(
            g.strip().lower() for g in require(rules, "manager_grades", RULES)
        )
        self.use_outcome_codes = (
            bool(rules.get("mo_outcome_means_oversight", True))
            if use_outcome_codes is None
            else use_outcome_codes
        )
        #: (code, system_generated, outcome_code) -> decision: the code tables are small
        self._by_code: dict[tuple[Any, Any, Any], Detection | None] = {}

    # -- pieces ------------------------------------------------------------------------------

    def sbar_sections(self, low: str, words: set[str] | None = None) -> list[str]:
        """The SBAR headings present in a lower-cased text (``words``: its :func:`words_of`)."""
        if words is not None and len(words & self.sbar_anchors) < 2:
            return []
        runs = _runs(low, [], words)
        return [name for name, rx in self.sbar_headings.items() if rx.search(low, runs)]

    def has_sbar(self, low: str, words: set[str], runs: set[str] | None = None) -> bool:
        """``len(sbar_sections(low, words)) >= sbar_min``, stopping as soon as it is decided."""
        if len(words & self.sbar_anchors) < 2:
            return False
        if runs is None:
            runs = _runs(low, [], words)
        need, left = self.sbar_min, len(self.sbar_headings)
        for rx in self.sbar_headings.values():
            if left < need:
                return False
            left -= 1
            if rx.search(low, runs) is not None:
                need -= 1
                if need <= 0:
                    return True
        return need <= 0

    def _negated(self, low: str, m: re.Match[str], cache_: list) -> bool:
        if len(cache_) < 2:
            runs = _runs(low, cache_)
            cache_.append([n.span() for rx in self.negations for n in rx.finditer(low, runs)])
        s, e = m.span()
        return any(ns <= s and e <= ne for ns, ne in cache_[1])

    def _first_hit(self, low: str, words: set[str], cues: list[Cue], neg: list) -> str | None:
        """The first cue with a match outside every negation. ``neg`` is a per-text cache:
        ``[word_set(low)]`` once the cue patterns need it, then the negation spans."""
        for cue in cues:
            if cue.anchors.isdisjoint(words):
                continue
            for m in cue.pattern.finditer(low, _runs(low, neg, words)):
                if not self._negated(low, m, neg):
                    return cue.name
        return None

    def manager_context(
        self,
        staff_grade: str | None,
        created_by: str | None,
        staff_name: str | None,
        blocks: Iterable[Block],
    ) -> str | None:
        """Why (part of) the note counts as a manager's: 'grade', 'author', or None."""
        if staff_grade and staff_grade.strip().lower() in self.manager_grades:
            return "grade"
        owner = _name_tokens(created_by) or _name_tokens(staff_name)
        if owner:
            for b in blocks:
                if b.author:
                    author = _name_tokens(b.author)
                    if author and author.isdisjoint(owner):
                        return "author"
        return None

    # -- the decision --------------------------------------------------------------------------

    def decide_code(
        self, code: str | None, system_generated: Any = None, outcome_code: str | None = None
    ) -> Detection | None:
        """The decision from the code tables alone, or None when the text must decide."""
        key = (code, system_generated, outcome_code)
        try:
            return self._by_code[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value: decide without the cache
            return self._decide_code(code, system_generated, outcome_code)
        found = self._decide_code(code, system_generated, outcome_code)
        if len(self._by_code) < 65536:
            self._by_code[key] = found
        return found

    def _decide_code(
        self, code: str | None, system_generated: Any, outcome_code: str | None
    ) -> Detection | None:
        c = code.strip().upper() if isinstance(code, str) else ""
        if _truthy_flag(system_generated) or c in SYSTEM_CODES:
            return Detection(False, REASON_SYSTEM, "system")
        if c in OVERSIGHT_CODES:
            return Detection(True, REASON_CODE, f"code:{c}")
        o = outcome_code.strip().upper() if isinstance(outcome_code, str) else ""
        if self.use_outcome_codes and o in MO_OUTCOME_CODES:
            return Detection(True, REASON_CODE, f"outcome:{o}")
        return None

    def decide(
        self,
        text: str | None,
        *,
        code: str | None = None,
        system_generated: Any = None,
        outcome_code: str | None = None,
        staff_grade: str | None = None,
        staff_name: str | None = None,
        created_by: str | None = None,
        blocks: list[Block] | None = None,
    ) -> Detection:
        """Decide one contact. ``blocks`` are computed from ``text`` when not given."""
        by_code = self.decide_code(code, system_generated, outcome_code)
        if by_code is not None:
            return by_code
        if not text or not isinstance(text, str):
            return _NOT_OVERSIGHT
        low = text.lower()
        words = words_of(low)
        strong_possible = not self.strong_anchors.isdisjoint(words)
        weak_possible = not self.weak_anchors.isdisjoint(words)
        sbar_possible = len(words & self.sbar_anchors) >= 2
        if not (strong_possible or weak_possible or sbar_possible):
            return _NOT_OVERSIGHT
        neg: list = []
        if strong_possible and (hit := self._first_hit(low, words, self.strong, neg)):
            return Detection(True, REASON_TEXT, hit)
        if sbar_possible and self.has_sbar(low, words, _runs(low, neg, words)):
            return Detection(True, REASON_TEXT, "sbar")
        if weak_possible:
            if blocks is None:
                blocks = split_blocks(text)
            why = self.manager_context(staff_grade, created_by, staff_name, blocks)
            if why and (hit := self._first_hit(low, words, self.weak, neg)):
                return Detection(True, REASON_TEXT, f"{hit}+{why}")
        return _NOT_OVERSIGHT

    def decide_record(
        self, rec: Mapping[str, Any] | Any, blocks: list[Block] | None = None
    ) -> Detection:
        """Decide a NoteRecord (or a mapping with the export's column names)."""
        get = rec.get if isinstance(rec, Mapping) else lambda k, d=None: getattr(rec, k, d)
        return self.decide(
            get("notes"),
            code=get("contact_type_code"),
            system_generated=get("system_generated"),
            outcome_code=get("outcome_code"),
            staff_grade=get("staff_grade"),
            staff_name=get("staff_name"),
            created_by=get("created_by"),
            blocks=blocks,
        )


@cache
def get_detector(
    rules_path: str | None = None, use_outcome_codes: bool | None = None
) -> OversightDetector:
    """The detector for these rules, built once per process."""
    return OversightDetector(rules_path, use_outcome_codes=use_outcome_codes)
