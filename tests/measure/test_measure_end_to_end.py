"""`oversight measure` end to end on a small synthetic export, and the validity acceptance:
adjusted measures from model predictions cover the generator's true parameters."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.measure import MEASURES, MeasureSettings, measure
from pipeline.measure.io import COMPARISONS_SCHEMA, DELAYS_SCHEMA, MEASURES_SCHEMA
from pipeline.measure.validity import coverage_table, load_truth

runner = CliRunner()


def test_cli_writes_the_contract(measured_world, tmp_path):
    w = measured_world
    out = tmp_path / "measures"
    result = runner.invoke(
        app,
        [
            "measure", str(w["scored"]), "--export", str(w["export"]), "--out", str(out),
            "--validation", str(w["metrics"]), "--initiator-validation", str(w["initiator"]),
            "--by", "region,pdu,team,rosh,month", "--compare", "region=Wales",
            "--compare-periods", "2023-01:2023-12,2024-01:2024-12", "--bootstrap", "100",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "reactive_share" in result.output
    assert pq.read_schema(out / "measures.parquet").names == MEASURES_SCHEMA.names
    assert pq.read_schema(out / "comparisons.parquet").names == COMPARISONS_SCHEMA.names
    assert pq.read_schema(out / "delays.parquet").names == DELAYS_SCHEMA.names
    m = pd.read_parquet(out / "measures.parquet")
    assert set(m["measure"]) == set(MEASURES)
    assert set(m["by"]) == {"overall", "region", "pdu", "team", "rosh_level", "month"}
    assert m["group"].str.match(r"^[A-Z]\d{6}$").sum() == 0  # no case identifiers
    shown = m.loc[~m["suppressed"]]
    assert ((shown["lower"] <= shown["estimate"]) & (shown["estimate"] <= shown["upper"])).all()
    assert (
        m.loc[m["suppressed"], "estimate"].isna().all() and (m.loc[m["suppressed"], "n"] < 10).all()
    )
    assert pd.read_csv(out / "measures.csv").shape[0] == len(m)
    c = pd.read_parquet(out / "comparisons.parquet")
    assert set(c["comparison"]) == {
        "region: Wales vs others",
        "period: 2023-01..2023-12 vs 2024-01..2024-12",
    }
    wales = c.loc[(c["measure"] == "defensive_share") & c["category"].isna()].iloc[0]
    assert wales["difference"] < 0 and wales["upper"] < 0  # Wales' culture is less defensive
    d = pd.read_parquet(out / "delays.parquet")
    assert d["delay_days"].dropna().between(0, 30).all() and (d["count"] > 0).all()
    assert d["delay_days"].isna().any()  # events without a response
    s = json.loads((out / "measures.json").read_text())
    assert {
        "generated",
        "inputs",
        "model",
        "settings",
        "definitions",
        "headline",
        "limitations",
    } <= set(s)
    assert s["settings"]["response_window_days"] == 5 and s["settings"]["bootstrap"] == 100
    assert set(s["model"]["validation"]) == {"oversight_type", "content", "initiated_by"}
    assert set(s["definitions"]) == set(MEASURES)
    assert all(h["adjusted"] for h in s["headline"] if h["measure"] == "reactive_share")
    # only aggregates leave the step: no note text, CRN or contact id in any output
    crns = set(pd.read_parquet(w["export"], columns=["crn"])["crn"])
    blob = "".join(p.read_text(errors="ignore") for p in out.glob("*.csv")) + json.dumps(s)
    assert not any(crn in blob for crn in list(crns)[:200])


def test_cli_reports_bad_options_cleanly(measured_world, tmp_path):
    result = runner.invoke(
        app, ["measure", str(measured_world["scored"]), "--by", "postcode", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0 and "postcode" in result.output
    result = runner.invoke(app, ["measure", str(tmp_path / "nope.parquet"), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "nope.parquet" in result.output


def test_adjusted_measures_cover_the_true_parameters(measured_world, tmp_path):
    """The acceptance: at least 90% of (region, measure) pairs covered by the adjusted 95%
    intervals (suppressed groups aside). The full-size figure is in docs/benchmarks.md."""
    w = measured_world
    result = measure(
        w["scored"],
        exports=[w["export"]],
        out_dir=tmp_path,
        by="region",
        validation=w["metrics"],
        initiator_validation=w["initiator"],
        settings=MeasureSettings(n_boot=300),
        csv=False,
    )
    table = coverage_table(result.measures, load_truth(w["truth"]))
    pairs = table.loc[table["kind"] == "parameter"]
    assert len(pairs) >= 60
    assert set(pairs["measure"]) >= {
        "reactive_share", "defensive_share", "coverage_substantive",
        "quarterly_review_high_rosh", "response_within_days", "catch_all_share",
    }  # fmt: skip
    assert pairs["covered"].mean() >= 0.9, pairs.loc[~pairs["covered"]].to_string()
