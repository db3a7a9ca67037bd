"""Every export format round-trips through the readers other tools use (pandas, pyarrow)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.schema import EXPORT_COLUMNS
from pipeline.synth import FORMATS, write_synth


def _norm(df: pd.DataFrame) -> pd.DataFrame:
    """Compare as text: missing values and empty strings are the same cell in an export."""
    return df[list(EXPORT_COLUMNS)].astype(object).where(df.notna(), "").astype(str)


@pytest.fixture(scope="module")
def written(small_synth, tmp_path_factory):
    out = {}
    for fmt in FORMATS:
        folder = tmp_path_factory.mktemp(fmt.replace("-", "_"))
        out[fmt] = (folder, write_synth(small_synth, folder, fmt=fmt))
    return out


def test_csv_is_excel_style_and_round_trips(small_synth, written):
    folder, paths = written["csv"]
    raw = Path(paths["export"]).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM
    assert b"\r\n" in raw
    back = pd.read_csv(paths["export"], dtype=str, keep_default_na=False, encoding="utf-8-sig")
    pd.testing.assert_frame_equal(_norm(back), _norm(small_synth.export))
    assert back["notes"].str.contains("\n").any()  # multi-line notes survived quoting


def test_jsonl_round_trips(small_synth, written):
    _, paths = written["jsonl"]
    back = pd.read_json(paths["export"], lines=True, dtype=False)
    pd.testing.assert_frame_equal(_norm(back), _norm(small_synth.export))


def test_parquet_round_trips_with_schema(small_synth, written):
    _, paths = written["parquet"]
    table = pq.read_table(paths["export"])
    assert table.schema.names == list(EXPORT_COLUMNS)
    pd.testing.assert_frame_equal(_norm(table.to_pandas()), _norm(small_synth.export))


def test_delius_json_one_file_per_case(small_synth, written):
    folder, paths = written["delius-json"]
    files = sorted((folder / "delius").glob("*.json"))
    assert len(files) == small_synth.export["crn"].nunique()
    ex = small_synth.export.set_index("contact_id")
    cases = small_synth.cases.set_index("crn")
    n = 0
    for f in files:
        doc = json.loads(f.read_text("utf-8"))
        crn = doc["personalDetails"]["identifiers"]["crn"]
        assert f.stem == crn
        assert doc["personalDetails"]["dateOfBirth"] == cases.loc[crn, "pop_dob"]
        for c in doc["contacts"]:
            row = ex.loc[c["id"]]
            assert c["notes"] == row["notes"]
            assert c["type"]["code"] == row["contact_type_code"]
            assert c["type"]["systemGenerated"] == (row["system_generated"] == "Y")
            assert c["startDateTime"].startswith(row["contact_date"])
            n += 1
    assert n == len(ex)


def test_truth_files_sit_beside_the_export(small_synth, written):
    for fmt, (_folder, paths) in written.items():
        labels = pd.read_parquet(paths["labels"])
        assert labels["contact_id"].tolist() == small_synth.export["contact_id"].tolist()
        manifest = json.loads(Path(paths["manifest"]).read_text())
        assert manifest["files"]["format"] == fmt
        assert manifest["generator"]["seed"] == 11
        # the export itself carries no labels
        assert "oversight_type" not in pd.read_parquet(paths["cases"]).columns


def test_writing_twice_gives_identical_bytes(small_synth, tmp_path):
    a = write_synth(small_synth, tmp_path / "a", fmt="csv")
    b = write_synth(small_synth, tmp_path / "b", fmt="csv")
    assert Path(a["export"]).read_bytes() == Path(b["export"]).read_bytes()
    assert Path(a["manifest"]).read_text() == Path(b["manifest"]).read_text()
    assert not list((tmp_path / "a").glob(".*.tmp"))  # no temporary files left behind


def test_unknown_format_is_refused(small_synth, tmp_path):
    with pytest.raises(ValueError, match="unknown format"):
        write_synth(small_synth, tmp_path, fmt="xml")
