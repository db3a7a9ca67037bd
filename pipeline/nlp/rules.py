"""Loading the package-data rule files that sit next to the components.

Every rule file is read once per process (``functools.cache``) through ``importlib.resources``,
so the rules travel with the wheel. A component may be pointed at another file of the same shape
through its ``rules`` config value (a filesystem path); ``None`` means the shipped file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import RulesError

_PACKAGE = "pipeline.nlp"

try:  # the C loader is several times faster; fall back to the pure-Python one
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


def _read_text(name: str, path: str | None) -> tuple[str, str]:
    """The text of a rules file: the shipped one, or ``path`` when given. Returns (where, text)."""
    if path:
        p = Path(path)
        try:
            return str(p), p.read_text(encoding="utf-8")
        except OSError as exc:
            raise RulesError(f"cannot read rules file ({exc.strerror})", path=str(p)) from exc
    try:
        return name, resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError) as exc:
        raise RulesError("shipped rules file is missing", path=name) from exc


@cache
def load_rules(name: str, path: str | None = None) -> dict[str, Any]:
    """Parse a YAML or JSON rules file into a dict (cached; treat the result as read-only)."""
    where, text = _read_text(name, path)
    try:
        data = json.loads(text) if where.endswith(".json") else yaml.load(text, Loader=_Loader)
    except (ValueError, yaml.YAMLError) as exc:
        raise RulesError("rules file is not valid YAML/JSON", path=where) from exc
    if not isinstance(data, dict):
        raise RulesError("rules file must hold a mapping at the top level", path=where)
    return data


def require(
    rules: dict[str, Any], key: str, name: str, kind: type = list, *, items: type | None = str
) -> Any:
    """``rules[key]``, checked to exist and to be of ``kind`` (a list's entries of ``items``,
    unless None); a RulesError names the file and key."""
    value = rules.get(key)
    if not isinstance(value, kind):
        raise RulesError(
            f"missing or malformed entry (expected {kind.__name__})", path=name, key=key
        )
    if kind is list and items is not None and not all(isinstance(v, items) for v in value):
        raise RulesError(
            f"list entries must be {items.__name__} (quote yes/no/null)", path=name, key=key
        )
    return value


def compile_pattern(pattern: str, name: str, key: str, flags: int = 0) -> re.Pattern[str]:
    """Compile one regex from a rules file (through :func:`literal_first`); a bad pattern
    raises RulesError naming the file and key."""
    try:
        re.compile(pattern, flags)
    except re.error as exc:
        raise RulesError(f"invalid regular expression ({exc.msg})", path=name, key=key) from exc
    return re.compile(literal_first(pattern), flags)


def _top_level_branches(pattern: str) -> list[str] | None:
    """``pattern`` split on its top-level ``|`` (None if it cannot be scanned safely)."""
    branches, depth, in_class, start, i = [], 0, False, 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            branches.append(pattern[start:i])
            start = i + 1
        i += 1
    if depth or in_class:
        return None
    branches.append(pattern[start:])
    return branches


_WORD_START = re.compile(r"\\b([a-z0-9][a-z0-9']*)(?![?*+{])")


def literal_first(pattern: str) -> str:
    """Rewrite each top-level branch that opens with ``\\b`` and a literal word ("\\bby\\s+...")
    to open with the literal, checking the word boundary by a lookbehind just after it
    ("by(?<!\\wby)\\s+..."). Same matches, but Python's regex engine can then jump to the
    places where the literal (or, over branches, its first letter) occurs: several times faster
    on the lower-cased notes the rules are run over."""
    branches = _top_level_branches(pattern)
    if not branches:
        return pattern
    return "|".join(_literal_first_branch(b) for b in branches)


def _word_then_boundary(alt: str) -> str | None:
    """``alt`` (which must open with a literal word) with the boundary check moved after it."""
    m = _WORD_START.match("\\b" + alt)
    if not m:
        return None
    word = m.group(1)  # a quantifier after the run applies to its last letter: that stays out
    return f"{word}(?<!\\w{word}){alt[m.end() - 2 :]}"


def _literal_first_branch(branch: str) -> str:
    if _WORD_START.match(branch):
        return _word_then_boundary(branch[2:]) or branch
    if not branch.startswith("\\b(?:"):
        return branch
    # "\\b(?:at|per|as\\s+per)rest": move the boundary into every alternative of the group
    depth, i = 0, 2
    while i < len(branch):
        c = branch[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            return branch  # keep it simple: no classes inside the opening group
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                break
        i += 1
    else:
        return branch
    inner, rest = branch[5:i], branch[i + 1 :]
    if rest[:1] in ("?", "*", "+", "{"):
        return branch
    alts = _top_level_branches(inner)
    if not alts:
        return branch
    moved = [_word_then_boundary(a) for a in alts]
    if any(m is None for m in moved):
        return branch
    return "(?:" + "|".join(moved) + ")" + rest  # type: ignore[arg-type]


def phrase_alternation(phrases: Iterable[str]) -> str:
    """A regex alternation of literal phrases, longest first, with any run of spaces as ``\\s+``."""
    parts = []
    for p in sorted({p.strip() for p in phrases if p and p.strip()}, key=len, reverse=True):
        parts.append(r"\s+".join(re.escape(w) for w in p.split()))
    return "|".join(parts) if parts else r"(?!x)x"


def word_alternation(phrases: Iterable[str]) -> str:
    """Like :func:`phrase_alternation`, wrapped so that it only matches whole words."""
    return rf"(?<![\w])(?:{phrase_alternation(phrases)})(?![\w])"


# -- literal gates: skip a regex cheaply when the text cannot match it --------------------------

try:  # Python 3.11+
    from re import _constants as _sre_c
    from re import _parser as _sre_p
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_p  # type: ignore[no-redef]


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The more selective of two needle sets (longest shortest needle, then fewest needles)."""
    if not a:
        return b or a
    if not b:
        return a
    ka, kb = (min(map(len, a)), -len(a)), (min(map(len, b)), -len(b))
    return a if ka >= kb else b


def _needles(items: Any) -> frozenset[str] | None:
    """A set of strings one of which every match of this parsed sequence contains, or None."""
    best: frozenset[str] | None = None
    run: list[str] = []

    def flush() -> None:
        nonlocal best
        if len(run) >= 2:
            best = _better(best, frozenset({"".join(run).lower()}))
        run.clear()

    for op, av in items:
        if op is _sre_c.LITERAL:
            run.append(chr(av))
            continue
        flush()
        if op is _sre_c.SUBPATTERN:
            best = _better(best, _needles(av[-1]))
        elif op is _sre_c.BRANCH:
            alts = [_needles(a) for a in av[1]]
            if alts and all(alts):
                best = _better(best, frozenset().union(*alts))  # type: ignore[arg-type]
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) or op is getattr(
            _sre_c, "POSSESSIVE_REPEAT", None
        ):
            lo, _hi, sub = av
            if lo >= 1:
                best = _better(best, _needles(sub))
        elif op is getattr(_sre_c, "ATOMIC_GROUP", None):
            best = _better(best, _needles(av))
    flush()
    return best


def necessary_substrings(pattern: str) -> frozenset[str] | None:
    """Lower-cased strings one of which must occur in any text the regex matches (None when no
    such set is known). Used to skip a regex with a few ``in`` tests."""
    try:
        return _needles(_sre_p.parse(pattern))
    except Exception:  # noqa: BLE001 - an unusual pattern just goes ungated
        return None


class GatedPattern:
    """A compiled regex plus its necessary substrings: ``search``/``finditer`` return nothing at
    once when none of them occurs in the (lower-cased) text."""

    __slots__ = ("needles", "pattern")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        needles = necessary_substrings(pattern.pattern)
        # longest (rarest) first; None means the regex cannot be gated
        self.needles = tuple(sorted(needles, key=len, reverse=True)) if needles else None

    def possible(self, low: str) -> bool:
        needles = self.needles
        return needles is None or any(n in low for n in needles)

    def search(self, low: str) -> re.Match[str] | None:
        if self.needles is not None:
            for n in self.needles:
                if n in low:
                    break
            else:
                return None
        return self.pattern.search(low)

    def finditer(self, low: str) -> Iterable[re.Match[str]]:
        return self.pattern.finditer(low) if self.possible(low) else ()


def combine(patterns: Iterable[re.Pattern[str]], flags: int = 0) -> re.Pattern[str]:
    """One regex matching wherever any of ``patterns`` matches, with the i-th pattern in group
    ``_i`` (so ``m.lastgroup`` tells which matched): one scan of the text instead of many."""
    parts = [f"(?P<_{i}>{p.pattern})" for i, p in enumerate(patterns)]
    return re.compile("|".join(parts) if parts else r"(?!x)x", flags)


# -- anchored patterns: run a regex only where a match can start ----------------------------------
#
# Most rule patterns open with ``\b`` and a literal word ("\bwithin\s+...", "\b(?:at|per|on)\s+").
# Python's regex engine still tries such a pattern at every position of the text (or at every
# letter that can open it), which costs tens of microseconds per pattern on a note. An
# :class:`AnchoredPattern` knows the literals its matches start with, finds where they occur with
# ``str.find`` (a whole-word literal is first looked up in the text's set of words) and tries the
# regex only there, with ``Pattern.match``. The matches are exactly the regex's own: every place a
# match can start is tried, in order, and ``match`` sees the whole text (look-behinds, ``\b``, ``^``
# behave as in ``search``).

_WORD_RUN = re.compile(r"\w+")
_WORD_CHAR = re.compile(r"\w")
_MAX_LITERALS = 64


#: bytes -> the byte, or a space for every byte that is not an ASCII word character
#: (``[A-Za-z0-9_]``, what ``\w`` matches in an ASCII text)
_ASCII_NONWORD = bytes(
    c if chr(c).isascii() and (chr(c).isalnum() or chr(c) == "_") else 32 for c in range(256)
)


def word_set(low: str) -> set[str]:
    """The set of ``\\w+`` runs of a text: what the anchored patterns look whole words up in."""
    if low.isascii():  # the same runs, through bytes (a C table look-up per character)
        return set(low.encode("ascii").translate(_ASCII_NONWORD).decode("ascii").split())
    return set(_WORD_RUN.findall(low))


def _is_word(ch: str) -> bool:
    return _WORD_CHAR.match(ch) is not None


def _nonword_next(seq: list[Any]) -> bool:
    """Whether the first character the op sequence ``seq`` consumes, if any, must be a non-word
    character (the sequence follows a word character). Conservative: False when unsure."""
    for i, (op, av) in enumerate(seq):
        if op is _sre_c.LITERAL:
            return not _is_word(chr(av))
        if op is _sre_c.IN:
            return _class_is_nonword(av)
        if op is _sre_c.AT:
            if av in (_sre_c.AT_BOUNDARY, _sre_c.AT_END, _sre_c.AT_END_LINE, _sre_c.AT_END_STRING):
                return True
            continue  # another zero-width assertion: the next consuming op decides
        if op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            continue
        if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT):
            lo, _hi, sub = av
            return lo >= 1 and _nonword_next(list(sub) + seq[i + 1 :])
        if op is _sre_c.BRANCH:
            return all(_nonword_next(list(alt) + seq[i + 1 :]) for alt in av[1])
        if op is _sre_c.SUBPATTERN:
            _group, add, delete, sub = av
            return not add and not delete and _nonword_next(list(sub) + seq[i + 1 :])
        return False
    return False  # the pattern may end here: anything can follow


def _class_is_nonword(items: Any) -> bool:
    for op, av in items:
        if op is _sre_c.CATEGORY:
            if av not in (_sre_c.CATEGORY_SPACE, _sre_c.CATEGORY_NOT_WORD):
                return False
        elif op is _sre_c.LITERAL:
            if _is_word(chr(av)):
                return False
        elif op is _sre_c.RANGE:
            lo, hi = av
            if hi - lo > 512 or any(_is_word(chr(c)) for c in range(lo, hi + 1)):
                return False
        else:  # NEGATE and anything unusual
            return False
    return True


#: Anchors that are places rather than literals: the start of the text, the start of a line.
TEXT_START = ""
LINE_START: None = None


def _expand(
    seq: list[Any], prefix: str, out: list[tuple[str | None, bool]], multiline: bool
) -> bool:
    """Append to ``out`` the literals (with whether a non-word character must follow the literal's
    word part) that a match of ``seq`` can start with, each after ``prefix``, or the place a
    match must start at (:data:`TEXT_START`, :data:`LINE_START`); False when some match need
    not start with a literal."""
    s = prefix
    stop = len(seq)
    for i, (op, av) in enumerate(seq):
        if op is _sre_c.LITERAL:
            s += chr(av)
            continue
        rest = seq[i + 1 :]
        if not s and op is _sre_c.AT:
            if av is _sre_c.AT_BEGINNING_STRING or (av is _sre_c.AT_BEGINNING and not multiline):
                out.append((TEXT_START, False))
                return True
            if av is _sre_c.AT_BEGINNING:
                out.append((LINE_START, False))
                return True
            continue  # another zero-width assertion: the match starts at what follows
        if not s and op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            continue
        if op is _sre_c.BRANCH:
            return all(_expand(list(alt) + rest, s, out, multiline) for alt in av[1])
        if op is _sre_c.SUBPATTERN:
            _group, add, delete, sub = av
            if add or delete:
                break
            return _expand(list(sub) + rest, s, out, multiline)
        if op is _sre_c.IN and av and all(o is _sre_c.LITERAL for o, _ in av):
            return all(_expand(rest, s + chr(c), out, multiline) for _, c in av)
        if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and av[0] == 0 and av[1] == 1:
            return _expand(list(av[2]) + rest, s, out, multiline) and _expand(
                rest, s, out, multiline
            )
        stop = i
        break
    if len(out) > _MAX_LITERALS or not s:
        return False
    head = _WORD_RUN.match(s)
    whole = head is not None and (len(head.group()) < len(s) or _nonword_next(seq[stop:]))
    out.append((s, whole))
    return True


def anchor_literals(
    pattern: str, flags: int = 0
) -> tuple[tuple[str, str | None, bool], ...] | None:
    """The literals every match of ``pattern`` starts with, as ``(literal, word, bounded)``:
    ``bounded`` when the match must start a word (``\b`` before the literal); ``word`` is the
    literal's leading word when the match must moreover start with exactly that word (it is
    then enough to look it up in the text's :func:`word_set`), else None. None when some match
    need not start with a literal, or the pattern is not one we can read safely."""
    if flags & (re.IGNORECASE | re.VERBOSE):
        return None
    try:
        parsed = list(_sre_p.parse(pattern, flags))
    except Exception:  # noqa: BLE001 - an unusual pattern just goes unanchored
        return None
    branches = (
        [list(b) for b in parsed[0][1][1]]
        if len(parsed) == 1 and parsed[0][0] is _sre_c.BRANCH
        else [parsed]
    )
    found: list[tuple[str, str | None, bool]] = []
    for seq in branches:
        i = 0
        while i < len(seq) and seq[i][0] in (_sre_c.ASSERT, _sre_c.ASSERT_NOT):
            i += 1  # look-arounds at the start: zero-width, the match still starts here
        bounded = i < len(seq) and seq[i] == (_sre_c.AT, _sre_c.AT_BOUNDARY)
        lits: list[tuple[str | None, bool]] = []
        multiline = bool(flags & re.MULTILINE)
        if not _expand(seq[i + 1 :] if bounded else seq[i:], "", lits, multiline):
            return None
        for lit, whole in lits:
            word = _WORD_RUN.match(lit) if lit else None
            bounded_word = bounded and word is not None
            found.append((lit, word.group() if bounded_word and whole else None, bounded_word))
    return tuple(dict.fromkeys(found))


def _starts(low: str, lit: str | None) -> list[int]:
    """Where ``lit`` occurs in ``low`` (TEXT_START: 0; LINE_START: 0 and after each newline)."""
    if lit:
        found = []
        p = low.find(lit)
        while p >= 0:
            found.append(p)
            p = low.find(lit, p + 1)
        return found
    found = [0]
    if lit is LINE_START:
        p = low.find("\n")
        while p >= 0:
            found.append(p + 1)
            p = low.find("\n", p + 1)
    return found


class AnchoredPattern:
    """A compiled regex tried only where one of its opening literals occurs (see above); one
    that cannot be anchored is searched as a :class:`GatedPattern`. ``words`` is the text's
    :func:`word_set`.

    For a yes/no answer (:meth:`found`) a pattern whose top-level branches are only partly
    anchored is split: the anchored branches are tried at their literals and the others searched
    as one gated regex.
    """

    __slots__ = ("anchors", "gated", "pattern", "split")

    def __init__(self, source: str, flags: int = 0) -> None:
        self.pattern = re.compile(source, flags)
        self.anchors = anchor_literals(source, flags)
        self.gated = (
            None if self.anchors else GatedPattern(re.compile(literal_first(source), flags))
        )
        self.split: tuple[AnchoredPattern, GatedPattern] | None = None
        branches = _top_level_branches(source) if self.anchors is None else None
        if branches and len(branches) > 1:
            anchored = [b for b in branches if anchor_literals(b, flags)]
            others = [b for b in branches if b not in anchored]
            if anchored and others:
                self.split = (
                    AnchoredPattern("|".join(anchored), flags),
                    GatedPattern(re.compile("|".join(map(literal_first, others)), flags)),
                )

    def found(self, low: str, words: set[str] | frozenset[str]) -> bool:
        """Whether the pattern matches anywhere in ``low``."""
        if self.split is not None:
            anchored, others = self.split
            return anchored.search(low, words) is not None or others.search(low) is not None
        return self.search(low, words) is not None

    def positions(self, low: str, words: set[str] | frozenset[str]) -> list[int]:
        """Sorted places where a match can start (a superset)."""
        found: list[int] = []
        for lit, word, _bounded in self.anchors:  # type: ignore[union-attr]
            if word is not None:
                if word not in words:
                    continue
            elif lit and lit not in low:
                continue
            found.extend(_starts(low, lit))
        if len(found) > 1:
            found = sorted(set(found))
        return found

    def search(self, low: str, words: set[str] | frozenset[str]) -> re.Match[str] | None:
        if self.gated is not None:
            return self.gated.search(low)
        match = self.pattern.match
        for p in self.positions(low, words):
            m = match(low, p)
            if m is not None:
                return m
        return None

    def finditer(self, low: str, words: set[str] | frozenset[str]) -> Iterator[re.Match[str]]:
        if self.gated is not None:
            yield from self.gated.finditer(low)
            return
        match = self.pattern.match
        end = 0
        for p in self.positions(low, words):
            if p < end:
                continue
            m = match(low, p)
            if m is not None:
                yield m
                end = m.end() if m.end() > p else p + 1


def compile_anchored(pattern: str, name: str, key: str, flags: int = 0) -> AnchoredPattern:
    """:func:`compile_pattern`'s checks, then an :class:`AnchoredPattern`."""
    compile_pattern(pattern, name, key, flags)
    return AnchoredPattern(pattern, flags)


class PatternBank:
    """Several :class:`AnchoredPattern` run over the same text for yes/no answers: the text's
    words are looked up against all their whole-word literals at once (one set intersection),
    so the cost grows with the words the text holds, not with the number of literals."""

    __slots__ = (
        "_exact",
        "_keys",
        "_matchers",
        "_needles",
        "_others",
        "_prefix",
        "_by_word",
        "_unanchored",
        "size",
    )

    def __init__(self, patterns: Iterable[AnchoredPattern]) -> None:
        exact: dict[str, list[tuple[int, str, bool]]] = {}
        prefix: list[tuple[str | None, int, bool]] = []
        matchers: dict[int, Any] = {}
        #: substrings one of which every match holds (GatedPattern's): checked before any match
        needles: dict[int, tuple[str, ...] | None] = {}
        unanchored: list[tuple[int, GatedPattern]] = []
        others: list[tuple[int, GatedPattern]] = []
        n = 0
        for i, ap in enumerate(patterns):
            n = i + 1
            anchored = ap
            if ap.split is not None:
                anchored, rest = ap.split
                others.append((i, rest))
            elif ap.anchors is None:
                unanchored.append((i, ap.gated))  # type: ignore[arg-type]
                continue
            matchers[i] = anchored.pattern.match
            needles[i] = GatedPattern(anchored.pattern).needles
            for lit, word, bounded in anchored.anchors:  # type: ignore[union-attr]
                if word is not None:
                    exact.setdefault(word, []).append((i, lit, bounded))
                else:
                    prefix.append((lit, i, bounded))
        self.size = n
        self._exact, self._keys, self._prefix = exact, frozenset(exact), prefix
        self._matchers, self._unanchored, self._others = matchers, unanchored, others
        self._needles = needles
        #: per whole word: (pattern, literal, whether the literal runs past the word, the
        #: pattern's match) of the patterns whose matches start with that word
        self._by_word = {
            word: [(i, lit, len(lit) > len(word), matchers[i]) for i, lit, _ in entries]
            for word, entries in exact.items()
        }

    def found(self, low: str, words: set[str] | frozenset[str]) -> list[bool]:
        """For each pattern, whether it matches anywhere in ``low`` (``words``: its word_set)."""
        out = [False] * self.size
        #: per pattern, whether the text holds one of its needles (worked out when first needed)
        possible: dict[int, bool] = {}
        rest: Iterable[tuple[str | None, int, bool]] = self._prefix
        present = self._keys & words
        if low.isascii():
            # a pattern that must start with a whole word is tried only where the word stands
            # as a whole \w+ run ("on", not the "on" of "information"): the text with every
            # non-word character made a space, padded, is searched for " word " (in C)
            padded = " " + low.encode("ascii").translate(_ASCII_NONWORD).decode("ascii") + " "
            for word in present:
                needle = f" {word} "
                places = []
                p = padded.find(needle)
                while p >= 0:
                    places.append(p)  # padded[p] is the space before the word: low[p] opens it
                    p = padded.find(needle, p + len(needle) - 1)
                # (no needle check here: a whole word stands in few places, and trying the
                # match there costs less than looking for a pattern's needles)
                for i, lit, longer, match in self._by_word[word]:
                    if out[i]:
                        continue
                    for p in places:
                        if (not longer or low.startswith(lit, p)) and match(low, p) is not None:
                            out[i] = True
                            break
        else:
            rest = [*((lit, i, b) for w in present for i, lit, b in self._exact[w]), *rest]
        find = low.find
        for lit, i, bounded in rest:
            if out[i] or (lit and lit not in low):
                continue
            needles = self._needles[i]
            if needles is not None:
                ok = possible.get(i)
                if ok is None:
                    ok = possible[i] = any(map(low.__contains__, needles))
                if not ok:
                    continue
            match = self._matchers[i]
            if not lit:  # a place, not a literal
                out[i] = any(match(low, p) is not None for p in _starts(low, lit))
                continue
            p = find(lit)
            while p >= 0:
                # a match that starts a word cannot start after a word character
                if not (bounded and p and ((c := low[p - 1]).isalnum() or c == "_")) and (
                    match(low, p) is not None
                ):
                    out[i] = True
                    break
                p = find(lit, p + 1)
        for i, gated in self._unanchored:
            out[i] = gated.search(low) is not None
        for i, gated in self._others:
            if not out[i]:
                out[i] = gated.search(low) is not None
        return out
