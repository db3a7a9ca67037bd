"""Validity of the culture measures (issue 6 acceptance): do the adjusted 95% intervals, computed
from model predictions, cover the generator's true culture parameters by region?

Trains a baseline on one seed, validates it on a second (the confusion the measures are adjusted
with: clean labels, and the annotated ones with the generator's 3% label noise), scores a third
seed's export, measures by region and compares with the truth of pipeline.measure.validity.
Figures go in docs/benchmarks.md ("Culture measures: validity").

    nice python benchmarks/measure_validity.py --cases 4000 --out /tmp/validity
    nice python benchmarks/measure_validity.py --cases 4000 --train-cases 60  # a weak model
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pipeline.classify import load_model, make_model
from pipeline.datasets import load_synth
from pipeline.evaluate import evaluate_model, metrics_dict
from pipeline.measure import MeasureSettings, measure
from pipeline.measure.validity import coverage_table, load_truth
from pipeline.score import score
from pipeline.synth import generate, write_synth


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=4000, help="cases in the measured export")
    ap.add_argument("--train-cases", type=int, default=3000)
    ap.add_argument("--val-cases", type=int, default=1000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/measure-validity"))
    a = ap.parse_args()
    root = a.out
    t0 = time.perf_counter()
    for name, cases, seed in (
        (f"train{a.train_cases}", a.train_cases, 1),
        (f"val{a.val_cases}", a.val_cases, 3),
        (f"meas{a.cases}", a.cases, 2),
    ):
        if not (root / name / "manifest.json").is_file():
            write_synth(generate(cases, seed=seed, workers=1), root / name, fmt="parquet")
    train, val, meas = (
        root / f"train{a.train_cases}",
        root / f"val{a.val_cases}",
        root / f"meas{a.cases}",
    )
    model_dir = root / f"model{a.train_cases}"
    if not (model_dir / "model.json").is_file():
        lab = load_synth(train)
        model = make_model("baseline", n_jobs=1)
        model.fit(lab["text"], lab["oversight_type"], lab["content"])
        model.save(model_dir)
    model = load_model(model_dir)
    metrics = {}
    for kind, clean in (("clean", True), ("annotated", False)):
        path = root / f"metrics{a.train_cases}_{kind}.json"
        if not path.is_file():
            m = metrics_dict(evaluate_model(model, load_synth(val, clean_labels=clean), n_boot=50))
            path.write_text(json.dumps(m, default=float))
        metrics[kind] = path
    scored = {}
    for name, folder in (("val", val), ("meas", meas)):
        out = root / f"scored{a.train_cases}_{name}"
        score(folder / "export.parquet", model=model_dir, out_dir=out, explain=False)
        scored[name] = out / "scored.parquet"
    truth = load_truth(meas)
    report = {"cases": a.cases, "train_cases": a.train_cases, "val_cases": a.val_cases}
    for kind, path in metrics.items():
        t = time.perf_counter()
        result = measure(
            scored["meas"],
            exports=[meas / "export.parquet"],
            out_dir=root / f"measures{a.train_cases}_{kind}",
            by="region",
            validation=path,
            initiator_validation=scored["val"],
            settings=MeasureSettings(n_boot=a.bootstrap),
        )
        secs = time.perf_counter() - t
        table = coverage_table(result.measures, truth)
        table.to_csv(root / f"coverage{a.train_cases}_{kind}.csv", index=False)
        pairs = table.loc[table["kind"] == "parameter"].copy()
        pairs["name"] = pairs["measure"] + pairs["category"].map(lambda c: f":{c}" if c else "")
        by_measure = pairs.groupby("name")[["covered", "raw_covered"]].mean().round(3)
        report[kind] = {
            "validation_accuracy": json.loads(path.read_text())["content"]["accuracy"],
            "pairs": len(pairs),
            "adjusted_coverage": round(float(pairs["covered"].mean()), 3),
            "raw_coverage": round(float(pairs["raw_covered"].mean()), 3),
            "by_measure": by_measure.to_dict("index"),
            "measure_seconds_by_region": round(secs, 1),
        }
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
