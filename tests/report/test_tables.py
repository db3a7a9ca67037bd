"""Reading a measures folder: the contract's files and columns, suppression re-applied,
no case identifiers let through."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import ReportInputError, ReportPrivacyError
from pipeline.report.tables import read_measures
from pipeline.schema import MEASURES_COLUMNS
from tests.report.conftest import SUMMARY, make_measures, row, write_measures


def test_reads_the_contract(measures_dir):
    ms = read_measures(measures_dir)
    assert list(ms.measures.columns) == list(MEASURES_COLUMNS)
    assert ms.threshold == 10 and ms.missing == []
    overall = ms.rows("reactive_share")
    assert len(overall) == 1 and overall["estimate"].iloc[0] == pytest.approx(0.3)
    by_type = ms.rows("defensive_share", category="risk")
    assert by_type["n"].iloc[0] == 80
    # Null categories come back as None (pandas' string dtype would give NaN).
    assert ms.measures["category"].map(lambda v: v is None or isinstance(v, str)).all()
    assert ms.comparisons["category"].map(lambda v: v is None).all()
    assert {"overall", "region", "pdu", "team", "rosh_level", "month"} == set(ms.levels())


def test_small_groups_are_suppressed_even_when_the_table_says_not(tmp_path):
    measures, comparisons, delays = make_measures()
    sneaky = row("reactive_share", "region", "Hidden", 0.5, 12)
    sneaky["n"] = 7  # figures present, suppressed False, but n under the threshold
    measures = pd.concat([measures, pd.DataFrame([sneaky])], ignore_index=True)
    comparisons.loc[0, "n_a"] = 4
    ms = read_measures(write_measures(tmp_path / "m", measures=measures, comparisons=comparisons))
    hidden = ms.rows("reactive_share", by="region").set_index("group").loc["Hidden"]
    assert hidden["suppressed"] and np.isnan(hidden["estimate"]) and np.isnan(hidden["raw_upper"])
    assert ms.comparisons.loc[0, "suppressed"] and np.isnan(ms.comparisons.loc[0, "difference"])
    # Tiny Region's 3 delay events are dropped; Wales (12) and overall stay.
    assert "Tiny Region" not in set(ms.delays["group"])
    assert {"all", "Wales"} <= set(ms.delays["group"])


def test_threshold_never_below_ten_but_can_be_stricter(tmp_path):
    loose = {**SUMMARY, "settings": {**SUMMARY["settings"], "suppression_threshold": 3}}
    folder = write_measures(tmp_path / "m", summary=loose)
    assert read_measures(folder).threshold == 10
    strict = read_measures(folder, threshold=100)
    assert strict.threshold == 100
    assert (
        strict.rows("reactive_share", by="region")
        .set_index("group")
        .loc["North East", "suppressed"]
    )
    assert not strict.rows("reactive_share").iloc[0]["suppressed"]  # n = 455


def test_missing_measures_table_names_the_file(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportInputError, match=r"measures\.parquet"):
        read_measures(tmp_path / "empty")
    with pytest.raises(ReportInputError, match="does not exist"):
        read_measures(tmp_path / "nowhere")


def test_missing_column_names_file_and_column(tmp_path):
    measures, _, _ = make_measures()
    folder = write_measures(tmp_path / "m", measures=measures.drop(columns=["raw_lower"]))
    with pytest.raises(ReportInputError, match=r"measures\.parquet.*'raw_lower'"):
        read_measures(folder)


def test_non_numeric_estimate_is_an_input_error(tmp_path):
    folder = write_measures(tmp_path / "m")
    (folder / "measures.parquet").unlink()  # a hand-edited CSV twin is what gets read
    measures = pd.read_csv(folder / "measures.csv", dtype={"estimate": object})
    measures.loc[3, "estimate"] = "lots"
    measures.to_csv(folder / "measures.csv", index=False)
    with pytest.raises(ReportInputError, match="row 3.*'estimate'"):
        read_measures(folder)


def test_csv_twins_and_optional_files(tmp_path):
    folder = write_measures(tmp_path / "m")
    (folder / "measures.parquet").unlink()
    (folder / "comparisons.parquet").unlink()
    (folder / "comparisons.csv").unlink()
    (folder / "delays.parquet").unlink()
    (folder / "measures.json").unlink()
    ms = read_measures(folder)
    assert ms.measures["adjusted"].dtype == bool
    assert (
        ms.rows("reactive_share", by="region").set_index("group").loc["Tiny Region", "suppressed"]
    )
    assert ms.comparisons.empty and ms.delays.empty and ms.summary == {}
    assert ms.missing == ["measures.json", "comparisons.parquet", "delays.parquet"]


def test_broken_summary_json(tmp_path):
    folder = write_measures(tmp_path / "m")
    (folder / "measures.json").write_text("{not json", "utf-8")
    with pytest.raises(ReportInputError, match=r"measures\.json"):
        read_measures(folder)
    (folder / "measures.json").write_text(json.dumps([1, 2]), "utf-8")
    with pytest.raises(ReportInputError, match="JSON object"):
        read_measures(folder)


@pytest.mark.parametrize("column", ["group", "category"])
def test_a_case_reference_as_a_group_is_refused(tmp_path, column):
    measures, _, _ = make_measures()
    measures.loc[5, column] = "X123456"
    folder = write_measures(tmp_path / "m", measures=measures)
    with pytest.raises(ReportPrivacyError, match=column) as info:
        read_measures(folder)
    assert "X123456" not in str(info.value)  # the error names the column, never the value


def test_a_case_reference_in_delays_is_refused(tmp_path):
    _, _, delays = make_measures()
    delays.loc[len(delays)] = {"by": "case", "group": "A654321", "delay_days": 1, "count": 20}
    with pytest.raises(ReportPrivacyError):
        read_measures(write_measures(tmp_path / "m", delays=delays))
