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
    wall, peak, _cpu = _run_cpu(cmd)
    return wall, peak


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_cpu(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) of the largest process, and CPU seconds of the command and
    every process it started (workers included: their time is counted once they are reaped)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cpu = _cpu_children()
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024, _cpu_children() - cpu


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


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def bench_prepare(cases: int, workers: int = 2) -> dict:
    """`oversight prepare` on a Parquet export, end to end (read, validate, detect, redact,
    describe, write): target >= 10,000 contacts/s on the 2-core machine (CPU per contact is
    the figure to steer by when other jobs share the cores)."""
    export = _synth_cached(cases, 1) / "export.parquet"
    with tempfile.TemporaryDirectory() as tmp:
        load = _load()
        wall, peak, cpu = _run_in_fresh_process(
            [
                str(BIN / "oversight"),
                "prepare",
                str(export),
                "--workers",
                str(workers),
                "--out",
                tmp,
            ]
        )
        summary = json.loads((Path(tmp) / "prepare_summary.json").read_text())
    rows = summary["rows_in"]
    return {
        "benchmark": "prepare",
        "command": f"oversight prepare export.parquet --workers {workers} ({cases:,} cases)",
        "contacts": rows,
        "entries": summary["entries_out"],
        "wall_s": round(wall, 1),
        "contacts_per_s": round(rows / wall),
        "cpu_us_per_contact": round(cpu / rows * 1e6),
        "contacts_per_s_if_2_cores_free": round(2 * rows / cpu),
        "peak_rss_mib": round(peak),
        "load_average_before": load,
        "target": "contacts_per_s >= 10,000",
        "met": rows / wall >= 10_000,
    }


_SCORE_SNIPPET = """
import json, resource, sys, tempfile, time
import pandas as pd
from pipeline.classify import make_model
from pipeline.datasets import load_synth
from pipeline.nlp import get_nlp
from pipeline.score import score
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
train = load_synth(sys.argv[2])
model = make_model("baseline", min_df=2).fit(train.text, train.oversight_type, train.content)
workers = int(sys.argv[4])
with tempfile.TemporaryDirectory() as tmp:
    model.save(tmp + "/model")
    t, c = time.perf_counter(), cpu()
    s = score(sys.argv[1], model=tmp + "/model", out_dir=tmp + "/out", n_process=workers)
    engine_s, engine_cpu = time.perf_counter() - t, cpu() - c
    t = time.perf_counter()
    score(sys.argv[1], model=tmp + "/model", out_dir=tmp + "/out2", explain=False,
          n_process=workers)
    no_explain_s = time.perf_counter() - t
sample = pd.read_parquet(sys.argv[1]).sample(n=int(sys.argv[3]), random_state=0)
nlp = get_nlp()
def naive(row):
    doc = nlp(row["notes"] if isinstance(row["notes"], str) else "")
    if not doc._.is_oversight:
        return None
    return model.predict([doc._.redacted or ""]).iloc[0]["oversight_type"]
t, c = time.perf_counter(), cpu()
sample.apply(naive, axis=1)
naive_s, naive_cpu = time.perf_counter() - t, cpu() - c
print(json.dumps({"rows_in": s.rows_in, "entries": s.entries_out, "engine_s": engine_s,
                  "engine_cpu": engine_cpu, "no_explain_s": no_explain_s,
                  "naive_rows": len(sample), "naive_s": naive_s, "naive_cpu": naive_cpu}))
"""


def bench_score(cases: int, naive_rows: int = 2_000, workers: int = 2) -> dict:
    """`score` with the baseline, end to end (read, detect, redact, classify, explain, write),
    against the naive approach (pandas apply: nlp(text) and predict per row) on a sample, in
    the same run. Targets: >= 10,000 contacts/s and >= 10x the naive approach."""
    export = _synth_cached(cases, 1) / "export.parquet"
    train_dir = _synth_cached(300, 3)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    load = _load()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCORE_SNIPPET,
            str(export),
            str(train_dir),
            str(naive_rows),
            str(workers),
        ],
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
        "command": f"score synth seed 1 ({cases:,} cases, {workers} workers) with a baseline; "
        f"naive on {naive_rows:,}",
        "contacts": res["rows_in"],
        "entries": res["entries"],
        "engine_s": round(res["engine_s"], 1),
        "contacts_per_s": round(engine),
        "cpu_us_per_contact": round(res["engine_cpu"] / res["rows_in"] * 1e6),
        "contacts_per_s_if_2_cores_free": round(2 * res["rows_in"] / res["engine_cpu"]),
        "contacts_per_s_no_explain": round(res["rows_in"] / res["no_explain_s"]),
        "naive_contacts_per_s": round(naive, 1),
        "naive_cpu_us_per_contact": round(res["naive_cpu"] / res["naive_rows"] * 1e6),
        "speedup_vs_naive": round(engine / naive, 1),
        "peak_rss_mib": round(peak),
        "load_average_before": load,
        "target": "contacts_per_s >= 10,000; speedup_vs_naive >= 10",
        "met": engine >= 10_000 and engine / naive >= 10,
    }


def bench_memory(cases: int, workers: int = 2) -> dict:
    """Peak memory of `prepare` and `score` (baseline) on about 1,000,000 contacts (25,000
    cases; `--cases` is ignored): target under 1.5 GB, the largest process, workers included."""
    big = 25_000
    export = _synth_cached(big, 1) / "export.parquet"
    model_dir = CACHE / "model-baseline-seed3"
    if not (model_dir / "model.json").exists():
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pipeline.classify import make_model; "
                "from pipeline.datasets import load_synth; t = load_synth(sys.argv[1]); "
                "make_model('baseline', min_df=2).fit(t.text, t.oversight_type, t.content)"
                ".save(sys.argv[2])",
                str(_synth_cached(300, 3)),
                str(model_dir),
            ],
            check=True,
            cwd=ROOT,
        )
    figures = {}
    for step in ("prepare", "score"):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [str(BIN / "oversight"), step, str(export), "--out", tmp]
            cmd += ["--workers", str(workers)]
            if step == "score":
                cmd += ["--model", str(model_dir)]
            load = _load()
            wall, peak, cpu = _run_in_fresh_process(cmd)
            name = "prepare_summary.json" if step == "prepare" else "score_summary.json"
            rows = json.loads((Path(tmp) / name).read_text())["rows_in"]
        figures[step] = {
            "contacts": rows,
            "wall_s": round(wall, 1),
            "contacts_per_s": round(rows / wall),
            "cpu_us_per_contact": round(cpu / rows * 1e6),
            "peak_rss_mib": round(peak),
            "load_average_before": load,
        }
    return {
        "benchmark": "memory",
        "command": f"oversight prepare|score export.parquet --workers {workers} ({big:,} cases)",
        **figures,
        "target": "peak_rss_mib < 1,430 (1.5 GB) for each",
        "met": all(f["peak_rss_mib"] < 1.5e9 / 2**20 for f in figures.values()),
    }


_PEAK_SNIPPET = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": time.perf_counter() - t, "peak": u.ru_maxrss / 1024,
                  "cpu": u.ru_utime + u.ru_stime}))
"""


def _run_in_fresh_process(cmd: list[str]) -> tuple[float, float, float]:
    """:func:`_run_cpu` from a fresh parent, so the peak is this command's alone (ru_maxrss of
    RUSAGE_CHILDREN is the largest of all children ever reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_SNIPPET, *cmd],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return res["wall"], res["peak"], res["cpu"]


BENCHMARKS = {
    "synth": bench_synth,
    "train": bench_train,
    "prepare": bench_prepare,
    "score": bench_score,
    "memory": bench_memory,
}


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
