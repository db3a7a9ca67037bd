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


BENCHMARKS = {"synth": bench_synth}


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
