"""Validation and quarantine: every bad row is set aside with its field and reason, none lost."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_fixtures import (
    HEADER,
    PLANTED_NAME,
    PLANTED_NOTE,
    delius_case,
    delius_contact,
    ingest_all,
    row,
    write_csv,
    write_json,
    write_jsonl,
)

from pipeline.errors import InputError
from pipeline.ingest import (
    CHUNK_COLUMNS,
    QUARANTINE_COLUMNS,
    IngestCounts,
    IngestState,
    Reason,
    iter_export,
    iter_exports,
    iter_validated,
    validate,
)


def only_reason(bad: pd.DataFrame) -> tuple[str, str | None, int]:
    assert len(bad) == 1, bad[["source_row", "field", "reason"]]
    field = bad.at[0, "field"]
    return bad.at[0, "reason"], None if pd.isna(field) else field, int(bad.at[0, "source_row"])


# --- one bad row each -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"contact_date": "31/02/2022"}, "contact_date", Reason.BAD_DATE),
        ({"contact_date": "next Tuesday"}, "contact_date", Reason.BAD_DATE),
        ({"contact_date": "05/05/22"}, "contact_date", Reason.BAD_DATE),
        ({"contact_date": ""}, "contact_date", Reason.MISSING_VALUE),
        ({"contact_id": ""}, "contact_id", Reason.MISSING_VALUE),
        ({"contact_id": "   "}, "contact_id", Reason.MISSING_VALUE),
        ({"crn": ""}, "crn", Reason.MISSING_VALUE),
        ({"contact_type_code": ""}, "contact_type_code", Reason.MISSING_VALUE),
        ({"crn": "X12345"}, "crn", Reason.BAD_CRN),
        ({"crn": "123456X"}, "crn", Reason.BAD_CRN),
        ({"crn": "XX123456"}, "crn", Reason.BAD_CRN),
        ({"contact_start_time": "25:61"}, "contact_start_time", Reason.BAD_TIME),
        ({"sensitive": "maybe"}, "sensitive", Reason.BAD_FLAG),
        ({"system_generated": "2"}, "system_generated", Reason.BAD_FLAG),
        ({"notes": "x" * 20_001}, "notes", Reason.NOTES_TOO_LONG),
    ],
)
def test_bad_value_is_quarantined(
    tmp_path: Path, overrides: dict[str, str], field: str, reason: Reason
) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1), row(2, **overrides), row(3)])
    good, bad, state = ingest_all(path, chunk_rows=3)
    assert good["contact_id"].tolist() == ["1", "3"]
    assert only_reason(bad) == (reason.value, field, 2)
    assert list(bad.columns) == list(QUARANTINE_COLUMNS)
    assert bad.at[0, "source_file"] == str(path)
    # The row is kept whole, as read, so nothing is lost.
    expected = row(2, **overrides)
    for column in ("notes", "pop_surname", "contact_type_description"):
        assert bad.at[0, column] == expected[column]
    assert state.counts.by_reason == {reason.value: 1}


def test_created_datetime_unreadable(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [row(1, created_datetime="yesterday-ish")])
    _, bad, _ = ingest_all(path)
    assert only_reason(bad) == ("bad_date", "created_datetime", 1)


def test_first_problem_wins(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1, crn="nope", contact_date="never", sensitive="?")])
    _, bad, state = ingest_all(path)
    assert only_reason(bad)[:2] == ("bad_crn", "crn")
    assert state.counts.rows_quarantined == 1


def test_notes_limit_is_configurable(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1, notes="x" * 50), row(2, notes="x" * 10)])
    good, bad, _ = ingest_all(path, state=IngestState(max_notes_chars=20))
    assert good["contact_id"].tolist() == ["2"]
    assert only_reason(bad) == ("notes_too_long", "notes", 1)


def test_notes_over_the_csv_module_default_field_limit_are_quarantined_not_fatal(
    tmp_path: Path,
) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1, notes="y" * 200_000), row(2)])
    good, bad, _ = ingest_all(path)
    assert good["contact_id"].tolist() == ["2"]
    assert only_reason(bad) == ("notes_too_long", "notes", 1)


# --- normalisation of good rows -------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "time", "want_date", "want_time"),
    [
        ("2022-05-05", "17:45", "2022-05-05", "17:45"),
        ("05/05/2022", "17:45:59", "2022-05-05", "17:45"),
        ("5/5/2022", "5:45 pm", "2022-05-05", "17:45"),
        ("05-05-2022", "", "2022-05-05", None),
        ("2022-05-05T17:45:00", "", "2022-05-05", "17:45"),
        ("2022-05-05T17:45:00.123+01:00", "", "2022-05-05", "17:45"),
        ("2022-05-05 09:05:00", "10:00", "2022-05-05", "10:00"),
        ("05/05/2022 09:05", "", "2022-05-05", "09:05"),
        ("5 May 2022", "", "2022-05-05", None),
        ("05-May-2022", "0.75", "2022-05-05", "18:00"),
        ("44686", "", "2022-05-05", None),
        ("44686.75", "", "2022-05-05", "18:00"),
    ],
)
def test_dates_and_times_normalised(
    tmp_path: Path, date: str, time: str, want_date: str, want_time: str | None
) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1, contact_date=date, contact_start_time=time)])
    good, bad, _ = ingest_all(path)
    assert bad.empty, bad[["field", "reason"]]
    assert good.at[0, "contact_date"] == want_date
    got_time = good.at[0, "contact_start_time"]
    assert (None if pd.isna(got_time) else got_time) == want_time


def test_other_values_normalised(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {
                **row(1),
                "crn": " x 123456 ",
                "contact_type_code": " mo1 ",
                "sensitive": "Yes",
                "system_generated": False,
                "notes": "one\r\ntwo",
                "created_datetime": "05/05/2022 18:02",
                "team": "   ",
            }
        ],
    )
    good, bad, _ = ingest_all(path)
    assert bad.empty
    got = good.iloc[0]
    assert got["crn"] == "X123456"
    assert got["contact_type_code"] == "MO1"
    assert (got["sensitive"], got["system_generated"]) == ("Y", "N")
    assert got["notes"] == "one\ntwo"
    assert got["created_datetime"] == "2022-05-05T18:02:00"
    assert pd.isna(got["team"])
    assert list(good.columns) == list(CHUNK_COLUMNS)
    assert good["source_row"].dtype == "int64"


# --- undecodable and malformed records ------------------------------------------------------


def test_csv_undecodable_bytes_quarantine_one_row(tmp_path: Path) -> None:
    rows = [row(i, notes="Café résumé naïve") for i in (1, 2, 4)]
    path = write_csv(tmp_path / "a.csv", [*rows[:2], row(3, notes="MARKER"), rows[2]])
    # A stray byte that is not UTF-8, in a file that otherwise clearly is.
    path.write_bytes(path.read_bytes().replace(b"MARKER", b"bad \xff\xfe byte"))
    good, bad, state = ingest_all(path)
    assert good["contact_id"].tolist() == ["1", "2", "4"]
    assert only_reason(bad) == ("undecodable", "notes", 3)
    assert bad.at[0, "notes"] == "bad \ufffd\ufffd byte"
    assert state.counts.rows_in == 4


def test_csv_byte_undefined_in_cp1252(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv", [row(1, notes="£1"), row(2, pop_surname="MARK")], encoding="cp1252"
    )
    path.write_bytes(path.read_bytes().replace(b"MARK", b"M\x81RK"))
    good, bad, _ = ingest_all(path)
    assert good["contact_id"].tolist() == ["1"]
    assert good.at[0, "notes"] == "£1"
    assert only_reason(bad) == ("undecodable", "pop_surname", 2)


def test_undecodable_bytes_in_an_unused_column_do_not_matter(tmp_path: Path) -> None:
    header = [*HEADER, "junk"]
    path = write_csv(tmp_path / "a.csv", [{**row(1), "junk": "MARK"}], header=header)
    path.write_bytes(path.read_bytes().replace(b"MARK", b"\xff"))
    good, bad, _ = ingest_all(path, mapping=None)
    assert len(good) == 1 and bad.empty


def test_csv_record_with_extra_fields(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1), row(2)])
    path.write_bytes(path.read_bytes().replace(b"\r\n2,", b"\r\n2,extra,", 1))
    good, bad, _ = ingest_all(path)
    assert good["contact_id"].tolist() == ["1"]
    assert only_reason(bad) == ("malformed_record", None, 2)


def test_csv_record_with_fewer_fields_is_padded(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "contact_id,crn,contact_date,contact_type_code,notes\n1,X123456,2022-05-05,MO1\n"
    )
    good, bad, _ = ingest_all(path)
    assert len(good) == 1 and pd.isna(good.at[0, "notes"]) and bad.empty


def test_jsonl_broken_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [row(1)])
    with path.open("ab") as f:
        f.write(b'{"contact_id": "2", "notes": "unterminated\n')
        f.write(b"[1, 2, 3]\n")
        f.write(b"\n")
        f.write(
            b'{"contact_id": "5", "crn": "X123456", "contact_date": "2022-05-05", '
            b'"contact_type_code": "MO1", "notes": "bad \xff byte"}\n'
        )
    good, bad, state = ingest_all(path)
    assert good["contact_id"].tolist() == ["1"]
    got = sorted(zip(bad["source_row"], bad["reason"], bad["field"].fillna("-"), strict=True))
    assert got == [
        (2, "malformed_record", "-"),
        (3, "malformed_record", "-"),
        (5, "undecodable", "notes"),
    ]
    assert state.counts.rows_in == 4  # the blank line is not a row


def test_delius_bad_contacts(tmp_path: Path) -> None:
    contacts = [
        delius_contact(1),
        "not an object",
        delius_contact(3, startDateTime="sometime"),
        delius_contact(4, type=None),
        {"id": 5},
    ]
    path = write_json(tmp_path / "case.json", delius_case("X123456", contacts=contacts))
    good, bad, state = ingest_all(path)
    assert good["contact_id"].tolist() == ["1"]
    got = sorted(zip(bad["source_row"], bad["reason"], bad["field"].fillna("-"), strict=True))
    assert got == [
        (2, "malformed_record", "-"),
        (3, "bad_date", "contact_date"),
        (4, "missing_value", "contact_type_code"),
        (5, "missing_value", "contact_date"),
    ]
    assert (bad["crn"] == "X123456").all()  # the case is known even for a broken contact
    assert state.counts.rows_in == 5


def test_delius_missing_identifiers_quarantines_contacts(tmp_path: Path) -> None:
    case = {"contacts": [delius_contact(1)]}
    _, bad, _ = ingest_all(write_json(tmp_path / "case.json", case))
    assert only_reason(bad) == ("missing_value", "crn", 1)


def test_delius_undecodable_bytes(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "case.json",
        delius_case(contacts=[delius_contact(1, notes="MARK"), delius_contact(2)]),
    )
    path.write_bytes(path.read_bytes().replace(b"MARK", b"\xc3\x28"))
    good, bad, _ = ingest_all(path)
    assert good["contact_id"].tolist() == ["2"]
    assert only_reason(bad) == ("undecodable", "notes", 1)


# --- counts, chunks, duplicates -------------------------------------------------------------


def test_counts_add_up_across_chunks(tmp_path: Path) -> None:
    rows = [
        row(1),
        row(2, contact_date="bad"),
        row(3),
        row(4, crn=""),
        row(5),
        row(1),
        row(6, notes="x" * 300),
        row(7),
        row(8, sensitive="?"),
        row(9),
        row(10, crn="Q1"),
    ]
    path = write_csv(tmp_path / "a.csv", rows)
    state = IngestState(max_notes_chars=200)
    chunks = list(iter_export(path, chunk_rows=3))
    assert len(chunks) == 4
    total_good = total_bad = 0
    for chunk in chunks:
        good, bad = validate(chunk, state=state)
        assert len(good) + len(bad) == chunk.rows_in
        total_good, total_bad = total_good + len(good), total_bad + len(bad)
    counts = state.counts
    assert counts.rows_in == len(rows) == counts.rows_ok + counts.rows_quarantined
    assert (counts.rows_ok, counts.rows_quarantined) == (total_good, total_bad) == (5, 6)
    assert counts.by_reason == {
        "bad_date": 1,
        "missing_value": 1,
        "duplicate_contact_id": 1,
        "notes_too_long": 1,
        "bad_flag": 1,
        "bad_crn": 1,
    }


def test_duplicates_across_chunks(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1), row(2), row(3), row(4), row(2), row(1), row(1)])
    good, bad, _ = ingest_all(path, chunk_rows=3)
    assert good["contact_id"].tolist() == ["1", "2", "3", "4"]
    assert good["source_row"].tolist() == [1, 2, 3, 4]  # the first occurrence is kept
    assert bad["source_row"].tolist() == [5, 6, 7]
    assert set(bad["reason"]) == {"duplicate_contact_id"}
    assert set(bad["field"]) == {"contact_id"}


def test_duplicates_across_files_and_formats(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a.csv", [row(1), row(2)])
    second = write_jsonl(tmp_path / "b.jsonl", [row(2), row(3)])
    third = write_json(
        tmp_path / "c.json", delius_case(contacts=[delius_contact(3), delius_contact(4)])
    )
    good, bad, _ = ingest_all([first, second, third], chunk_rows=3)
    assert good["contact_id"].tolist() == ["1", "2", "3", "4"]
    assert sorted(zip(bad["source_file"], bad["source_row"], strict=True)) == [
        (str(second), 1),
        (str(third), 1),
    ]


def test_duplicate_state_spans_separate_reads(tmp_path: Path) -> None:
    state = IngestState()
    ingest_all(write_csv(tmp_path / "a.csv", [row(1)]), state=state)
    good, bad, _ = ingest_all(write_csv(tmp_path / "b.csv", [row(1)]), state=state)
    assert good.empty and only_reason(bad)[0] == "duplicate_contact_id"


def test_only_good_rows_claim_a_contact_id(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1, contact_date="bad"), row(1)])
    good, bad, _ = ingest_all(path)
    assert good["source_row"].tolist() == [2]
    assert only_reason(bad)[0] == "bad_date"


def test_iter_validated(tmp_path: Path) -> None:
    state = IngestState()
    path = write_csv(tmp_path / "a.csv", [row(i) for i in range(1, 6)] + [row(1)])
    pairs = list(iter_validated(path, chunk_rows=2, state=state))
    assert len(pairs) == 3
    assert state.counts == IngestCounts(
        rows_in=6, rows_ok=5, rows_quarantined=1, by_reason={"duplicate_contact_id": 1}
    )


def test_validate_accepts_a_plain_frame() -> None:
    frame = pd.DataFrame([{**row(1), "source_file": "x", "source_row": 1}])
    for column in CHUNK_COLUMNS:
        if column not in frame:
            frame[column] = None
    good, bad = validate(frame[list(CHUNK_COLUMNS)], state=IngestState())
    assert len(good) == 1 and bad.empty


def test_counts_check_catches_a_lost_row() -> None:
    with pytest.raises(AssertionError):
        IngestCounts(rows_in=2, rows_ok=1).check()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    notes=st.lists(
        st.text(
            st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\x00"), max_size=60
        ),
        min_size=1,
        max_size=6,
    ),
    chunk_rows=st.integers(min_value=2, max_value=4),
)
def test_csv_round_trips_any_note_text(tmp_path: Path, notes: list[str], chunk_rows: int) -> None:
    """Quotes, commas, newlines and any script survive the CSV reader; counts always add up."""
    path = write_csv(tmp_path / "h.csv", [row(i, notes=n) for i, n in enumerate(notes, 1)])
    good, bad, state = ingest_all(path, chunk_rows=chunk_rows)
    assert state.counts.rows_in == len(notes) == len(good) + len(bad)
    expected = [n if n.strip() else None for n in notes]
    got = [None if pd.isna(v) else v for v in good["notes"]]
    assert got == expected


# --- privacy --------------------------------------------------------------------------------


def test_planted_note_text_never_reaches_errors_logs_or_reasons(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []

    def expect_error(paths: object, **kwargs: object) -> None:
        with pytest.raises(InputError) as caught:
            list(iter_exports(paths, **kwargs))  # type: ignore[arg-type]
        messages.append(str(caught.value))

    # Whole-file errors, each built around the planted text.
    headerless = tmp_path / "headerless.csv"
    headerless.write_text(f'"{PLANTED_NOTE}",{PLANTED_NAME},x,y\n', encoding="utf-8")
    expect_error(headerless)
    missing = write_csv(
        tmp_path / "missing.csv", [row(1)], header=["contact_id", "notes", "pop_surname"]
    )
    expect_error(missing)
    not_delius = write_json(
        tmp_path / "other.json", {"note": PLANTED_NOTE, "surname": PLANTED_NAME}
    )
    expect_error(not_delius)
    broken_json = tmp_path / "broken.json"
    broken_json.write_text('{"contacts": [{"notes": "' + PLANTED_NOTE + '" ', encoding="utf-8")
    expect_error(broken_json)
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text(
        ",".join(HEADER) + '\n1,X123456,a,b,2022-05-05,,MO1,,"' + PLANTED_NOTE * 400_000
    )
    expect_error(unclosed)

    # Row-level problems of every kind, with the planted text in notes and name columns.
    bad_csv = write_csv(
        tmp_path / "bad.csv",
        [
            row(1, contact_date=PLANTED_NOTE),
            row(2, crn=PLANTED_NAME),
            row(3, sensitive=PLANTED_NAME),
            row(4, contact_start_time=PLANTED_NAME),
            row(5, notes=PLANTED_NOTE * 1000),
            row(5),
            row(6, contact_id=""),
            row(7, notes="MARK " + PLANTED_NOTE),
            row(8),
            row(8),
        ],
    )
    # 0x81 is neither UTF-8 nor cp1252, whichever the sniffer picks.
    bad_csv.write_bytes(bad_csv.read_bytes().replace(b"MARK", b"\x81"))
    bad_jsonl = write_jsonl(tmp_path / "bad.jsonl", [row(9)])
    with bad_jsonl.open("a", encoding="utf-8") as f:
        f.write('{"notes": "' + PLANTED_NOTE + '"\n')
    good, bad, _ = ingest_all([bad_csv, bad_jsonl])
    assert set(bad["reason"]) == {r.value for r in Reason}

    surfaces = [*messages, caplog.text, *bad["field"].dropna(), *bad["reason"]]
    for text in surfaces:
        assert PLANTED_NOTE not in text
        assert PLANTED_NAME not in text
        assert "Zebedee" not in text
        assert "Plover" not in text
    assert all("file" in m for m in messages)
    # The quarantine frame itself keeps the notes (prepare redacts them before writing).
    assert bad["notes"].str.contains("Plover", regex=False).fillna(False).any()
