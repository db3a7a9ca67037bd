"""The value parsers and the encoding sniffer, on their own."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from pipeline.ingest.parse import (
    format_datetime,
    normalise_crn,
    parse_datetime,
    parse_flag,
    parse_time,
)
from pipeline.ingest.sniff import sniff_delimiter, sniff_encoding


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-05-05", (date(2022, 5, 5), None)),
        ("2022/05/05", (date(2022, 5, 5), None)),
        ("2022-05-05T17:45:00Z", (date(2022, 5, 5), time(17, 45))),
        ("2022-05-05 17:45:30.5", (date(2022, 5, 5), time(17, 45, 30))),
        ("05/05/2022", (date(2022, 5, 5), None)),
        ("13/05/2022", (date(2022, 5, 13), None)),  # day first, always
        ("05.05.2022 12:15 AM", (date(2022, 5, 5), time(0, 15))),
        ("5 Sept 2022", (date(2022, 9, 5), None)),
        ("44686", (date(2022, 5, 5), None)),
        (" 2022-05-05 ", (date(2022, 5, 5), None)),
    ],
)
def test_parse_datetime_accepts(text: str, expected: tuple[date, time | None]) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2022-13-01",
        "30/02/2022",
        "05/05/22",
        "123456",
        "1234",
        "5 Smarch 2022",
        "1850-01-01",
        "2022-05-05T25:00",
        "13:00 PM 05/05/2022",
        "X123456",
    ],
)
def test_parse_datetime_rejects(text: str) -> None:
    assert parse_datetime(text) is None


def test_date_format_first() -> None:
    assert parse_datetime("05/13/2022", date_format="%m/%d/%Y") == (date(2022, 5, 13), None)
    assert parse_datetime("05/06/2022", date_format="%m/%d/%Y") == (date(2022, 5, 6), None)
    assert parse_datetime("05/06/2022 10:30", date_format="%m/%d/%Y %H:%M") == (
        date(2022, 5, 6),
        time(10, 30),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17:45", time(17, 45)),
        ("9:05", time(9, 5)),
        ("17.45", time(17, 45)),
        ("5:45 p.m.", time(17, 45)),
        ("12:00 am", time(0, 0)),
        ("0.5", time(12, 0)),
        ("0.75", time(18, 0)),
        ("1899-12-30 17:45:00", time(17, 45)),
    ],
)
def test_parse_time(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["24:00", "17:61", "13:00 pm", "noon", "1.5", "2022-05-05"])
def test_parse_time_rejects(text: str) -> None:
    assert parse_time(text) is None


def test_flags_and_crn() -> None:
    assert [parse_flag(v) for v in ("Y", "yes", "TRUE", "1", "n", "No", "false", "0", "?")] == [
        "Y",
        "Y",
        "Y",
        "Y",
        "N",
        "N",
        "N",
        "N",
        None,
    ]
    assert normalise_crn(" x123 456 ") == "X123456"
    assert normalise_crn("X12345") is None
    assert normalise_crn("X١٢٣٤٥٦") is None  # non-ASCII digits are not a CRN
    assert format_datetime(date(2022, 5, 5), None) == "2022-05-05T00:00:00"


def test_sniff_encoding(tmp_path: Path) -> None:
    def sniff(data: bytes) -> str:
        path = tmp_path / "x.csv"
        path.write_bytes(data)
        return sniff_encoding(path)

    assert sniff(b"a,b\r\n1,2\r\n") == "utf-8"
    assert sniff("a,b\n£,é\n".encode()) == "utf-8"
    assert sniff("a,b\n£,é\n".encode("utf-8-sig")) == "utf-8-sig"
    assert sniff("a,b\n£,é\n".encode("utf-16")) == "utf-16"
    assert sniff(b"a" * 3_000_000 + "£".encode("cp1252")) == "cp1252"  # late, past any head
    # Mostly valid UTF-8 with one stray byte: still UTF-8 (the row is quarantined).
    assert sniff("é".encode() * 10 + b"\xff") == "utf-8"
    # A multi-byte character split across the scanner's block boundary is not an error.
    assert sniff(b"a" * ((1 << 20) - 1) + "é".encode()) == "utf-8"


def test_sniff_delimiter() -> None:
    assert sniff_delimiter("a,b,c\r\n") == ","
    assert sniff_delimiter("a;b;c\n") == ";"
    assert sniff_delimiter("a\tb\n") == "\t"
    assert sniff_delimiter("single\n") == ","
