"""`comment_blocks`: split a notes field into its ``Comment added by NAME on DD/MM/YYYY at HH:MM``
blocks.

One contact's notes can hold several blocks appended over time. Text before the first header is
a block of its own with an unknown author. Headers are matched tolerantly: any case, extra
spaces, single-digit days and hours, ``-`` or ``.`` in dates, a missing ``at``, a colon after
``by``, and headers that do not start a line (exports sometimes lose the newlines).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple

from pipeline.nlp.textutil import two_digit_year

HEADER_RE = re.compile(
    r"(?i:comment\s+added\s+by)\s*:?\s*"
    r"(?P<author>[^\n\r]{1,80}?)\s*,?\s+(?i:on)\s*:?\s*"
    r"(?P<d>\d{1,2})[/.\-](?P<m>\d{1,2})[/.\-](?P<y>\d{4}|\d{2})(?!\d)"
    r"(?:\s*,?\s*(?:(?i:at)|@)?\s*(?P<H>\d{1,2})[:.](?P<M>\d{2})(?!\d)(?:\s*(?P<ampm>(?i:am|pm)))?)?"
    r"[ \t]*[:\-–]?"
)
#: A cheap test for whether a text can hold a header at all.
_HEADER_HINT = re.compile(r"(?i:added\s+by)")


class Block(NamedTuple):
    """One comment block. Offsets are character offsets into the notes text.

    ``start``-``end`` is the whole block (header included); the block's own text starts at
    ``text_start``. ``author`` is None for text before the first header (or when a header's
    author was already redacted); ``author_start``/``author_end`` locate it (-1 when None).
    ``written_at`` is ISO ``YYYY-MM-DDTHH:MM`` (or ``YYYY-MM-DD``), None when not a real date.
    A plain tuple so that Docs carrying it can be serialised (multiprocessing, ``to_bytes``).
    """

    start: int
    end: int
    text_start: int
    author: str | None
    written_at: str | None
    author_start: int = -1
    author_end: int = -1


def _written_at(m: re.Match[str]) -> str | None:
    y = int(m["y"])
    year = two_digit_year(y) if len(m["y"]) == 2 else y
    try:
        if m["H"] is None:
            return datetime(year, int(m["m"]), int(m["d"])).strftime("%Y-%m-%d")
        hour = int(m["H"])
        if m["ampm"]:
            hour = hour % 12 + (12 if m["ampm"].lower() == "pm" else 0)
        return datetime(year, int(m["m"]), int(m["d"]), hour, int(m["M"])).strftime(
            "%Y-%m-%dT%H:%M"
        )
    except ValueError:
        return None


_PLACEHOLDER_AUTHOR = re.compile(r"\[[A-Z_]+\]")


#: The last text searched and its headers: the comment_blocks component and the redactor look
#: at the same text one after the other (the cache holds the text, so ``is`` is safe).
_LAST: tuple[str | None, tuple[re.Match[str], ...]] = (None, ())


def find_headers(text: str) -> list[re.Match[str]]:
    """All header matches in ``text``, in order."""
    global _LAST
    last = _LAST
    if last[0] is text:
        return list(last[1])
    if not text or not _HEADER_HINT.search(text):
        found: tuple[re.Match[str], ...] = ()
    else:
        found = tuple(HEADER_RE.finditer(text))
    _LAST = (text, found)
    return list(found)


def split_blocks(text: str | None) -> list[Block]:
    """Split a notes text into blocks. Empty or blank text gives no blocks; text without any
    header gives one block with an unknown author."""
    if not text or text.isspace():
        return []
    headers = find_headers(text)
    blocks: list[Block] = []
    first = headers[0].start() if headers else len(text)
    if text[:first].strip():
        blocks.append(Block(0, first, 0, None, None))
    for i, m in enumerate(headers):
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        author = m["author"].strip()
        a_start = m.start("author") + (len(m["author"]) - len(m["author"].lstrip()))
        if _PLACEHOLDER_AUTHOR.fullmatch(author):
            blocks.append(Block(m.start(), end, m.end(), None, _written_at(m)))
        else:
            blocks.append(
                Block(
                    m.start(), end, m.end(), author, _written_at(m), a_start, a_start + len(author)
                )
            )
    return blocks
