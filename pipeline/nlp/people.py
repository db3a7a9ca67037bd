"""Names an export knows, gathered before any text is redacted.

A note names people who sit in other rows' columns: the PP named in the SPO's entry, a PSO who
covers a duty, the SPO of the next team. Only the row's own columns were used before, so those
names leaked. :class:`NameIndex` collects, in a first streaming pass over every file of one run:

* every staff and person column of every row (person on probation, staff, created-by), and the
  authors of ``Comment added by NAME on ...`` headers inside the notes: the *export* names;
* per case (CRN), the person's own names, and later the names the redactor found in the case's
  other notes (a child named after "son" in one entry is just "Alfie" in the next): the *case*
  names.

Memory is bounded: at most ``max_export_tokens`` export tokens and ``max_cases`` cases (the
least recently used case is dropped first). Only tokens are kept, never text.

Export names are weaker evidence than a row's own columns: a token that is also a common English
word ("will", "long", "green") only counts from the row or the case, never export-wide.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.nlp.blocks import find_headers

#: the export columns that hold people's names
NAME_COLUMNS: tuple[str, ...] = ("pop_forename", "pop_surname", "staff_name", "created_by")
_CASE_COLUMNS: tuple[str, ...] = ("pop_forename", "pop_surname")


class NameIndex:
    """Export-wide and per-case name tokens (lower-cased) for the redactor."""

    def __init__(
        self, *, max_export_tokens: int = 1_000_000, max_cases: int = 200_000, redactor=None
    ) -> None:
        self.max_export_tokens = max_export_tokens
        self.max_cases = max_cases
        self._redactor = redactor
        self._export: set[str] = set()
        self._frozen: frozenset[str] | None = frozenset()
        self._cases: OrderedDict[str, frozenset[str]] = OrderedDict()
        self.rows_seen = 0

    # -- building ------------------------------------------------------------------------------

    @property
    def redactor(self):
        if self._redactor is None:
            from pipeline.nlp.redact import get_redactor

            self._redactor = get_redactor()
        return self._redactor

    def tokens(self, name: str | None) -> frozenset[str]:
        """The name's tokens worth matching (not abbreviations, cue or domain words)."""
        if not name or not isinstance(name, str):
            return frozenset()
        return self.redactor._name_tokens(name)

    def add_columns(self, cols: Mapping[str, Sequence[Any]]) -> None:
        """Take the names of a batch of rows given as column lists (absent columns are empty)."""
        n = max((len(v) for v in cols.values()), default=0)
        self.rows_seen += n
        seen: set[str] = set()
        for c in NAME_COLUMNS:
            seen.update(v for v in cols.get(c) or () if isinstance(v, str) and v)
        for text in cols.get("notes") or ():
            if isinstance(text, str) and "dded by" in text:
                seen.update(h["author"].strip() for h in find_headers(text))
        for name in seen:
            self._add_export(self.tokens(name))
        crns = cols.get("crn")
        if crns is not None:
            first, last = cols.get("pop_forename") or [None] * n, cols.get("pop_surname") or [None] * n
            for crn, f, s in zip(crns, first, last, strict=False):
                if isinstance(crn, str) and crn:
                    self.learn(crn, self.tokens(f) | self.tokens(s))

    def _add_export(self, tokens: Iterable[str]) -> None:
        common = self.redactor.common
        for t in tokens:
            if t not in common and len(self._export) < self.max_export_tokens:
                if t not in self._export:
                    self._export.add(t)
                    self._frozen = None

    def learn(self, crn: str | None, tokens: Iterable[str]) -> bool:
        """Add name tokens to a case; True when the case gained any."""
        if not crn:
            return False
        tokens = frozenset(tokens)
        old = self._cases.get(crn)
        if old is not None:
            self._cases.move_to_end(crn)
            if tokens <= old:
                return False
            self._cases[crn] = old | tokens
            return True
        if not tokens:
            return False
        self._cases[crn] = tokens
        if len(self._cases) > self.max_cases:
            self._cases.popitem(last=False)
        return True

    # -- reading -------------------------------------------------------------------------------

    @property
    def export(self) -> frozenset[str]:
        if self._frozen is None:
            self._frozen = frozenset(self._export)
        return self._frozen

    def case(self, crn: str | None) -> frozenset[str]:
        return self._cases.get(crn, frozenset()) if crn else frozenset()

    def __len__(self) -> int:
        return len(self._export)

    def stats(self) -> dict[str, int]:
        """Counts only (no names): for the run summary."""
        return {"export_name_tokens": len(self._export), "cases": len(self._cases)}


def case_tokens_from_spans(
    index: NameIndex, text: str, spans: Iterable[tuple[int, int, str]]
) -> frozenset[str]:
    """The name tokens of the PERSON spans the redactor found in ``text``."""
    out: set[str] = set()
    for s, e, k in spans:
        if k == "PERSON":
            out |= index.tokens(text[s:e])
    return frozenset(out)
