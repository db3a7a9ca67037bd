"""Column mapping: custom headers, our own names in any spelling, and clear whole-file errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_fixtures import PLANTED_NAME, PLANTED_NOTE, ingest_all, row, write_csv, write_jsonl

from pipeline.errors import (
    AmbiguousColumnError,
    ConfigError,
    InputError,
    MappingError,
    MissingColumnError,
)
from pipeline.ingest import (
    ColumnMapping,
    example_mapping_path,
    iter_export,
    iter_exports,
    load_mapping,
    normalise_header,
)
from pipeline.ingest.columns import ColumnResolver

TEAM_HEADER = [
    "Contact ID",
    "Case Ref",
    "Date of Contact",
    "Type",
    "Case Notes",
    "Sensitive?",
    "Extra",
]


def team_row(contact_id: int, date: str = "05/05/2022") -> dict[str, str]:
    return {
        "Contact ID": str(contact_id),
        "Case Ref": "X123456",
        "Date of Contact": date,
        "Type": "MO1",
        "Case Notes": PLANTED_NOTE,
        "Sensitive?": "No",
        "Extra": "ignored",
    }


def write_mapping(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


MAPPING_YAML = """
columns:
  "Contact ID": contact_id
  "Case Ref": crn
  "Date of Contact": contact_date
  "Type": contact_type_code
  "Case Notes": notes
  "Sensitive?": sensitive
date_format: "%m/%d/%Y"
"""


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Contact Date", "contact_date"),
        ("CONTACT_DATE", "contact_date"),
        (" contact-date ", "contact_date"),
        ("\ufeffcontact  date", "contact_date"),
        ("Contact_ID", "contact_id"),
    ],
)
def test_normalise_header(header: str, expected: str) -> None:
    assert normalise_header(header) == expected


def test_our_names_any_case_and_separator(tmp_path: Path) -> None:
    header = ["Contact ID", "CRN", "contact date", "CONTACT_TYPE_CODE", "Notes", "Pop Surname"]
    rows = [dict(zip(header, ["7", "X123456", "2022-05-05", "MO1", "n", "S"], strict=True))]
    good, bad, _ = ingest_all(write_csv(tmp_path / "a.csv", rows, header=header))
    assert bad.empty
    assert good.loc[0, ["contact_id", "crn", "contact_type_code", "pop_surname"]].tolist() == [
        "7",
        "X123456",
        "MO1",
        "S",
    ]


def test_mapping_file_maps_custom_headers(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path / "map.yaml", MAPPING_YAML)
    path = write_csv(
        tmp_path / "a.csv",
        [team_row(1, "05/13/2022"), team_row(2, "2022-05-14")],
        header=TEAM_HEADER,
    )
    good, bad, _ = ingest_all(path, mapping=mapping)
    assert bad.empty
    assert good["contact_id"].tolist() == ["1", "2"]
    # The mapping's month-first format is tried first; our ISO format still works after it.
    assert good["contact_date"].tolist() == ["2022-05-13", "2022-05-14"]
    assert good["sensitive"].tolist() == ["N", "N"]
    assert good["notes"].tolist() == [PLANTED_NOTE] * 2


def test_mapping_also_applies_to_json_lines(tmp_path: Path) -> None:
    mapping = load_mapping(write_mapping(tmp_path / "map.yaml", MAPPING_YAML))
    path = write_jsonl(tmp_path / "a.jsonl", [team_row(1, "05/13/2022")])
    good, bad, _ = ingest_all(path, mapping=mapping)
    assert good["contact_date"].tolist() == ["2022-05-13"]


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    header = ["contact_id", "contact_date", "contact_type_code", "notes", "pop_surname"]
    path = write_csv(tmp_path / "team export.csv", [row(1)], header=header)
    with pytest.raises(MissingColumnError) as caught:
        list(iter_export(path))
    message = str(caught.value)
    assert "'crn'" in message
    assert "team export.csv" in message
    assert caught.value.field == "crn"
    assert caught.value.columns == ("crn",)
    assert isinstance(caught.value, InputError)
    assert PLANTED_NOTE not in message and PLANTED_NAME not in message


def test_headerless_csv_error_does_not_echo_its_first_row(tmp_path: Path) -> None:
    """Without a header row the first data row is read as headers: it must not be quoted."""
    path = tmp_path / "noheader.csv"
    path.write_text(f'1,X123456,2022-05-05,MO1,"{PLANTED_NOTE}",{PLANTED_NAME}\n', encoding="utf-8")
    with pytest.raises(MissingColumnError) as caught:
        list(iter_export(path))
    message = str(caught.value)
    assert "contact_id" in message and "crn" in message
    assert PLANTED_NOTE not in message and PLANTED_NAME not in message
    assert "Zebedee" not in message


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "xlsx"])
def test_missing_required_column_in_other_formats(tmp_path: Path, fmt: str) -> None:
    record = {k: v for k, v in row(1).items() if k != "contact_date"}
    path = tmp_path / f"a.{fmt}"
    if fmt == "jsonl":
        write_jsonl(path, [record])
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({k: [v] for k, v in record.items()}), path)
    else:
        from openpyxl import Workbook

        wb = Workbook()
        wb.active.append(list(record))
        wb.active.append(list(record.values()))
        wb.save(path)
    with pytest.raises(MissingColumnError, match="'contact_date'") as caught:
        list(iter_export(path))
    assert str(path) in str(caught.value)
    assert PLANTED_NOTE not in str(caught.value)


def test_explicit_mapping_beats_a_name_match(tmp_path: Path) -> None:
    header = ["contact_id", "crn", "contact_date", "contact_type_code", "notes", "Full Notes"]
    rows = [{**row(1), "notes": "short", "Full Notes": "the long version"}]
    path = write_csv(tmp_path / "a.csv", rows, header=header)
    good, _, _ = ingest_all(path, mapping=ColumnMapping(columns={"Full Notes": "notes"}))
    assert good["notes"].tolist() == ["the long version"]


def test_two_headers_for_one_column_is_an_error(tmp_path: Path) -> None:
    header = ["contact_id", "crn", "CRN ", "contact_date", "contact_type_code"]
    path = write_csv(tmp_path / "a.csv", [{**row(1), "CRN ": "X000001"}], header=header)
    with pytest.raises(AmbiguousColumnError, match="'crn'") as caught:
        list(iter_export(path))
    assert "a.csv" in str(caught.value)


def test_alternative_headers_in_one_mapping(tmp_path: Path) -> None:
    mapping = ColumnMapping(
        columns={"Contact Date": "contact_date", "Date of Contact": "contact_date"}
    )
    resolver = ColumnResolver(mapping, path="x.csv")
    assert resolver.resolve(["Date of Contact", "crn"]) == {
        "Date of Contact": "contact_date",
        "crn": "crn",
    }


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("columns: {'A': not_a_column}", "unknown target column 'not_a_column'"),
        ("columns: [a, b]", "'columns' must map"),
        ("colums: {}", "unknown option"),
        ("columns: {}\ndate_format: dd/mm/yyyy", "strptime"),
        ("columns: {}\nencoding: klingon", "unknown encoding"),
        ("columns: {}\ndelimiter: ';;'", "single character"),
        ("columns: {a: [b", "not valid YAML"),
        ("- just\n- a list", "expected a YAML mapping"),
    ],
)
def test_bad_mapping_file(tmp_path: Path, text: str, match: str) -> None:
    path = write_mapping(tmp_path / "bad.yaml", text)
    with pytest.raises(MappingError, match=match) as caught:
        load_mapping(path)
    assert isinstance(caught.value, ConfigError)
    assert "bad.yaml" in str(caught.value)


def test_mapping_file_missing(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read"):
        iter_exports(tmp_path / "a.csv", mapping=tmp_path / "nope.yaml").__next__()


def test_example_mapping_ships_and_loads() -> None:
    path = example_mapping_path()
    assert path.is_file()
    mapping = load_mapping(path)
    assert mapping.columns["contact_id"] == "contact_id"  # "Contact ID", folded
    assert mapping.columns["date_of_contact"] == "contact_date"
    assert mapping.date_format == "%d/%m/%Y"


def test_mapping_encoding_and_delimiter_override_sniffing(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", [row(1, notes="£5")], encoding="cp1252", delimiter="|")
    good, _, _ = ingest_all(path, mapping=ColumnMapping(encoding="cp1252", delimiter="|"))
    assert good["notes"].tolist() == ["£5"]
