"""Fine-tune and time the transformer on a GPU machine, from pre-redacted Parquet splits.

The GPU machine has no spaCy and no network, so the texts are redacted here first
(`pipeline.datasets.load_synth`) and written as Parquet with `text`, `oversight_type`, `content`;
this script fine-tunes the registered "transformer" model on one file, scores the other, and
writes metrics.json (macro-F1 per head, training and inference throughput).

    python benchmarks/transformer_gpu.py --train train.parquet --eval eval.parquet \
        --checkpoint minilm/ --out results/ --epochs 3 --batch-size 64
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
import torch
from sklearn.metrics import accuracy_score, f1_score

from pipeline.classify import make_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train", type=Path, required=True)
    p.add_argument("--eval", type=Path, required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--epochs", type=float, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--max-train", type=int, default=None)
    p.add_argument("--validation", type=int, default=2000, help="rows of train held out")
    args = p.parse_args()
    train = pd.read_parquet(args.train).sample(frac=1.0, random_state=0)
    if args.max_train:
        train = train.head(args.max_train + args.validation)
    val, train = train.head(args.validation), train.iloc[args.validation :]
    test = pd.read_parquet(args.eval)
    model = make_model(
        "transformer",
        checkpoint=args.checkpoint,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_length=args.max_length,
        progress=False,
    )
    t0 = time.perf_counter()
    model.fit(
        train["text"].tolist(),
        train["oversight_type"].tolist(),
        train["content"].tolist(),
        eval_set=(val["text"].tolist(), val["oversight_type"].tolist(), val["content"].tolist()),
    )
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    pred = model.predict(test["text"].tolist())
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    infer_s = time.perf_counter() - t1
    metrics = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "n_train": len(train),
        "n_validation": len(val),
        "n_eval": len(test),
        "epochs_requested": args.epochs,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "history": getattr(model, "history_", None),
        "fit_seconds": round(fit_s, 1),
        "train_examples_per_second": round(len(train) * args.epochs / fit_s, 1),
        "inference_seconds": round(infer_s, 2),
        "inference_examples_per_second": round(len(test) / infer_s, 1),
    }
    for head in ("oversight_type", "content"):
        metrics[f"{head}_macro_f1"] = round(f1_score(test[head], pred[head], average="macro"), 4)
        metrics[f"{head}_accuracy"] = round(accuracy_score(test[head], pred[head]), 4)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n")
    print(json.dumps(metrics, indent=2, default=str))


if __name__ == "__main__":
    main()
