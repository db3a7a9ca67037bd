"""Benchmarks behind the speed and memory targets (`make bench`); figures go in docs/benchmarks.md.

Each benchmark runs the real command in a subprocess on this machine and reports wall time,
peak memory and the target it is held to. Not a test: timings depend on the machine.

    python benchmarks/run.py               # all benchmarks
    python benchmarks/run.py synth --cases 2000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of the largest process the command started."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def bench_synth(cases: int) -> dict:
    """`oversight synth --cases N` writes a complete CSV export: target under 60 s at 10,000."""
    with tempfile.TemporaryDirectory() as tmp:
        wall, peak = _run(
            [
                str(BIN / "oversight"),
                "synth",
                "--cases",
                str(cases),
                "--seed",
                "1",
                "--format",
                "csv",
                "--out",
                tmp,
            ]
        )
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())
        size = (Path(tmp) / "export.csv").stat().st_size
    counts = manifest["counts"]
    return {
        "benchmark": "synth",
        "command": f"oversight synth --cases {cases} --seed 1 --format csv",
        "cases": cases,
        "contacts": counts["contacts"],
        "oversight_entries": counts["oversight_entries"],
        "contacts_per_case": round(counts["contacts"] / cases, 1),
        "export_mib": round(size / 2**20, 1),
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(peak),
        "target": "wall_s < 60 at 10,000 cases",
        "met": wall < 60 if cases >= 10_000 else None,
    }


CACHE = Path(tempfile.gettempdir()) / "oversight-bench"


def _synth_cached(cases: int, seed: int, fmt: str = "parquet") -> Path:
    """A synthetic export reused across benchmarks (generation is benchmarked on its own)."""
    folder = CACHE / f"synth-{cases}-seed{seed}-{fmt}"
    if not (folder / "manifest.json").exists():
        subprocess.run(
            [
                str(BIN / "oversight"),
                "synth",
                "--cases",
                str(cases),
                "--seed",
                str(seed),
                "--format",
                fmt,
                "--out",
                str(folder),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return folder


_TRAIN_SNIPPET = """
import json, sys, time
from pipeline.datasets import load_synth
from pipeline.classify import make_model
from pipeline.evaluate import evaluate_model, metrics_dict
train = load_synth(sys.argv[1], n_jobs=2).sample(n=int(sys.argv[3]), random_state=0)
test = load_synth(sys.argv[2], n_jobs=2)
t = time.perf_counter()
model = make_model("baseline").fit(train.text, train.oversight_type, train.content)
fit = time.perf_counter() - t
m = metrics_dict(evaluate_model(model, test.reset_index(drop=True)))
print(json.dumps({"fit_s": fit, "n_test": len(test), **{
    h: {"macro_f1": v["macro_f1"], "ci": [v["macro_f1_ci"]["low"], v["macro_f1_ci"]["high"]],
        "ece": v["ece"]} for h, v in m.items()}}))
"""


def bench_train(cases: int, n_train: int = 50_000) -> dict:
    """The baseline fits on 50,000 labelled entries: target under 60 s; cross-seed macro-F1."""
    train_dir = _synth_cached(max(cases, 10_000), 1)
    test_dir = _synth_cached(3_000, 2)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, "-c", _TRAIN_SNIPPET, str(train_dir), str(test_dir), str(n_train)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "benchmark": "train",
        "command": "baseline fit on 50,000 entries of synth seed 1; test on synth seed 2 (3,000 cases)",
        "n_train": n_train,
        "fit_s": round(res["fit_s"], 1),
        "peak_rss_mib": round(peak),
        "test": {k: v for k, v in res.items() if k not in ("fit_s",)},
        "target": "fit_s < 60; macro-F1 >= 0.90 on both heads",
        "met": res["fit_s"] < 60
        and res["oversight_type"]["macro_f1"] >= 0.9
        and res["content"]["macro_f1"] >= 0.9,
    }


_SCORE_SNIPPET = """
import json, sys, tempfile, time
import pandas as pd
from pipeline.classify import make_model
from pipeline.datasets import load_synth
from pipeline.nlp import get_nlp
from pipeline.score import score
train = load_synth(sys.argv[2])
model = make_model("baseline", min_df=2).fit(train.text, train.oversight_type, train.content)
with tempfile.TemporaryDirectory() as tmp:
    model.save(tmp + "/model")
    t = time.perf_counter()
    s = score(sys.argv[1], model=tmp + "/model", out_dir=tmp + "/out")
    engine_s = time.perf_counter() - t
    t = time.perf_counter()
    score(sys.argv[1], model=tmp + "/model", out_dir=tmp + "/out2", explain=False)
    no_explain_s = time.perf_counter() - t
sample = pd.read_parquet(sys.argv[1]).sample(n=int(sys.argv[3]), random_state=0)
nlp = get_nlp()
def naive(row):
    doc = nlp(row["notes"] if isinstance(row["notes"], str) else "")
    if not doc._.is_oversight:
        return None
    return model.predict([doc._.redacted or ""]).iloc[0]["oversight_type"]
t = time.perf_counter()
sample.apply(naive, axis=1)
naive_s = time.perf_counter() - t
print(json.dumps({"rows_in": s.rows_in, "entries": s.entries_out, "engine_s": engine_s,
                  "no_explain_s": no_explain_s, "naive_rows": len(sample), "naive_s": naive_s}))
"""


def bench_score(cases: int, naive_rows: int = 2_000) -> dict:
    """`score` with the baseline, end to end (read, detect, redact, classify, explain, write),
    against the naive approach (pandas apply: nlp(text) and predict per row) on a sample.
    Targets: >= 10,000 contacts/s and >= 10x the naive approach."""
    export = _synth_cached(cases, 1) / "export.parquet"
    train_dir = _synth_cached(300, 3)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, "-c", _SCORE_SNIPPET, str(export), str(train_dir), str(naive_rows)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    engine = res["rows_in"] / res["engine_s"]
    naive = res["naive_rows"] / res["naive_s"]
    return {
        "benchmark": "score",
        "command": f"score synth seed 1 ({cases:,} cases) with a baseline; naive on {naive_rows:,}",
        "contacts": res["rows_in"],
        "entries": res["entries"],
        "engine_s": round(res["engine_s"], 1),
        "contacts_per_s": round(engine),
        "contacts_per_s_no_explain": round(res["rows_in"] / res["no_explain_s"]),
        "naive_contacts_per_s": round(naive, 1),
        "speedup_vs_naive": round(engine / naive, 1),
        "peak_rss_mib": round(peak),
        "target": "contacts_per_s >= 10,000; speedup_vs_naive >= 10",
        "met": engine >= 10_000 and engine / naive >= 10,
    }


BENCHMARKS = {"synth": bench_synth, "train": bench_train, "score": bench_score}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    names = args.names or list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    results = []
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    for name in names:
        res = BENCHMARKS[name](args.cases)
        results.append(res)
        print(json.dumps(res, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
