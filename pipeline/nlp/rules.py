"""Loading the package-data rule files that sit next to the components.

Every rule file is read once per process (``functools.cache``) through ``importlib.resources``,
so the rules travel with the wheel. A component may be pointed at another file of the same shape
through its ``rules`` config value (a filesystem path); ``None`` means the shipped file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
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
