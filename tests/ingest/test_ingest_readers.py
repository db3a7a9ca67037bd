"""One test (or a few) per reader: each format comes out as the same raw-chunk shape."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_fixtures import (
    HEADER,
    PLANTED_NOTE,
    delius_case,
    delius_contact,
    ingest_all,
    row,
    write_csv,
    write_json,
    write_jsonl,
)
from openpyxl import Workbook

from pipeline.errors import UnreadableFileError, UnsupportedFormatError
from pipeline.ingest import CHUNK_COLUMNS, RawChunk, iter_export, iter_exports
from pipeline.ingest.sniff import sniff_encoding, sniff_format
from pipeline.schema import EXPORT_COLUMNS


def read_all(path: Path | list[Path], **kwargs: object) -> pd.DataFrame:
    chunks = list(iter_exports(path, **kwargs))  # type: ignore[arg-type]
    for chunk in chunks:
        assert isinstance(chunk, RawChunk)
        assert list(chunk.frame.columns) == list(CHUNK_COLUMNS)
        assert all(str(chunk.frame[c].dtype) == "string" for c in EXPORT_COLUMNS)
        assert chunk.rejected.empty
    return pd.concat([c.frame for c in chunks], ignore_index=True)


def value(frame: pd.DataFrame, i: int, column: str) -> str | None:
    v = frame.at[i, column]
    return None if pd.isna(v) else v


# --- CSV ------------------------------------------------------------------------------------


def test_csv_utf8(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1, notes="Café visit"), row(2)])
    frame = read_all(path)
    assert sniff_encoding(path) == "utf-8"
    assert frame["contact_id"].tolist() == ["1", "2"]
    assert value(frame, 0, "notes") == "Café visit"
    assert frame["source_file"].tolist() == [str(path)] * 2
    assert frame["source_row"].tolist() == [1, 2]
    # Optional columns the file does not carry are present and missing.
    assert frame["outcome_code"].isna().all()


def test_csv_utf8_with_bom(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.csv", [row(1, pop_surname="Ó Súilleabháin")], encoding="utf-8-sig"
    )
    frame = read_all(path)
    assert sniff_encoding(path) == "utf-8-sig"
    # The BOM must not stick to the first header, or contact_id would not be found.
    assert frame.at[0, "contact_id"] == "1"
    assert frame.at[0, "pop_surname"] == "Ó Súilleabháin"


def test_csv_cp1252_from_excel(tmp_path: Path) -> None:
    rows = [row(i) for i in range(1, 40)] + [
        row(40, notes="Fine of £50 paid; café", pop_forename="Zoë")
    ]
    path = write_csv(tmp_path / "a.csv", rows, encoding="cp1252")
    frame = read_all(path)
    assert sniff_encoding(path) == "cp1252"
    assert value(frame, 39, "notes") == "Fine of £50 paid; café"
    assert value(frame, 39, "pop_forename") == "Zoë"


def test_csv_embedded_newlines_and_crlf(tmp_path: Path) -> None:
    notes = 'Line one\r\nLine two, with a comma and "quotes"\nLine three'
    path = write_csv(tmp_path / "a.csv", [row(1, notes=notes), row(2), row(3)], line_end="\r\n")
    frame = read_all(path)
    assert len(frame) == 3
    assert value(frame, 0, "notes") == notes
    # source_row counts records, not physical lines: row 2 follows a three-line record.
    assert frame["source_row"].tolist() == [1, 2, 3]
    assert value(frame, 1, "contact_start_time") == "17:45"  # no stray \r on the last field


def test_csv_semicolons_and_blank_lines(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1), row(2)], delimiter=";")
    path.write_bytes(path.read_bytes().replace(b"\r\n2;", b"\r\n\r\n2;"))
    frame = read_all(path)
    assert frame["contact_id"].tolist() == ["1", "2"]
    assert frame["source_row"].tolist() == [1, 3]  # the blank line keeps its number


def test_csv_empty_file_yields_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    assert list(iter_export(path)) == []


def test_csv_chunks(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(i) for i in range(1, 8)])
    chunks = list(iter_export(path, chunk_rows=3))
    assert [c.rows_in for c in chunks] == [3, 3, 1]
    assert pd.concat([c.frame for c in chunks])["source_row"].tolist() == list(range(1, 8))


# --- JSON Lines -----------------------------------------------------------------------------


def test_jsonl(tmp_path: Path) -> None:
    records = [row(1), {**row(2), "sensitive": True, "mappa_level": 2}, row(3, notes=None)]
    path = write_jsonl(tmp_path / "a.jsonl", records)
    frame = read_all(path)
    assert frame["contact_id"].tolist() == ["1", "2", "3"]
    assert value(frame, 1, "sensitive") == "Y"  # JSON booleans become our Y/N
    assert value(frame, 1, "mappa_level") == "2"
    assert value(frame, 2, "notes") is None
    assert value(frame, 0, "notes").endswith(PLANTED_NOTE)


def test_json_file_holding_json_lines_is_read_as_lines(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "export.json", [row(1), row(2)])
    assert sniff_format(path) == "jsonl"
    assert read_all(path)["contact_id"].tolist() == ["1", "2"]


# --- Parquet --------------------------------------------------------------------------------


def test_parquet(tmp_path: Path) -> None:
    table = pa.table(
        {
            "contact_id": pa.array([101, 102, 103], pa.int64()),
            "CRN": ["X123456", "x654321", "A000001"],
            "Contact Date": pa.array(
                [pd.Timestamp("2022-05-05").date(), pd.Timestamp("2022-05-06").date(), None],
                pa.date32(),
            ),
            "contact_type_code": pa.array(["MO1", "C002", "MO1"]).dictionary_encode(),
            "notes": [PLANTED_NOTE, "", None],
            "sensitive": [True, False, None],
            "mappa_level": pa.array([1.0, None, 3.0]),
            "unrelated": [1, 2, 3],
        }
    )
    path = tmp_path / "a.parquet"
    pq.write_table(table, path, row_group_size=2)
    frame = read_all(path, chunk_rows=2)
    assert frame["contact_id"].tolist() == ["101", "102", "103"]
    assert frame["crn"].tolist() == ["X123456", "x654321", "A000001"]
    assert value(frame, 0, "contact_date") == "2022-05-05"
    assert value(frame, 2, "contact_date") is None
    assert frame["contact_type_code"].tolist() == ["MO1", "C002", "MO1"]
    assert value(frame, 1, "notes") is None  # an empty string is missing, as in CSV
    assert [value(frame, i, "sensitive") for i in range(3)] == ["Y", "N", None]
    assert [value(frame, i, "mappa_level") for i in range(3)] == ["1", None, "3"]
    assert frame["source_row"].tolist() == [1, 2, 3]


def test_broken_parquet_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(UnreadableFileError, match="a.parquet"):
        list(iter_export(path))


# --- Excel ----------------------------------------------------------------------------------


def test_xlsx(tmp_path: Path) -> None:
    import datetime as dt

    wb = Workbook()
    ws = wb.active
    ws.title = "Contacts"
    ws.append([])  # Excel users often leave a blank first row
    ws.append(
        ["Contact ID", "CRN", "Contact Date", "Start Time", "Contact Type", "Notes", "Sensitive"]
    )
    ws.append([5001, "X123456", dt.datetime(2022, 5, 5), dt.time(17, 45), "MO1", "Fine £50 é", "N"])
    ws.append([None] * 7)
    ws.append([5002, "X123456", dt.datetime(2022, 5, 6, 9, 30), None, "C002", None, True])
    path = tmp_path / "a.xlsx"
    wb.save(path)
    mapping = {
        "Contact ID": "contact_id",
        "Contact Date": "contact_date",
        "Start Time": "contact_start_time",
        "Contact Type": "contact_type_code",
    }
    from pipeline.ingest import ColumnMapping

    frame = read_all(path, mapping=ColumnMapping(columns=mapping))
    assert frame["contact_id"].tolist() == ["5001", "5002"]
    assert value(frame, 0, "contact_date") == "2022-05-05"  # a midnight datetime is a date cell
    assert value(frame, 0, "contact_start_time") == "17:45:00"
    assert value(frame, 1, "contact_date") == "2022-05-06 09:30:00"
    assert value(frame, 0, "notes") == "Fine £50 é"
    assert value(frame, 1, "sensitive") == "Y"
    assert frame["source_row"].tolist() == [1, 3]  # sheet row less the header row


def test_xlsx_sheet_option(tmp_path: Path) -> None:
    wb = Workbook()
    wb.active.append(["nothing", "here"])
    other = wb.create_sheet("Contacts")
    other.append(HEADER)
    other.append([row(1)[h] for h in HEADER])
    path = tmp_path / "a.xlsx"
    wb.save(path)
    from pipeline.ingest import ColumnMapping

    frame = read_all(path, mapping=ColumnMapping(sheet="Contacts"))
    assert frame["contact_id"].tolist() == ["1"]


# --- Delius JSON ----------------------------------------------------------------------------


def test_delius_single_file(tmp_path: Path) -> None:
    contacts = [
        delius_contact(11),
        delius_contact(
            12,
            type={"code": "ETIE", "description": "Tier Change", "systemGenerated": True},
            outcome=None,
            notes="",
            sensitive=True,
            staff={"name": {"forename": "Sam", "surname": "Smith"}, "grade": {"code": "PSO"}},
            provider={"code": "N07", "description": "London"},
        ),
        {"id": 13, "type": {"code": "CTOA"}, "startDateTime": "2022-05-07T08:00:00Z"},
    ]
    case = delius_case(
        "X123456",
        contacts=contacts,
        tier="A2",
        rosh={"level": "HIGH"},
        mappa={"level": 2, "category": 1},
        sentenceType="Licence",
    )
    path = write_json(tmp_path / "X123456.json", case)
    frame = read_all(path)
    assert frame["contact_id"].tolist() == ["11", "12", "13"]
    assert frame["source_row"].tolist() == [1, 2, 3]  # the contact's index
    assert set(frame["crn"]) == {"X123456"}
    assert value(frame, 0, "pop_surname") == "Quuxley"
    assert value(frame, 0, "contact_date") == "2022-05-05T17:45:00"  # split by validation
    assert value(frame, 0, "contact_type_code") == "MO1"
    assert value(frame, 0, "outcome_code") == "MO27"
    assert value(frame, 0, "system_generated") == "N"
    assert value(frame, 0, "staff_name") == "Jane Doe"
    assert value(frame, 0, "region") == "London"
    assert value(frame, 0, "created_datetime") == "2022-05-05T18:02:11"
    assert value(frame, 1, "system_generated") == "Y"
    assert value(frame, 1, "sensitive") == "Y"
    assert value(frame, 1, "notes") is None
    assert value(frame, 1, "outcome_code") is None
    assert value(frame, 1, "staff_name") == "Sam Smith"
    assert value(frame, 1, "staff_grade") == "PSO"
    assert value(frame, 1, "region") == "London"
    # Case fields land on every contact; missing contact keys are simply missing.
    assert set(frame["tier"]) == {"A2"}
    assert set(frame["rosh_level"]) == {"HIGH"}
    assert set(frame["mappa_level"]) == {"2"}
    assert set(frame["sentence_type"]) == {"Licence"}
    assert value(frame, 2, "notes") is None
    assert value(frame, 2, "team") is None


def test_delius_folder_and_validation(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    (folder / "nested").mkdir(parents=True)
    write_json(
        folder / "X000001.json",
        delius_case("X000001", contacts=[delius_contact(1), delius_contact(2)]),
    )
    write_json(
        folder / "nested" / "X000002.json", delius_case("x000002", contacts=[delius_contact(3)])
    )
    write_json(folder / ".hidden.json", delius_case("X000003"))
    (folder / "README.md").write_text("not an export")
    good, bad, state = ingest_all(folder, chunk_rows=50)
    assert bad.empty
    assert sorted(good["contact_id"]) == ["1", "2", "3"]
    assert sorted(set(good["crn"])) == ["X000001", "X000002"]
    assert set(good["contact_date"]) == {"2022-05-05"}
    assert set(good["contact_start_time"]) == {"17:45"}
    assert len(set(good["source_file"])) == 2
    assert state.counts.rows_in == 3


def test_delius_folder_chunks_are_joined_up_to_chunk_rows(tmp_path: Path) -> None:
    for i in range(5):
        write_json(tmp_path / f"c{i}.json", delius_case(f"X00000{i}", contacts=[delius_contact(i)]))
    chunks = list(iter_exports(tmp_path, chunk_rows=2))
    assert [c.rows_in for c in chunks] == [2, 2, 1]


def test_delius_list_of_cases(tmp_path: Path) -> None:
    doc = [
        delius_case("X000001", contacts=[delius_contact(1)]),
        delius_case("X000002", contacts=[delius_contact(2)]),
    ]
    frame = read_all(write_json(tmp_path / "all.json", doc))
    assert frame["crn"].tolist() == ["X000001", "X000002"]
    assert frame["source_row"].tolist() == [1, 2]


def test_delius_wrong_shape_is_an_input_error(tmp_path: Path) -> None:
    path = write_json(tmp_path / "other.json", {"hello": "world"})
    with pytest.raises(UnreadableFileError, match="other.json"):
        list(iter_export(path))
    broken = tmp_path / "broken.json"
    broken.write_text('{"contacts": [', encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="not valid JSON"):
        list(iter_export(broken))


# --- dispatch -------------------------------------------------------------------------------


def test_format_sniffed_from_content_for_unknown_extension(tmp_path: Path) -> None:
    csv_path = write_csv(tmp_path / "export.dat", [row(1)])
    pq_path = tmp_path / "export.bin"
    pq.write_table(pa.table({c: [row(2)[c]] for c in HEADER}), pq_path)
    json_path = write_json(tmp_path / "case", delius_case(contacts=[delius_contact(3)]))
    frame = read_all([csv_path, pq_path, json_path])
    assert frame["contact_id"].tolist() == ["1", "2", "3"]


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormatError, match="nope.csv"):
        list(iter_exports(tmp_path / "nope.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnsupportedFormatError, match="no export files"):
        list(iter_exports(tmp_path / "empty"))
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\x00\x01\x02garbage")
    with pytest.raises(UnsupportedFormatError, match="cannot tell the format"):
        list(iter_export(binary))


def test_same_file_given_twice_is_read_once(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1)])
    assert len(read_all([path, tmp_path, path])) == 1


def test_mixed_formats_in_one_folder(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", [row(1)])
    write_jsonl(tmp_path / "b.jsonl", [row(2)])
    pq.write_table(pa.table({c: [row(3)[c]] for c in HEADER}), tmp_path / "c.parquet")
    write_json(tmp_path / "d.json", delius_case(contacts=[delius_contact(4)]))
    frame = read_all(tmp_path)
    assert frame["contact_id"].tolist() == ["1", "2", "3", "4"]
    assert json.loads(json.dumps(frame["source_row"].tolist())) == [1, 1, 1, 1]


def test_csv_utf16_tab_delimited_from_excel_unicode_text(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "a.txt", [row(1, notes="Zoë £5")], encoding="utf-16", delimiter="\t"
    )
    frame = read_all(path)
    assert sniff_encoding(path) == "utf-16"
    assert frame["notes"].tolist() == ["Zoë £5"]


def test_folder_skips_txt_but_an_explicit_txt_is_read(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", [row(1)])
    (tmp_path / "README.txt").write_text("how these exports were made")
    assert read_all(tmp_path)["contact_id"].tolist() == ["1"]
    explicit = write_csv(tmp_path / "more.txt", [row(2)])
    assert read_all([tmp_path, explicit])["contact_id"].tolist() == ["1", "2"]


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    from pipeline.errors import ConfigError
    from pipeline.ingest import IngestState

    path = write_csv(tmp_path / "a.csv", [row(1)])
    with pytest.raises(ConfigError, match="chunk_rows"):
        list(iter_exports(path, chunk_rows=0))
    with pytest.raises(ConfigError, match="max_notes_chars"):
        IngestState(max_notes_chars=0)
