"""Regex building blocks shared by the components: letters, dates, and date parsing."""

from __future__ import annotations

import re
from datetime import date


def _char_class(pred) -> str:
    """A regex character class of the Latin letters (ASCII and Latin-1..Latin Extended-B) for
    which ``pred`` holds, e.g. ``str.isupper``. Covers Welsh, Irish, Polish and Romanian names."""
    chars = [chr(c) for c in range(0x41, 0x250) if chr(c).isalpha() and pred(chr(c))]
    chars += [c for c in "ȘȚșț" if pred(c)]
    return "[" + "".join(re.escape(c) for c in dict.fromkeys(chars)) + "]"


UPPER = _char_class(str.isupper)
LOWER = _char_class(str.islower)
APOS = "['’]"

#: A capitalised word: "Smith", "O'Brien", "McDonald", "Smith-Jones", "Łukasz".
CAPWORD = rf"(?:[OD]{APOS})?{UPPER}{LOWER}+(?:{UPPER}{LOWER}+)*(?:-{UPPER}?{LOWER}+)*"
#: A capitalised word or an all-capitals word of two letters or more ("SMITH").
NAMEWORD = rf"(?:{CAPWORD}|{UPPER}{{2,}}(?:-{UPPER}{{2,}})*)(?![^\W\d_])"
#: Any word (letters with inner apostrophes or hyphens).
WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}  # fmt: skip
MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))

#: A calendar date in the formats case notes use (day-first).
DATE = (
    r"(?:"
    r"(?<![\d/.\-])\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})(?![\d/])"
    r"|(?<![\d/.\-])\d{4}-\d{2}-\d{2}(?!\d)"
    rf"|(?<!\d)\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+(?i:{MONTH_ALT})\.?,?\s+\d{{4}}(?!\d)"
    # "3-Mar-02", "03/Mar/1991", "3 Mar 91", "3.mar.02"
    rf"|(?<![\d/.\-])\d{{1,2}}(?:[\-/.]|[ \t])(?i:{MONTH_ALT})\.?(?:[\-/.]|[ \t])(?:\d{{4}}|\d{{2}})(?![\d/])"
    rf"|(?<![\w])(?i:{MONTH_ALT})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}(?!\d)"
    r")"
)
DATE_RE = re.compile(DATE)

_NUM_DATE = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})$")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})$")
_TXT_DATE = re.compile(
    rf"(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({MONTH_ALT})\.?,?\s+(\d{{4}})$", re.I
)
_ABBR_DATE = re.compile(rf"(\d{{1,2}})[\-/. \t]({MONTH_ALT})\.?[\-/. \t](\d{{4}}|\d{{2}})$", re.I)
_TXT_DATE2 = re.compile(rf"({MONTH_ALT})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})$", re.I)


def two_digit_year(y: int) -> int:
    """A two-digit year in a case note: 00-39 is 20xx, 40-99 is 19xx."""
    return 2000 + y if y < 40 else 1900 + y


def parse_date(text: str) -> date | None:
    """Parse a date matched by ``DATE`` (day first); None when it is not a real calendar date."""
    s = text.strip()
    try:
        if m := _NUM_DATE.match(s):
            d, mo, y = int(m[1]), int(m[2]), int(m[3])
            return date(two_digit_year(y) if len(m[3]) == 2 else y, mo, d)
        if m := _ISO_DATE.match(s):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _TXT_DATE.match(s):
            return date(int(m[3]), MONTHS[m[2].lower()], int(m[1]))
        if m := _ABBR_DATE.match(s):
            y = int(m[3])
            return date(two_digit_year(y) if len(m[3]) == 2 else y, MONTHS[m[2].lower()], int(m[1]))
        if m := _TXT_DATE2.match(s):
            return date(int(m[3]), MONTHS[m[1].lower()], int(m[2]))
    except ValueError:
        return None
    return None


def parse_iso_date(value: str | None) -> date | None:
    """Parse an export's ``YYYY-MM-DD`` (or ``YYYY-MM-DDTHH:MM:SS``) date; None when unusable."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
