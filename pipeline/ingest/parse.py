"""Value parsers: the many spellings exports use for a date, time, flag or CRN, to one form.

Each returns None for a value it cannot read, and the caller quarantines the row: guessing would
put a contact in the wrong month (or the wrong case) without anyone knowing. Dates are read
day-first (DD/MM/YYYY), as UK exports write them; a team whose tool writes month-first dates
says so with ``date_format`` in its mapping file. Time-zone suffixes are dropped, not converted:
the wall-clock time the practitioner saw is the one that orders a case's contacts.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_CLOCK = r"(?:[T ,]+(\d{1,2})[:.](\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([AaPp]\.?[Mm]\.?)?)?"
_ZONE = r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?"
_ISO = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})" + _CLOCK + _ZONE)
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})" + _CLOCK)
_D_MON_Y = re.compile(r"(\d{1,2})[ -]([A-Za-z]{3,9})\.?[ -]+(\d{4})" + _CLOCK)
_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([AaPp]\.?[Mm]\.?)?")
# Excel stores dates as days since 1899-12-30; a CSV saved from a sheet with a lost date format
# shows them as bare numbers. Only a plausible range counts, so a numeric id is never a date.
_SERIAL = re.compile(r"(\d{5})(?:\.(\d+))?")
_SERIAL_RANGE = (20_000, 80_000)  # 1954-10-04 .. 2119-01-09
_EXCEL_EPOCH = date(1899, 12, 30)
_YEARS = (1900, 2100)

DateTimeParts = tuple[date, time | None]

_FLAGS = {
    **dict.fromkeys(("y", "yes", "true", "t", "1"), "Y"),
    **dict.fromkeys(("n", "no", "false", "f", "0"), "N"),
}
#: A CRN: one letter and six digits (after upper-casing and removing whitespace).
CRN_PATTERN = r"[A-Z][0-9]{6}"
_CRN = re.compile(CRN_PATTERN)
_SPACE = re.compile(r"\s+")


def _clock(
    hour: str | None, minute: str | None, second: str | None, half: str | None
) -> time | None:
    """A time of day from regex groups; raises ValueError when out of range."""
    if hour is None:
        return None
    h, m, s = int(hour), int(minute or 0), int(second or 0)
    if half:
        if not 1 <= h <= 12:
            raise ValueError("12-hour clock out of range")
        h = h % 12 + (12 if half[0] in "pP" else 0)
    return time(h, m, s)


def _in_range(d: date) -> bool:
    return _YEARS[0] <= d.year <= _YEARS[1]


def parse_datetime(value: str, *, date_format: str | None = None) -> DateTimeParts | None:
    """Read a date with an optional time of day: (date, time or None), or None if unreadable.

    Accepts ``date_format`` (tried first), ISO dates and datetimes (``T`` or space, seconds,
    fractions, zone suffix), DD/MM/YYYY (also with ``-`` or ``.``, optionally followed by a
    24- or 12-hour time), "5 May 2022" / "05-May-2022", and Excel serial day numbers. Years
    outside 1900-2100 are refused: they are typing slips or placeholder dates.
    """
    parts = _parse_parts(value, date_format=date_format)
    return parts if parts and _in_range(parts[0]) else None


def _parse_parts(value: str, *, date_format: str | None = None) -> DateTimeParts | None:
    text = value.strip()
    if not text:
        return None
    if date_format:
        try:
            parsed = datetime.strptime(text, date_format)
        except ValueError:
            pass
        else:
            has_clock = any(d in date_format for d in ("%H", "%I", "%M"))
            return parsed.date(), parsed.time() if has_clock else None
    try:
        if m := _ISO.fullmatch(text):
            d = date(int(m[1]), int(m[2]), int(m[3]))
            t = _clock(m[4], m[5], m[6], m[7])
        elif m := _DMY.fullmatch(text):
            d = date(int(m[3]), int(m[2]), int(m[1]))
            t = _clock(m[4], m[5], m[6], m[7])
        elif m := _D_MON_Y.fullmatch(text):
            month = _MONTHS.get(m[2][:3].casefold())
            if month is None:
                return None
            d = date(int(m[3]), month, int(m[1]))
            t = _clock(m[4], m[5], m[6], m[7])
        elif (m := _SERIAL.fullmatch(text)) and _SERIAL_RANGE[0] <= int(m[1]) <= _SERIAL_RANGE[1]:
            d = _EXCEL_EPOCH + timedelta(days=int(m[1]))
            t = _fraction_to_time(float("0." + m[2])) if m[2] else None
        else:
            return None
    except ValueError:  # 31/02/2022, 25:00 and the like
        return None
    return d, t


def _fraction_to_time(fraction: float) -> time:
    seconds = min(round(fraction * 86_400), 86_399)
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60)


def parse_time(value: str) -> time | None:
    """Read a time of day: "17:45", "17:45:00", "5:45 pm", "17.45", an Excel day fraction
    ("0.7395833"), or a datetime whose time part is taken (Excel writes a lone time that way)."""
    text = value.strip()
    if not text:
        return None
    if m := _TIME.fullmatch(text):
        try:
            return _clock(m[1], m[2], m[3], m[4])
        except ValueError:
            pass  # "0.75" is no HH.MM time, but it may be an Excel day fraction
    try:
        fraction = float(text)
    except ValueError:
        fraction = -1.0
    if 0.0 <= fraction < 1.0:
        return _fraction_to_time(fraction)
    # Excel writes a lone time as a datetime on its day zero, 1899-12-30: any year will do here.
    parts = _parse_parts(text) if len(text) > 10 else None
    return parts[1] if parts else None


def format_date(d: date) -> str:
    return d.isoformat()


def format_time(t: time) -> str:
    """HH:MM: contacts are recorded to the minute."""
    return f"{t.hour:02d}:{t.minute:02d}"


def format_datetime(d: date, t: time | None) -> str:
    """YYYY-MM-DDTHH:MM:SS; a date without a time is taken as midnight."""
    t = t or time(0, 0)
    return f"{d.isoformat()}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def parse_flag(value: str) -> str | None:
    """Y or N from the ways exports write a yes/no flag; None when it is neither."""
    return _FLAGS.get(value.strip().casefold())


def normalise_crn(value: str) -> str | None:
    """A CRN as one upper-case letter and six digits ("x 123456 " -> "X123456"), or None."""
    crn = _SPACE.sub("", value).upper()
    return crn if _CRN.fullmatch(crn) else None
