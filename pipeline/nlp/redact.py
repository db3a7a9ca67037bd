"""`pii_redactor`: find personal data in a notes text and replace it with typed placeholders.

The engine works on the raw characters, so :func:`redact` can be called on any text without
running the spaCy pipeline (``process`` uses it for every text it stores); the spaCy component in
:mod:`pipeline.nlp.components` calls the same engine, so both give the same answer.

How it stays fast: one word pass (a compiled word regex plus set look-ups) finds names and cues
and tells which costlier regexes are worth running at all; one combined regex finds every
digit-bearing kind (PNC, NI number, CRN, phone, postcode, dates) in a single pass, and only when
the text holds a digit; address and date-of-birth regexes run only when their cue words occur.

Kinds (``labels.PiiKind``): names, CRN, PNC, NI number, date of birth (a date next to a DOB cue,
or a full date long before the contact date), phone, e-mail, postcode and street address.
Names come from the export's own name columns and the comment-header authors (``known_names``),
from cues (titles, police ranks, roles, relationship words, ``NAME (PP)``) and from the shipped
first-name and surname gazetteers, while common English words, probation abbreviations,
weekdays and months are left alone (``lexicon.json``).

Guarantees: never raises on a ``str``; spans are sorted, disjoint, and index the ORIGINAL text;
redacting a redacted text changes nothing (placeholders are never matched again).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable
from datetime import date
from functools import cache, lru_cache
from itertools import accumulate, compress
from operator import itemgetter, or_

from spacy.lang.en.stop_words import STOP_WORDS

from pipeline.labels import PiiKind
from pipeline.nlp.blocks import find_headers
from pipeline.nlp.rules import load_rules, require, word_alternation
from pipeline.nlp.textutil import CAPWORD, DATE, MONTH_ALT, WORD_RE, parse_date

Span = tuple[int, int, str]
_Tokens = tuple[list[int], list[int], list[str], list[str], list[str]]

_PERSON = PiiKind.PERSON.value
_ADDRESS = PiiKind.ADDRESS.value
_DOB = PiiKind.DOB.value

#: When spans of two kinds overlap they are merged into one, of the kind with the higher rank.
PRIORITY: dict[str, int] = {
    PiiKind.EMAIL.value: 9,
    PiiKind.PNC.value: 8,
    PiiKind.NI_NUMBER.value: 8,
    PiiKind.CRN.value: 8,
    PiiKind.PHONE.value: 7,
    PiiKind.POSTCODE.value: 7,
    PiiKind.DOB.value: 6,
    PiiKind.ADDRESS.value: 5,
    PiiKind.PERSON.value: 4,
}
PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(k.value for k in PiiKind) + r")\]")

_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]*\w@[\w\-]+(?:\.[\w\-]+)+")
# Digit-bearing kinds are found from the runs of digits (a fast scan), by trying each kind's
# pattern with ``.match`` where it could start: at the run, or just before it for the kinds that
# open with letters or "+". Left boundaries are checked by ``_digit_kinds``.
_RUN = re.compile(r"\d+")
#: an e-mail address written to dodge harvesters: "j.smith(at)example(dot)com", "jo at example
#: dot org", "kim [at] example.co.uk"
_OBF_AT = r"(?:[ \t]*[(\[{<][ \t]*(?i:at)[ \t]*[)\]}>][ \t]*|[ \t]+(?i:at)[ \t]+)"
_OBF_DOT = r"(?:[ \t]*[(\[{<][ \t]*(?i:dot)[ \t]*[)\]}>][ \t]*|\.|[ \t]+(?i:dot)[ \t]+)"
_EMAIL_OBF = re.compile(
    rf"(?<![\w.+\-])[\w.+\-]*\w{_OBF_AT}[\w\-]+(?:{_OBF_DOT}[\w\-]+)*{_OBF_DOT}"
    r"(?i:com|org|net|uk|gov|nhs|co|io|info|me|cymru|wales|ac|police|pnn|biz|eu|ie)(?![\w])"
)
_OBF_HINT = re.compile(r"[(\[{<][ \t]*(?i:at|dot)[ \t]*[)\]}>]|(?i:\bdot[ \t]+(?:com|org|net|uk|gov|co)\b)|(?i:\bat[ \t]+[\w\-]+\.(?:com|org|net|uk|gov|co)\b)")
_PNC_AT = re.compile(r"(?:\d{4}|\d{2})/\d{5,7}[A-Za-z](?![A-Za-z0-9])")
_DATE_AT = re.compile(DATE)
_PHONE_AT = re.compile(
    r"(?:\+[ \t]?44[ \t]?|0044[ \t]?|0)(?:\(0\)[ \t]?)?(?:\d[ \t\-().]{0,2}){8,9}\d(?!\d)"
)
_NI_AT = re.compile(
    r"(?:[A-Z]{2}|[a-z]{2})[ \t]?\d{2}[ \t]?\d{2}[ \t]?\d{2}[ \t]?[A-Da-d](?![A-Za-z0-9])"
)
_CRN_AT = re.compile(r"[A-Za-z]\d{6}(?![A-Za-z0-9])")
_POSTCODE_AT = re.compile(
    r"(?:[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}|[a-z]{1,2}\d[a-z\d]?[ \t]?\d(?!st|nd|rd|th)[a-z]{2})(?![A-Za-z0-9])"
)
_MONTH_BEFORE = re.compile(rf"(?<![\w])(?i:{MONTH_ALT})\.?[ \t]+$")
_HAS_DIGIT = re.compile(r"\d")
_HOUSE = r"(?<![\w/.£$])\d{1,4}[A-Za-z]?(?:[ \t]?[-–][ \t]?\d{1,4}[A-Za-z]?)?"
_TIME_UNITS = frozenset(
    [
        "times",
        "time",
        "days",
        "day",
        "weeks",
        "week",
        "months",
        "month",
        "years",
        "year",
        "hours",
        "hour",
        "minutes",
        "mins",
        "min",
        "sessions",
        "session",
        "hrs",
        "yrs",
        "wks",
        "pm",
        "am",
    ]
)
_SPACES = frozenset(" \t")
_SENTENCE_BREAK = re.compile(r"[.!?;:\n\r•*()\[\]\"]")
_TITLE_GAP = re.compile(r"\.?[ \t]{1,3}$")
_RANK_GAP = re.compile(r"\.?[ \t]{1,3}(?:\d{2,6}[ \t]{1,3})?$")
_PUNCT_JOIN = re.compile(r"[ \t]*[,:\-–][ \t]*$")
_CONJUNCTION = re.compile(r"[ \t]*[+&/][ \t]*")
_INITIAL_LEADS = r"\b(?:with|by|to|from|and|per|cc|fao|spoke to|asked|told|via)"
_OPEN_BRACKET = re.compile(r"[ \t]*\([ \t]*")
#: between the names of a list: "Seren, Tomos", "Kai & Jax"
_LIST_GAP = re.compile(r"[ \t]*[,&+/][ \t]*")
#: a word of a nickname
_ALIAS_WORD = re.compile(r"[ \t]*([^\W\d_]+(?:['’\-][^\W\d_]+)*)")
#: initials signing off a line: "... Thursday. R.T.", "- PT", "KW SPO", "J.M" alone on a line
_SIGNOFF = re.compile(
    r"(?:^|(?<=[.!?;)])|(?<=[-–~]))[ \t]*"
    r"(?P<ini>[A-Z]\.[ ]?[A-Z]\.?(?:[ ]?[A-Z]\.?)?|[A-Z]{2,3})"
    r"(?:[ \t]+(?:SPO|PP|PO|PSO|PQiP|OM|SPO\.))?[ \t]*[.)]?[ \t]*$",
    re.M,
)
#: "NAME (aged 4)" - a person whatever the name
_AGED = re.compile(r"[ \t]*\((?i:aged?)[ \t]*\d{1,3}")
#: ``WORD_RE`` as a splitter: words at the odd places, the text between them at the even ones
_WORD_SPLIT = re.compile(f"({WORD_RE.pattern})")
#: the same on an ASCII text, where ``[^\W\d_]`` is ``[A-Za-z]`` (a cheaper class to test)
_WORD_SPLIT_ASCII = re.compile(r"([A-Za-z]+(?:['’\-][A-Za-z]+)*)")
_FIRST_CHAR = itemgetter(slice(0, 1))
_LAST_CHAR = itemgetter(slice(-1, None))


class _Adjacent(dict):
    """gap -> whether it only separates two words of one name (1-3 spaces or tabs); a cache,
    so that ``map(_ADJACENT.__getitem__, gaps)`` runs in C for the common gaps."""

    def __missing__(self, gap: str) -> bool:
        value = 0 < len(gap) <= 3 and not gap.strip(" \t")
        if len(self) < 4096:
            self[gap] = value
        return value


_ADJACENT = _Adjacent()


def _brackets_after(text: str, ends: list[int], gaps: list[str]) -> list[int]:
    """Indices of the words whose following gap holds a "(" in its first four characters."""
    if "(" not in text:
        return []
    found: list[int] = []
    p = text.find("(")
    while p >= 0:
        i = bisect_right(ends, p) - 1
        if i >= 0 and p - ends[i] < min(4, len(gaps[i])) and (not found or found[-1] != i):
            found.append(i)
        p = text.find("(", p + 1)
    return found


def _norm(word: str) -> str:
    return word.replace("’", "'").lower()


class Redactor:
    """The redaction engine, built once from the rule files (see :func:`get_redactor`)."""

    def __init__(
        self,
        rules_path: str | None = None,
        names_path: str | None = None,
        lexicon_path: str | None = None,
        *,
        old_date_years: int | None = None,
    ) -> None:
        rname, nname, lname = "pii_rules.yaml", "names.json", "lexicon.json"
        rules = load_rules(rname, rules_path)
        names = load_rules(nname, names_path)
        lex = load_rules(lname, lexicon_path)

        def words(data: dict, key: str, fname: str) -> list[str]:
            return require(data, key, fname)

        def lowered(data: dict, key: str, fname: str) -> frozenset[str]:
            return frozenset(_norm(w) for w in words(data, key, fname))

        # the curated (mostly British) lists, widened by names of many origins that are rare as
        # English words (names_world.json, built by scripts/build_name_lists.py)
        world = load_rules("names_world.json", None) if names_path is None else {}
        self.first = lowered(names, "first_names", nname) | frozenset(
            _norm(w) for w in world.get("first_names", ())
        )
        self.surnames = lowered(names, "surnames", nname) | frozenset(
            _norm(w) for w in world.get("surnames", ())
        )
        domain = words(lex, "domain_words", lname)
        self.common = lowered(lex, "common_words", lname) | frozenset(STOP_WORDS)
        self.domain = frozenset(_norm(w) for w in domain)
        titles = words(rules, "titles", rname)
        ranks = [p.split()[-1] for p in words(rules, "police_ranks", rname)]
        self.titles = frozenset(titles)
        self.ranks = frozenset(ranks)
        self._title_words = self.titles | self.ranks
        #: abbreviations (two capitals or more, e.g. PP, RoSH): never names, even from columns
        self.acronyms = frozenset(
            _norm(w) for w in [*domain, *ranks] if sum(c.isupper() for c in w) >= 2
        )
        # role and relationship phrases, indexed by their first word
        # (rest of the phrase, is a role) by first word; roles ("PP", "manager") are more often
        # followed by a non-name than relations ("partner", "mother") are
        self.cues: dict[str, list[tuple[tuple[str, ...], bool]]] = {}
        cue_words: set[str] = set()
        for key in ("roles", "relations"):
            for phrase in words(rules, key, rname):
                parts = tuple(_norm(p) for p in phrase.split())
                self.cues.setdefault(parts[0], []).append((parts[1:], key == "roles"))
                cue_words.update(parts)
        for rest in self.cues.values():
            rest.sort(key=lambda r: len(r[0]), reverse=True)
        self._cue_keys = frozenset(self.cues)
        self.joiners: dict[str, list[tuple[str, ...]]] = {}
        for phrase in words(rules, "cue_joiners", rname):
            parts = tuple(_norm(p) for p in phrase.split())
            self.joiners.setdefault(parts[0], []).append(parts[1:])
        #: words that never count as a name by pattern alone
        self.blocked = (
            self.common | self.domain | frozenset(cue_words) | {_norm(w) for w in [*titles, *ranks]}
        )
        short = {n for n in self.first | self.surnames if len(n) <= 2}
        self.ambiguous = lowered(names, "ambiguous", nname) | self.blocked | short
        #: ambiguous first names that are also verbs or modals: at a sentence start they count
        #: only before a word like "said" ("Will said", not "Will attend")
        self.verbish = self.ambiguous & (
            frozenset(STOP_WORDS) | lowered(rules, "verbish_names", rname)
        )
        self.particles = lowered(rules, "particles", rname)
        self._stop = frozenset(STOP_WORDS)
        #: ordinary English words that are not names (english_words.json): the rules that work
        #: without a capital letter or a gazetteer entry ("partner kelly", "Kev from the UPW
        #: team") never take one of these
        self.english = frozenset(load_rules("english_words.json", None).get("words", ()))
        self.person_links = frozenset(_norm(p.split()[0]) for p in rules.get("person_links", ()))
        alias = rules.get("alias_cues") or []
        alias_cap = rules.get("alias_cues_capitalised") or []
        self._alias_re = (
            re.compile(rf"(?<![\w])(?i:{word_alternation(alias)})[ \t]*[:\-–]?[ \t]*[\"'“‘(]?")
            if alias
            else None
        )
        self._alias_cap_re = (
            re.compile(rf"(?<![\w])(?i:{word_alternation(alias_cap)})[ \t]*[:\-–]?[ \t]*[\"'“‘(]?")
            if alias_cap
            else None
        )
        self._alias_words = frozenset(
            _norm(w) for phrase in [*alias, *alias_cap] for w in WORD_RE.findall(phrase)
        )
        self.followers = lowered(rules, "name_followers", rname)
        self.not_name = lowered(rules, "not_name_tokens", rname) | self.acronyms | self.particles
        self._known_cache: dict[tuple[str, ...], frozenset[str]] = {}
        self._name_cache: dict[str, frozenset[str]] = {}
        years = rules.get("old_date_years", 0) if old_date_years is None else old_date_years
        self.old_date_years = int(years or 0)

        # bracketed roles after a name: "Jane Smith (PP)"
        self._bracket_tail = re.compile(
            r"[ \t]*\((?i:"
            + "|".join(re.escape(r) for r in words(rules, "bracket_roles", rname))
            + r")\)"
        )

        # addresses
        suffix_list = words(rules, "street_suffixes", rname)
        welsh_list = words(rules, "welsh_street_prefixes", rname)
        self.street_words = frozenset(suffix_list) | frozenset(welsh_list)
        self.flat_words = lowered(rules, "flat_words", rname)
        suffixes = "|".join(re.escape(s) for s in suffix_list)
        numberless = "|".join(
            re.escape(s) for s in words(rules, "numberless_street_suffixes", rname)
        )
        welsh = "|".join(re.escape(s) for s in welsh_list)
        street_word = rf"(?:{CAPWORD}|St\.?|Saint)"
        self._address_re = re.compile(
            rf"{_HOUSE},?[ \t]+(?:{street_word}[ \t]+){{1,3}}(?:{suffixes})\.?(?![\w])"
            rf"|{_HOUSE},?[ \t]+(?:{welsh})(?:[ \t]+(?:[Yy]r?|{CAPWORD})){{1,3}}(?![\w])"
        )
        address_cues = words(rules, "address_cues", rname)
        self.address_cue_words = frozenset(_norm(c.split()[0]).rstrip(":") for c in address_cues)
        self._cue_address_re = re.compile(
            rf"(?i:{word_alternation(address_cues)})[ \t]*:?[ \t]*(?P<addr>"
            rf"{_HOUSE},?[ \t]+(?:[A-Za-z'’\-]+[ \t]+){{1,3}}(?i:{suffixes})\.?(?![\w])"
            rf"|(?:{CAPWORD}[ \t]+){{1,3}}(?:{numberless})(?![\w]))"
        )
        self._flat_re = re.compile(
            rf"(?<![\w])(?i:{'|'.join(re.escape(w) for w in words(rules, 'flat_words', rname))})"
            r"\.?[ \t]*(?:(?i:no)\.?[ \t]*)?\d{1,4}[A-Za-z]?(?![\w])"
        )
        # addresses by grammar, beyond a listed street type: "4 The Hollies", "7b heol y wern",
        # "7 Mill Fold, Halifax", "12 Ashgrove LS9 7QT", "Flat 9 Ashgrove House"
        postcode = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]?\d[A-Z]{2}(?![A-Za-z0-9])"
        self._grammar_address_re = re.compile(
            rf"{_HOUSE},?[ \t]+The[ \t]+(?P<the>(?:{CAPWORD}[ \t]+){{0,2}}{CAPWORD})(?![\w])"
            rf"|{_HOUSE},?[ \t]+(?i:{welsh})[ \t]+(?i:y|yr|'r)[ \t]+[^\W\d_]+(?:[ \t]+{CAPWORD})?(?![\w])"
            rf"|{_HOUSE},?[ \t]+(?P<words>(?:{CAPWORD}[ \t]+){{0,2}}{CAPWORD})"
            rf"(?=[ \t]*,[ \t]*(?:{CAPWORD}|{postcode})|[ \t]+{postcode}|[ \t]*\r?\n)"
        )
        self._flat_tail_re = re.compile(
            rf",?[ \t]+(?:(?:{CAPWORD}|{_HOUSE})[ \t]+){{0,3}}(?:{suffixes})\.?(?![\w])"
            rf"|,?[ \t]+(?:The[ \t]+)?{CAPWORD}(?:[ \t]+{CAPWORD}){{0,2}}(?=[ \t]*[,\n]|[ \t]+{postcode})"
        )
        self._town_re = re.compile(rf",[ \t]*(?P<town>{CAPWORD}(?:[ \t\-]{CAPWORD})?)(?![\w])")
        self._not_street = re.compile(
            r"(?i:crown|magistrates'?|county|family|youth|high|coroners'?|royal)\s+court\b"
        )

        # dates of birth
        before = words(rules, "dob_cues_before", rname)
        after = words(rules, "dob_cues_after", rname)
        self.dob_hints = tuple({_norm(c.split()[0]).rstrip(".") for c in [*before, *after]})
        self._dob_before = re.compile(
            rf"(?i:{word_alternation(before)})[ \t]*[:\-–]?[ \t]*(?:(?i:is|was|of|on|in)[ \t]+)?\(?[ \t]*$"
        )
        # not the [DOB] placeholder itself: redacting a redacted text must change nothing
        self._dob_after = re.compile(
            rf"[ \t]*(?:\(|\[(?!{_DOB}\]))?[ \t]*(?i:{word_alternation(after)})"
        )
        self._born_year = re.compile(
            r"(?i:\bborn)[ \t]+(?:(?i:in)[ \t]+)?(?P<date>(?:19|20)\d{2})(?![\d/])"
        )

    # -- names ----------------------------------------------------------------------------

    def known_tokens(self, names: Iterable[str | None]) -> frozenset[str]:
        """Lower-cased name tokens from export columns and header authors worth matching."""
        key = tuple(n for n in names if n and isinstance(n, str))
        if not key:
            return frozenset()
        out = self._known_cache.get(key)
        if out is None:
            out = frozenset().union(*map(self._name_tokens, key))
            if len(self._known_cache) >= 8192:
                self._known_cache.clear()
            self._known_cache[key] = out
        return out

    def _name_tokens(self, name: str) -> frozenset[str]:
        """The tokens of one name (cached: a case's names and its staff recur on every note)."""
        out = self._name_cache.get(name)
        if out is None:
            found: set[str] = set()
            for m in WORD_RE.finditer(name):
                whole = _norm(m.group())
                for part in {whole, *re.split(r"[-']", whole)}:
                    if len(part) >= 2 and part.isalpha() and part not in self.not_name:
                        found.add(part)
            out = frozenset(found)
            if len(self._name_cache) >= 16384:
                self._name_cache.clear()
            self._name_cache[name] = out
        return out

    def _lower_name(self, word: str, norm: str) -> bool:
        """A lower-case word after a relation that may be a name: not a word we know."""
        return (
            word[:1].islower()
            and word.isalpha()
            and len(norm) >= 3
            and norm not in self.blocked
            and norm not in self._stop
            and norm not in self.followers
            and norm not in self.english
        )

    def _aliases(self, text: str, add) -> None:
        """Nicknames after an alias cue: "aka Big Lee", "goes by shaz", "known as Tiny"."""
        for rx, any_case in ((self._alias_re, True), (self._alias_cap_re, False)):
            if rx is None:
                continue
            for m in rx.finditer(text):
                pos, end, taken = m.end(), None, 0
                for w in _ALIAS_WORD.finditer(text, pos):
                    if taken and w.start() != end and text[end : w.start()].strip(" \t"):
                        break
                    if taken and w.start() - end > 2:
                        break
                    word = w.group(1)
                    n = _norm(word)
                    if n in self._stop or n in self.acronyms or n in self.domain:
                        break
                    if not word[:1].isupper() and not (
                        any_case and n not in self.followers and n not in self.english
                    ):
                        break
                    if not any_case and n in self.blocked and n not in self.first:
                        break
                    if not taken and w.start() - pos > 3:
                        break
                    end = w.end()
                    taken += 1
                    if taken == 3:
                        break
                if end is not None:
                    add((pos + (len(text[pos:end]) - len(text[pos:end].lstrip(" \t\"'“‘(:-"))), end, _PERSON))

    def _initials(self, text: str, known: Iterable[str], add) -> None:
        """Initials: a sign-off at the end of a line ("... review Thursday. R.T.", "- PT",
        "KW SPO"), and the initials of the row's known people anywhere ("discussed with RT")."""
        for m in _SIGNOFF.finditer(text):
            ini = m.group("ini")
            if "." not in ini and (_norm(ini) in self.acronyms or _norm(ini) in self.domain):
                continue
            add((m.start("ini"), m.end("ini"), _PERSON))
        if known:
            for ini in known:
                dotted = re.escape(".".join(ini)) + r"\.?"
                # dotted anywhere; bare only after a word that points at a person ("with RT")
                for m in re.finditer(
                    rf"(?<![\w.])({dotted})(?![\w])|(?i:{_INITIAL_LEADS})[ \t]+({re.escape(ini)})(?![\w])",
                    text,
                ):
                    g = 1 if m.group(1) else 2
                    add((m.start(g), m.end(g), _PERSON))

    def _known_initials(self, names: Iterable[str]) -> list[str]:
        """Two- or three-letter initials of full names ("Rhian Thomas" -> "RT"), not those
        that are abbreviations of the trade ("PP", "DA")."""
        out = []
        for name in names:
            parts = [w for w in WORD_RE.findall(name) if w[:1].isupper()]
            if 2 <= len(parts) <= 3:
                ini = "".join(w[0] for w in parts)
                if _norm(ini) not in self.acronyms and _norm(ini) not in self.domain:
                    out.append(ini)
        return out

    def _match_cue(
        self, n: str, i: int, norms: list[str], gaps: list[str]
    ) -> tuple[int, bool] | None:
        """The role/relation phrase starting at token i (first word ``n``): (index of the token
        after it, whether it is a role), or None."""
        k = len(norms)
        for rest, is_role in self.cues[n]:
            j = i + 1
            for part in rest:
                if j >= k or norms[j] != part or gaps[j - 1].strip(" \t-") != "":
                    break
                j += 1
            else:
                return j, is_role
        return None

    def _names(self, text: str, toks: _Tokens, known: frozenset[str]) -> list[Span]:
        """PERSON spans by word look-ups: known names, gazetteers, cues and neighbours."""
        starts, ends, words, norms, gaps = toks
        k = len(starts)
        if not k:
            return []
        # Every rule below needs a capitalised word, a known name or a cue word, so only those
        # tokens are visited (in order: the rules read the verdicts on earlier tokens); the
        # per-token lists are built by C-level maps, not Python loops.
        adj = list(map(_ADJACENT.__getitem__, gaps))
        acronyms, blocked, first, sur = self.acronyms, self.blocked, self.first, self.surnames
        common, title_words = self.common, self._title_words
        upper = list(compress(range(k), map(str.isupper, map(_FIRST_CHAR, words))))
        cap = [False] * k
        for i in upper:
            if norms[i] not in acronyms:
                cap[i] = True
        caps = [i for i in upper if cap[i]]
        present = set(norms)
        marked = present & known
        cue_words = present & self._cue_keys
        visit = set(upper)
        if marked or cue_words:
            visit.update(compress(range(k), map((marked | cue_words).__contains__, norms)))
        titled = self._title_words.intersection(words)
        if titled:
            visit.update(compress(range(k), map(titled.__contains__, words)))
        is_name = [False] * k

        def gazetteer(i: int) -> bool:
            n = norms[i]
            return n in first or n in sur or n in known

        def word_ok(i: int, lenient: bool, strict: bool) -> bool:
            if not cap[i]:
                return False
            n = norms[i]
            if strict:
                return n in first or n in sur or n in known
            return lenient or n not in blocked or n in first or n in sur or n in known

        def take(j: int, lenient: bool, strict: bool) -> int:
            """Mark up to three name words from token j on (particles allowed between); returns
            the index after the last word taken (``j`` when none was)."""
            taken = 0
            t = j
            while t < k and taken < 3:
                if taken and not adj[t - 1]:
                    break
                if (
                    (taken or lenient)
                    and norms[t] in self.particles
                    and t + 1 < k
                    and adj[t]
                    and word_ok(t + 1, False, False)
                ):
                    is_name[t] = is_name[t + 1] = True
                    taken += 1
                    t += 2
                    continue
                if not word_ok(t, lenient and taken == 0, strict and taken == 0):
                    break
                is_name[t] = True
                taken += 1
                t += 1
            return t

        def take_list(t: int) -> None:
            """After a relation's name, the names listed with it: "children Seren, Tomos and
            Alys", "sons Kai & Jax"."""
            while 0 < t < k:
                if _LIST_GAP.fullmatch(gaps[t - 1]) and word_ok(t, False, False):
                    t2 = take(t, lenient=False, strict=False)
                elif (
                    adj[t - 1]
                    and norms[t] in ("and", "or")
                    and t + 1 < k
                    and adj[t]
                    and word_ok(t + 1, False, False)
                ):
                    t2 = take(t + 1, lenient=False, strict=False)
                else:
                    return
                if t2 <= t:
                    return
                t = t2

        def gazetteer_name(i: int, w: str, n: str) -> bool:
            """A capitalised gazetteer word: a name unless ambiguous (then see below); words in
            capitals only from four letters on ("KELLY", not "DAN")."""
            if n not in self.ambiguous:
                return not w.isupper() or len(w) >= 4
            return n in first and n not in self.domain and not w.isupper() and ambiguous_name(i, n)

        def ambiguous_name(i: int, n: str) -> bool:
            """An ambiguous first name ("Dawn", "Grace") is a name mid-sentence after a
            lower-case word or another name ("Fiona + Finn"), or at a sentence start when a verb
            follows ("Grace received"; "Will attend" only with a word like "said")."""
            if i > 0 and not _SENTENCE_BREAK.search(gaps[i - 1]):
                gap = gaps[i - 1]
                if words[i - 1][:1].islower() and (n not in self.verbish or not gap.strip(" \t/")):
                    return True
                if is_name[i - 1] and _CONJUNCTION.fullmatch(gap):
                    return True
            if i + 1 < k and adj[i]:
                nxt = norms[i + 1]
                return nxt in self.followers or (
                    n not in self.verbish and words[i + 1][:1].islower()
                )
            return False

        for i in sorted(visit):
            w, n = words[i], norms[i]
            if not w:
                continue
            # a known name (any case unless it is a common word), a gazetteer name, or a
            # hyphenated pair of gazetteer names
            if n in known and (w[0].isupper() or n not in common):
                is_name[i] = True
            elif cap[i]:
                if n in first or n in sur:
                    if gazetteer_name(i, w, n):
                        is_name[i] = True
                elif "-" in n and all(p in first or p in sur for p in n.split("-") if p):
                    is_name[i] = True

            # cues: titles and police ranks (case-sensitive), roles and relations
            if i + 1 >= k:
                continue
            if w in title_words:
                gap_re = _TITLE_GAP if w in self.titles else _RANK_GAP
                if not gap_re.match(gaps[i]):
                    continue
                j = i + 1
                while (
                    j + 1 < k
                    and len(words[j]) == 1
                    and words[j].isupper()
                    and _TITLE_GAP.match(gaps[j])
                ):
                    is_name[j] = True  # initials: "Mr J. Smith"
                    j += 1
                take(j, lenient=True, strict=False)
            elif n in self.cues:
                matched = self._match_cue(n, i, norms, gaps)
                if matched is None:
                    continue
                j, is_role = matched
                if j >= k:
                    continue
                # after punctuation only a known or gazetteer name counts ("SPO, Caseload
                # review", "mum - Unannounced HV"), except a relation and a comma ("his
                # partner, Brannagh Quirke,"); words in capitals always need the gazetteer
                strict = words[j].isupper()
                gap = gaps[j - 1]
                if (
                    not is_role
                    and _OPEN_BRACKET.fullmatch(gap)
                    and gaps[j].lstrip(" \t").startswith(")")
                    and norms[j] not in self.domain
                    and norms[j] not in self.acronyms
                    and norms[j] not in self._stop
                    and (words[j][:1].isupper() or norms[j] in first)
                ):
                    is_name[j] = True  # "new partner (Deano)"
                    continue
                if not adj[j - 1]:
                    if not _PUNCT_JOIN.match(gap):
                        continue
                    strict = strict or is_role or "," not in gap
                if norms[j] in self.joiners and adj[j - 1]:
                    for rest in self.joiners[norms[j]]:
                        jj = j + 1
                        for part in rest:
                            if jj >= k or norms[jj] != part:
                                break
                            jj += 1
                        else:
                            if jj < k and adj[jj - 1]:
                                j, strict = jj, True
                            break
                after = take(j, lenient=False, strict=strict)
                if is_role:
                    continue
                if after == j and adj[j - 1] and self._lower_name(words[j], norms[j]):
                    is_name[j] = True  # "his partner kelly", "son alfie"
                    after = j + 1
                take_list(after)

        # a person before a link to a team or place: "Kev from the UPW team", "Lisa at CGL"
        for i in caps:
            if is_name[i] or i + 1 >= k or not adj[i] or norms[i + 1] not in self.person_links:
                continue
            n = norms[i]
            if (n in blocked or n in self.english or words[i].isupper()) and not (
                n in first or n in known
            ):
                continue
            start = i == 0 or bool(_SENTENCE_BREAK.search(gaps[i - 1])) or "\n" in gaps[i - 1]
            if (n in first or n in known) if start else not (i > 0 and cap[i - 1] and adj[i - 1]):
                is_name[i] = True
        for i in compress(range(k), map("@".__eq__, map(str.strip, gaps))):
            if i + 1 < k and cap[i] and not is_name[i] and norms[i] not in blocked:
                is_name[i] = True

        # a known name written in lower case that is also a word ("faith is sofa surfing"):
        # only at a sentence start and before a verb such as "is", "has", "said"
        if known:
            for i in compress(range(k), map(known.__contains__, norms)):
                if is_name[i] or not words[i][:1].islower() or i + 1 >= k or not adj[i]:
                    continue
                if norms[i + 1] in self.followers and (
                    i == 0 or _SENTENCE_BREAK.search(gaps[i - 1]) or "\n" in gaps[i - 1]
                ):
                    is_name[i] = True

        # a name followed by a bracketed role: "Jane Smith (PP)"
        for i in _brackets_after(text, ends, gaps):
            if "(" in gaps[i][:4] and (
                self._bracket_tail.match(text, ends[i]) or _AGED.match(text, ends[i])
            ):
                t, taken = i, 0
                while t >= 0 and taken < 3 and word_ok(t, False, False):
                    is_name[t] = True
                    taken += 1
                    if t == 0 or not adj[t - 1]:
                        break
                    t -= 1

        # neighbours: a first name takes the capitalised word after it; a surname (or known
        # name) takes the capitalised word before it; particles join the words beside them.
        for i in caps:
            if i >= k - 1 or not adj[i]:
                continue
            if (
                is_name[i]
                and norms[i + 1] in self.particles
                and i + 2 < k
                and adj[i + 1]
                and cap[i + 2]
                and norms[i + 2] not in blocked
            ):
                is_name[i + 1] = is_name[i + 2] = True
                continue
            n2 = norms[i + 1]
            if not cap[i + 1] or (n2 in blocked and n2 not in sur and n2 not in known):
                continue
            n = norms[i]
            if n in first and (is_name[i] or gazetteer(i + 1) or n2 not in blocked):
                is_name[i] = is_name[i + 1] = True
            elif is_name[i] and n in known:
                is_name[i + 1] = True
        for i in reversed(caps):
            if i > k - 2 or is_name[i]:
                continue
            n = norms[i]
            if is_name[i + 1] and adj[i]:
                n2 = norms[i + 1]
                if (n2 in sur or n2 in known) and (n not in blocked or n in first):
                    is_name[i] = True
            elif (
                n in first
                and n not in self.domain
                and not words[i].isupper()
                and (
                    (is_name[i + 1] and _CONJUNCTION.fullmatch(gaps[i]))
                    or (
                        i + 2 < k
                        and is_name[i + 2]
                        and norms[i + 1] == "and"
                        and adj[i]
                        and adj[i + 1]
                    )
                )
            ):
                is_name[i] = True  # "Mark + Lucy", "Grace and Finn"
        return [(starts[i], ends[i], _PERSON) for i in compress(range(k), is_name)]

    # -- all kinds --------------------------------------------------------------------------

    @staticmethod
    def _tokens(text: str, masked: list[tuple[int, int]]) -> _Tokens:
        """Words as parallel lists (starts, ends, words, normalised words, and the gap after
        each word up to the next one); a possessive 's is cut off (into the gap); words glued to
        digits ("CF18", "MO1") or inside a placeholder become empty barrier tokens.

        This runs on every redacted text, so the lists come from one ``re.split`` and C-level
        maps: Python code runs only for the few words that need changing."""
        ascii_text = text.isascii()
        parts = (_WORD_SPLIT_ASCII if ascii_text else _WORD_SPLIT).split(text)
        words = parts[1::2]
        k = len(words)
        offsets = list(accumulate(map(len, parts)))
        starts = offsets[0:-1:2]
        ends = offsets[1::2]
        if ascii_text:  # lower-casing ASCII is per character: lower the words in one go
            norms = "\x00".join(words).lower().split("\x00") if k else []
        else:
            low = text.lower().replace("’", "'")
            if len(low) == len(text):
                norms = [low[s:e] for s, e in zip(starts, ends, strict=True)]
            else:
                norms = [_norm(w) for w in words]
        gaps = parts[2::2]
        if k and _HAS_DIGIT.search(text):
            # a digit just before or after the word: the last character of the text before it,
            # the first of the text after it
            glued = map(
                or_,
                map(str.isdigit, map(_LAST_CHAR, parts[0:-1:2])),
                map(str.isdigit, map(_FIRST_CHAR, gaps)),
            )
            for i in compress(range(k), glued):
                words[i] = norms[i] = ""
        for ms_, me_ in masked:
            for i in range(bisect_left(ends, ms_ + 1), k):
                if starts[i] >= me_:
                    break
                words[i] = norms[i] = ""
        if "'" in text or "’" in text:
            for i in [i for i, n in enumerate(norms) if n[-2:] == "'s" and len(n) > 3]:
                words[i] = words[i][:-2]
                norms[i] = norms[i][:-2]
                ends[i] -= 2
                gaps[i] = text[ends[i] : ends[i] + 2] + gaps[i]
        return starts, ends, words, norms, gaps

    def find(
        self,
        text: str,
        known_names: Iterable[str | None] = (),
        reference_date: date | None = None,
        *,
        export_names: Collection[str] = (),
        case_names: Collection[str] = (),
    ) -> list[Span]:
        """Sorted, disjoint PII spans ``(start, end, kind)`` of ``text``.

        ``known_names``: full names from the row's own columns. ``export_names`` and
        ``case_names``: lower-cased name tokens from the whole export and from the case
        (:class:`pipeline.nlp.people.NameIndex`); only those present in ``text`` are used."""
        if not isinstance(text, str) or not text:
            return []
        masked = [m.span() for m in PLACEHOLDER_RE.finditer(text)] if "[" in text else []
        cand: list[Span] = []
        add = cand.append
        low = text.lower()

        if "@" in text:
            for m in _EMAIL.finditer(text):
                add((m.start(), m.end(), PiiKind.EMAIL.value))
        if _OBF_HINT.search(text):
            for m in _EMAIL_OBF.finditer(text):
                add((m.start(), m.end(), PiiKind.EMAIL.value))

        toks = self._tokens(text, masked)
        present = set(toks[2])
        has_digit = _HAS_DIGIT.search(text) is not None

        if has_digit:
            dates = _digit_kinds(text, add)
            if dates:
                self._dobs(text, low, dates, reference_date, add)
            elif "born" in low:
                for m in self._born_year.finditer(text):
                    add((m.start("date"), m.end("date"), _DOB))
            if not present.isdisjoint(self.street_words):
                for m in self._address_re.finditer(text):
                    if not self._not_street.search(m.group()):
                        add((m.start(), self._with_town(text, m.end()), _ADDRESS))
            norms = set(toks[3])
            if not norms.isdisjoint(self.address_cue_words):
                for m in self._cue_address_re.finditer(text):
                    street = re.findall(r"[A-Za-z'’\-]+", m.group("addr"))[:-1]
                    if any(_norm(w) in STOP_WORDS or _norm(w) in _TIME_UNITS for w in street):
                        continue
                    add((m.start("addr"), self._with_town(text, m.end("addr")), _ADDRESS))
            if not norms.isdisjoint(self.flat_words):
                for m in self._flat_re.finditer(text):
                    tail = self._flat_tail_re.match(text, m.end())
                    end = m.end()
                    if tail and self._street_words_ok(tail.group()):
                        end = tail.end()
                    add((m.start(), end, _ADDRESS))
            for m in self._grammar_address_re.finditer(text):
                words = m.group("the") or m.group("words")
                if words is not None and not self._street_words_ok(words, the=bool(m.group("the"))):
                    continue
                add((m.start(), self._with_town(text, m.end()), _ADDRESS))

        # names: header authors, then the word pass
        authors: list[str] = []
        for h in find_headers(text):
            a = h["author"]
            a_text = re.sub(r"\s*\([^)]*\)\s*$", "", a).strip()
            if a_text and not PLACEHOLDER_RE.search(a_text):
                s = h.start("author") + (len(a) - len(a.lstrip()))
                add((s, s + len(a_text), _PERSON))
                authors.append(a_text)
        known_names = [n for n in known_names if n]
        known = (
            self.known_tokens([*known_names, *authors]) if (known_names or authors) else frozenset()
        )
        if export_names or case_names:
            norms_present = set(toks[3])
            extra = norms_present.intersection(export_names)
            extra.update(norms_present.intersection(case_names))
            if extra:
                known = known | extra
        cand.extend(self._names(text, toks, known))
        if self._alias_words and not self._alias_words.isdisjoint(toks[3]):
            self._aliases(text, add)
        if "\n" in text or "." in text or "-" in text or known_names:
            self._initials(text, self._known_initials([*known_names, *authors]), add)
        return _resolve(text, cand, masked)

    def _street_words_ok(self, words: str, *, the: bool = False) -> bool:
        """Whether capitalised words after a house number can be a street or building: none is
        a word of the trade, a month or a time unit, and (without "The") not all are common
        words ("2 Weeks", "3 Sessions", "4 Police Officers")."""
        ws = [_norm(w) for w in WORD_RE.findall(words)]
        if not ws or any(w in self.domain or w in self.acronyms or w in _TIME_UNITS for w in ws):
            return False
        return the or any(w not in self.common and w not in self.english for w in ws)

    def _with_town(self, text: str, end: int) -> int:
        """Extend an address over a following ", Town" (a capitalised non-common word)."""
        m = self._town_re.match(text, end)
        if m and all(_norm(w) not in self.blocked for w in m["town"].replace("-", " ").split()):
            return m.end()
        return end

    def _dobs(self, text, low, dates, reference_date, add) -> None:
        """Dates of birth among the dates found: after a cue ("DOB 01/02/1980", "born on ..."),
        before one ("01/02/1980 (DOB)"), or a full date at least ``old_date_years`` before the
        contact date (or, without one, before the latest date in the text)."""
        if any(map(low.__contains__, self.dob_hints)):
            for m in dates:
                s = m.start()
                if self._dob_before.search(text, max(0, s - 40), s) or self._dob_after.match(
                    text, m.end()
                ):
                    add((s, m.end(), _DOB))
            if "born" in low:
                for m in self._born_year.finditer(text):
                    add((m.start("date"), m.end("date"), _DOB))
        if self.old_date_years:
            parsed = [(m, _parse_date(m.group())) for m in dates]
            parsed = [(m, d) for m, d in parsed if d is not None]
            ref = reference_date or max((d for _, d in parsed), default=None)
            if ref is not None:
                for m, d in parsed:
                    age = ref.year - d.year - ((ref.month, ref.day) < (d.month, d.day))
                    if age >= self.old_date_years:
                        add((m.start(), m.end(), _DOB))

    def redact(
        self,
        text: str,
        known_names: Iterable[str | None] = (),
        reference_date: date | None = None,
        *,
        export_names: Collection[str] = (),
        case_names: Collection[str] = (),
    ) -> tuple[str, list[Span]]:
        """``(redacted_text, spans)``; spans index the original ``text``."""
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        spans = self.find(
            text, known_names, reference_date, export_names=export_names, case_names=case_names
        )
        return apply_spans(text, spans), spans


_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _alnum(text: str, i: int) -> bool:
    """Whether text[i] exists and is a letter, digit or underscore."""
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")


def _digit_kinds(text: str, add) -> list[re.Match[str]]:
    """Add PNC, NI number, CRN, phone and postcode spans found around the runs of digits;
    return the date matches (for the date-of-birth rules)."""
    dates: list[re.Match[str]] = []
    covered = 0
    for run in _RUN.finditer(text):
        p = run.start()
        if p < covered:
            continue
        before = text[p - 1] if p else ""
        m = kind = None
        # kinds that open with letters: "AB 12 34 56 C", "X123456", "CF10 1AA"
        if before.isalpha() or before in (" ", "\t"):
            for start in (p - 3, p - 2, p - 1):
                # each of the three opens with an ASCII letter, after no letter, digit or "_"
                if start < 0 or text[start] not in _ASCII_LETTERS or _alnum(text, start - 1):
                    continue
                for rx, k in ((_NI_AT, "NI_NUMBER"), (_CRN_AT, "CRN"), (_POSTCODE_AT, "POSTCODE")):
                    if (m := rx.match(text, start)) and m.end() > p:
                        kind = k
                        break
                if kind:
                    break
        if kind is None and before not in ("/", ".", "-", "_") and not before.isalnum():
            # what each pattern needs after the run of digits it opens with, checked first:
            # PNC "12/345678A" or "2012/...", DATE "1/2/24", "2024-01-02", "1st May 2024",
            # PHONE a leading 0
            end = run.end()
            size = end - p
            nxt = text[end : end + 1]
            if size in (2, 4) and nxt == "/" and (m := _PNC_AT.match(text, p)) and before != "+":
                kind = "PNC"
            elif (
                nxt
                and (
                    (size <= 2 and (nxt in "/.-sntr" or nxt.isspace()))
                    or (size == 4 and nxt == "-")
                )
                and (m := _DATE_AT.match(text, p))
            ):
                kind = "DATE"
            elif text[p] == "0" and (m := _PHONE_AT.match(text, p)) and before != "+":
                kind = "PHONE"
                if before == "(":
                    add((p - 1, m.end(), kind))
                    covered = m.end()
                    continue
        if kind is None and before in (" ", "\t"):
            # "+44 7700 900123", "March 3rd, 2020"
            j = p - 1
            while j > 0 and text[j - 1] in " \t":
                j -= 1
            plus = text.rfind("+", max(0, p - 5), p)
            if plus >= 0 and not _alnum(text, plus - 1) and (m := _PHONE_AT.match(text, plus)):
                kind = "PHONE"
            elif (
                j > 0
                and (text[j - 1] == "." or text[j - 1].isalpha())  # a month name ends there
                and (mb := _MONTH_BEFORE.search(text, max(0, p - 14), p))
                and (m := _DATE_AT.match(text, mb.start()))
            ):
                kind = "DATE"
        elif (
            kind is None
            and before == "+"
            and not _alnum(text, p - 2)
            and (m := _PHONE_AT.match(text, p - 1))
        ):
            kind = "PHONE"
        if kind is None or m is None:
            continue
        covered = m.end()
        if kind == "DATE":
            dates.append(m)
        else:
            add((m.start(), m.end(), kind))
    return dates


def _resolve(text: str, cand: list[Span], masked: list[tuple[int, int]]) -> list[Span]:
    """Drop spans touching a placeholder, union overlapping spans (the higher-ranked kind wins),
    then join neighbours: names separated by spaces become one name, address parts separated by
    a comma or spaces one address."""
    if not cand:
        return []
    if masked:
        cand = [c for c in cand if not any(c[0] < me and ms < c[1] for ms, me in masked)]
    cand.sort(key=lambda c: (c[0], -c[1]))
    merged: list[list] = []
    for s, e, k in cand:
        if s >= e:
            continue
        if merged and s < merged[-1][1]:
            last = merged[-1]
            if e > last[1]:
                last[1] = e
            if PRIORITY[k] > PRIORITY[last[2]]:
                last[2] = k
        else:
            merged.append([s, e, k])
    out: list[list] = []
    for span in merged:
        if out and out[-1][2] == span[2] and span[2] in (_PERSON, _ADDRESS):
            gap = text[out[-1][1] : span[0]]
            if (span[2] == _PERSON and gap and not gap.strip(" \t")) or (
                span[2] == _ADDRESS and not gap.strip(" \t,")
            ):
                out[-1][1] = span[1]
                continue
        out.append(span)
    return [(s, e, k) for s, e, k in out]


def apply_spans(text: str, spans: Iterable[Span]) -> str:
    """``text`` with every span replaced by its kind's placeholder (spans sorted, disjoint)."""
    parts: list[str] = []
    pos = 0
    for s, e, k in spans:
        parts.append(text[pos:s])
        parts.append(f"[{k}]")
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


@lru_cache(maxsize=8192)
def _parse_date(text: str) -> date | None:
    """:func:`parse_date`, remembered: the same dates recur in the notes of a case."""
    return parse_date(text)


@cache
def get_redactor(
    rules_path: str | None = None,
    names_path: str | None = None,
    lexicon_path: str | None = None,
    old_date_years: int | None = None,
) -> Redactor:
    """The redactor for these rule files, built once per process."""
    return Redactor(rules_path, names_path, lexicon_path, old_date_years=old_date_years)


def redact(
    text: str,
    *,
    known_names: Iterable[str | None] = (),
    reference_date: date | None = None,
) -> tuple[str, list[Span]]:
    """Redact ``text`` with the shipped rules: ``(redacted, [(start, end, kind), ...])``.

    ``known_names`` are full names from the export row (person on probation, staff, created-by);
    every word of them is redacted wherever it appears. ``reference_date`` is the contact date
    (used to tell an old date of birth from an ordinary date). Spans index the original text.
    """
    return get_redactor().redact(text, known_names, reference_date)
