"""The `oversight` command line: one sub-command per pipeline step.

The CLI only parses arguments, calls one step and reports; no step imports it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pipeline import __version__, config
from pipeline.errors import OversightError

app = typer.Typer(
    name="oversight",
    help=(
        "Measure management oversight in nDelius probation case notes.\n\n"
        "Steps, in the order data flows: synth (make a synthetic export) -> prepare -> "
        "train -> evaluate -> score -> measure -> report. Each command's --help explains it."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"oversight-nlp {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """oversight-nlp command line."""


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        disable=not sys.stderr.isatty(),
    )


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=2)


_SYNTH = config.params("synth")


@app.command()
def synth(
    cases: Annotated[
        int, typer.Option("--cases", "-n", min=1, help="Number of cases (people on probation).")
    ] = _SYNTH.get("cases", 300),
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same export.")] = (
        _SYNTH.get("seed", 7)
    ),
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="Export shape: csv | jsonl | parquet | delius-json."),
    ] = _SYNTH.get("format", "csv"),
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = (
        config.DEMO_EXPORT_DIR
    ),
    noise_rate: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.49, help="Share of oversight labels flipped (annotator error)."
        ),
    ] = _SYNTH.get("noise_rate", 0.03),
    workers: Annotated[
        int | None, typer.Option(min=1, help="Processes to use (default: up to 2).")
    ] = None,
) -> None:
    """Write a synthetic nDelius contact export with ground truth kept beside it.

    The export (export.csv / export.jsonl / export.parquet / delius/*.json) looks like a real one;
    labels.parquet (oversight type, content, initiator, attributes, PII spans per contact),
    cases.parquet and manifest.json (the true culture parameters per region) hold the truth.

    Example: oversight synth --cases 1000 --seed 1 --format parquet --out data/raw/synth
    """
    from pipeline.synth import generate, write_synth
    from pipeline.synth.writers import FORMATS

    if fmt not in FORMATS:
        raise _fail(ValueError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}"))
    try:
        with _progress() as progress:
            task = progress.add_task("generating cases", total=cases)
            result = generate(
                cases,
                seed=seed,
                noise_rate=noise_rate,
                workers=workers,
                progress=lambda n: progress.advance(task, n),
            )
            progress.add_task(f"writing {fmt}", total=None)
            paths = write_synth(result, out, fmt=fmt)
    except (OversightError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    _print_summary(result)
    for name, path in paths.items():
        console.print(f"  {name:9s} {path}")


def _print_summary(result) -> None:
    counts = result.manifest["counts"]
    table = Table(title="synthetic export", show_header=False)
    for key in ("cases", "contacts", "oversight_entries", "empty_notes", "label_flipped"):
        table.add_row(key.replace("_", " "), f"{counts[key]:,}")
    table.add_row("catch-all share (MO1/C002)", f"{counts['catch_all_share']:.1%}")
    console.print(table)
    pop = result.manifest["population"]
    t = Table(title="culture by region (ground truth)")
    for col in ("region", "entries", "reactive", "defensive", "responded <=5d"):
        t.add_column(col, justify="right" if col != "region" else "left")
    for region, m in pop.items():
        r5 = m["responded_within_5_days"]
        t.add_row(
            region,
            f"{m['oversight_entries']:,}",
            f"{m['reactive_share']:.0%}",
            f"{m['defensive_share']:.0%}",
            "-" if r5 is None else f"{r5:.0%}",
        )
    console.print(t)


_PREPARE = config.params("prepare")


@app.command()
def prepare(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Export files or folders: .csv, .jsonl, .parquet, .xlsx, Delius .json.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = config.INTERIM_DIR,
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML column-mapping file for an export with its own headers."),
    ] = None,
    chunk_rows: Annotated[
        int, typer.Option(min=1, help="Rows per chunk: bounds memory whatever the input size.")
    ] = _PREPARE.get("chunk_rows", 50_000),
    max_notes_chars: Annotated[
        int, typer.Option(min=1, help="Longer notes are quarantined.")
    ] = _PREPARE.get("max_notes_chars", 20_000),
    workers: Annotated[
        int, typer.Option(min=1, help="Processes for the spaCy pipeline.")
    ] = _PREPARE.get("workers", 1),
) -> None:
    """Turn raw exports into the entries table: one row per management-oversight entry.

    Reads every input in chunks, quarantines rows it cannot use (with file, row, field and
    reason), finds the oversight entries (by contact type code, or by what the text says), redacts
    personal data and extracts attributes (initiator, SBAR, rationale, action with owner,
    timescale, risk factors, retrospective sign-off). Writes entries.parquet, quarantine.parquet
    and prepare_summary.json; rows in = entries + non-oversight contacts + quarantined.

    Example: oversight prepare data/raw/synth/export.csv --out data/interim
    """
    from pipeline.prepare import prepare as run_prepare

    try:
        with _progress() as progress:
            task = progress.add_task("preparing contacts", total=None)
            summary = run_prepare(
                inputs,
                out_dir=out,
                mapping=mapping,
                chunk_rows=chunk_rows,
                max_notes_chars=max_notes_chars,
                n_process=workers,
                progress=lambda n: progress.advance(task, n),
            )
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    table = Table(title="prepare", show_header=False)
    table.add_row("rows in", f"{summary.rows_in:,}")
    table.add_row("oversight entries", f"{summary.entries_out:,}")
    table.add_row("non-oversight contacts", f"{summary.non_oversight:,}")
    table.add_row("quarantined", f"{summary.quarantined:,}")
    for reason, n in summary.quarantined_by_reason.items():
        table.add_row(f"  {reason}", f"{n:,}")
    table.add_row("empty notes", f"{summary.empty_notes:,}")
    table.add_row("rows per second", f"{summary.rows_per_second:,.0f}")
    console.print(table)
    for name, path in summary.outputs.items():
        console.print(f"  {name:14s} {path}")


_TRAIN = config.params("train")
_EVALUATE = config.params("evaluate")


def _model_params(model: str, config_file: Path | None) -> dict:
    """Model parameters: params.yaml `models.<name>`, overridden by an experiments/*.yaml file."""
    import yaml

    params = dict(config.params("models").get(model) or {})
    if config_file is not None:
        try:
            data = yaml.safe_load(config_file.read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise _fail(ValueError(f"cannot read {config_file}: {exc}")) from None
        params.update(data.get("params", data) if isinstance(data, dict) else {})
    return params


def _print_metrics(metrics: dict, title: str) -> None:
    table = Table(title=title)
    for col in ("head", "n", "macro-F1", "95% interval", "accuracy", "ECE"):
        table.add_column(col, justify="left" if col == "head" else "right")
    for head, m in metrics.items():
        ci = m["macro_f1_ci"]
        table.add_row(
            head,
            f"{m['n']:,}",
            f"{m['macro_f1']:.3f}",
            f"{ci['low']:.3f}-{ci['high']:.3f}",
            f"{m['accuracy']:.3f}",
            f"{m['ece']:.3f}",
        )
    console.print(table)


@app.command()
def train(
    data: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Labelled sources: generator folders, labelled CSV/JSONL/Parquet files, "
            "Label Studio JSON exports. Default: params.yaml train.data.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[str, typer.Option(help="Model kind: baseline | transformer.")] = _TRAIN.get(
        "model", "baseline"
    ),
    model_config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML of model parameters (e.g. experiments/baseline.yaml)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Model folder (default models/<model>).")
    ] = None,
    reports: Annotated[
        Path | None,
        typer.Option(help="Folder for the held-out metrics and plots (default <out>/evaluation)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the case-grouped split.")] = _TRAIN.get(
        "seed", 0
    ),
    validation_size: Annotated[float, typer.Option(min=0.0, max=0.9)] = _TRAIN.get(
        "validation_size", 0.1
    ),
    test_size: Annotated[float, typer.Option(min=0.0, max=0.9)] = _TRAIN.get("test_size", 0.2),
    clean_labels: Annotated[
        bool, typer.Option(help="Train on the generator's clean labels, not the annotated ones.")
    ] = _TRAIN.get("clean_labels", False),
    track: Annotated[bool, typer.Option(help="Record an MLflow run.")] = True,
    register: Annotated[
        bool, typer.Option(help="Register the model and point the 'champion' alias at it.")
    ] = True,
) -> None:
    """Train a classifier (both heads: oversight_type and content) and record it in MLflow.

    Loads and redacts the labelled data, splits it by case (no CRN straddles two splits), fits
    the model, evaluates it on the held-out test split (macro-F1 with a bootstrap 95% interval,
    per-class scores, confusion matrices, reliability diagrams, ECE), saves it under models/, and
    logs the run, the pyfunc model and the registry alias `champion` (models:/oversight@champion).

    Example: oversight train data/raw/synth --model baseline
    """
    from pipeline.experiments import train as run_train

    sources = data or [Path(_TRAIN.get("data", config.DEMO_EXPORT_DIR))]
    params = _model_params(model, model_config)
    try:
        with console.status("training") as status:
            result = run_train(
                sources,
                model=model,
                model_params=params,
                out_dir=out,
                report_dir=reports,
                seed=seed,
                validation_size=validation_size,
                test_size=test_size,
                clean_labels=clean_labels,
                track=track,
                register=register,
                status=lambda msg: status.update(msg),
            )
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    _print_metrics(result.metrics, f"{model}: held-out test split ({result.n_eval:,} entries)")
    console.print(f"trained on {result.n_train:,} entries in {result.seconds:.1f} s")
    console.print(f"  model      {result.model_dir}")
    console.print(f"  plots      {Path(result.outputs['metrics']).parent}")
    if result.registered and result.registered.get("version"):
        r = result.registered
        console.print(
            f"  registered models:/{r['registered_name']}@{r.get('alias')} (version {r['version']})"
        )
    if result.run_id:
        console.print(f"  MLflow run {result.run_id} (make mlflow-ui)")


@app.command()
def evaluate(
    model: Annotated[
        str,
        typer.Argument(help="A model folder or URI (models:/oversight@champion, runs:/ID/model)."),
    ] = _EVALUATE.get("model", "models:/oversight@champion"),
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            "-d",
            help="External labelled sources to evaluate on (repeatable); default: the model's "
            "held-out split.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for metrics and plots.")] = Path(
        _EVALUATE.get("out", config.PROCESSED_DIR / "evaluation")
    ),
    clean_labels: Annotated[bool, typer.Option(help="Use a generator's clean labels.")] = False,
    track: Annotated[bool, typer.Option(help="Record an MLflow run.")] = True,
) -> None:
    """Evaluate a model on its held-out split or on any external labelled data.

    Writes metrics.json (macro-F1 with bootstrap 95% intervals by entry and by case, accuracy,
    ECE, confusion matrices, per-class scores), per_class.csv, reliability.csv, errors.csv
    (redacted text only, the most confident mistakes first) and PNG confusion matrices and
    reliability diagrams; records an MLflow run.

    Example: oversight evaluate models:/oversight@champion --data data/raw/synth-eval
    """
    from pipeline.experiments import evaluate as run_evaluate

    try:
        with console.status("evaluating"):
            result = run_evaluate(
                model, sources=data, out_dir=out, clean_labels=clean_labels, track=track
            )
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    what = "external data" if data else "held-out split"
    _print_metrics(result.metrics, f"{model}: {what} ({result.n_eval:,} entries)")
    for name, path in result.outputs.items():
        console.print(f"  {name:26s} {path}")


_SCORE = config.params("score")


@app.command()
def score(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Export files or folders (any format prepare reads).", show_default=False
        ),
    ],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Model folder or MLflow URI.")
    ] = _SCORE.get("model", "models:/oversight@champion"),
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = config.PROCESSED_DIR,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    chunk_rows: Annotated[
        int, typer.Option(min=1, help="Rows per chunk: the unit of progress and of --resume.")
    ] = _SCORE.get("chunk_rows", 20_000),
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted run from its last chunk.")
    ] = False,
    mapping: Annotated[Path | None, typer.Option(help="YAML column-mapping file.")] = None,
    explain: Annotated[
        bool, typer.Option("--explain/--no-explain", help="Add the top features behind each label.")
    ] = True,
    engine: Annotated[
        str,
        typer.Option(
            help="local (streaming, resumable) or spark (a Parquet export, Spark DataFrame)."
        ),
    ] = "local",
) -> None:
    """Batch-score exports: every oversight entry with its labels, probabilities and why.

    One streaming pass: read, validate and quarantine, detect, redact, extract attributes,
    classify with the model, explain. Writes scored.parquet (or .csv), the quarantine file and
    score_summary.json (counts, label distribution, model version, input fingerprint). Outputs
    appear atomically; a killed run continues with --resume; re-running a finished run on the
    same input and model does nothing.

    With --engine spark the same preprocessing and model run on a Spark DataFrame
    (mapInPandas) over a Parquet export, writing Parquet; on a cluster use spark-submit with
    pipeline/score/spark.py (see its docstring).

    Example: oversight score data/raw/synth/export.csv --model models:/oversight@champion
    """
    import time

    from pipeline.score import score as run_score

    if engine not in ("local", "spark"):
        raise _fail(ValueError(f"unknown --engine {engine!r}; choose local or spark"))
    if engine == "spark":
        from pipeline.score.spark import score_spark

        if len(inputs) != 1:
            raise _fail(ValueError("--engine spark takes one Parquet file or folder"))
        try:
            with console.status("scoring on Spark"):
                result = score_spark(inputs[0], model=model, out_dir=out, explain=explain)
        except (OversightError, OSError) as exc:
            raise _fail(exc) from None
        if result["noop"]:
            console.print(
                f"nothing to do: {out} already holds this input scored by "
                f"{result['model_version']}"
            )
            return
        console.print(
            f"spark: {result['rows_in']:,} rows in = {result['entries_out']:,} entries + "
            f"{result['non_oversight']:,} other contacts + {result['quarantined']:,} "
            f"quarantined; scored by {result['model_version']} in {result['seconds']:.1f} s"
        )
        for name, path in result["outputs"].items():
            console.print(f"  {name:14s} {path}")
        return
    try:
        with _progress() as progress:
            task = progress.add_task("scoring contacts", total=None)
            start, done = time.perf_counter(), [0]

            def tick(n: int) -> None:
                done[0] += n
                rate = done[0] / max(time.perf_counter() - start, 1e-9)
                progress.update(
                    task, advance=n, description=f"scoring contacts ({rate:,.0f} rows/s)"
                )

            summary = run_score(
                inputs,
                model=model,
                out_dir=out,
                fmt=fmt,
                chunk_rows=chunk_rows,
                resume=resume,
                mapping=mapping,
                progress=tick,
                explain=explain,
            )
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    if summary.noop:
        console.print(
            f"nothing to do: {out} already holds this input scored by {summary.model_version}"
        )
        return
    table = Table(title="score", show_header=False)
    for key, value in (
        ("rows in", summary.rows_in),
        ("oversight entries", summary.entries_out),
        ("non-oversight contacts", summary.non_oversight),
        ("quarantined", summary.quarantined),
        ("chunks resumed", summary.chunks_resumed),
    ):
        table.add_row(key, f"{value:,}")
    for head, dist in summary.label_distribution.items():
        table.add_row(head, ", ".join(f"{k} {v:,}" for k, v in dist.items()))
    table.add_row("model", str(summary.model_version))
    table.add_row("rows per second", f"{summary.rows_per_second:,.0f}")
    console.print(table)
    for name, path in summary.outputs.items():
        console.print(f"  {name:14s} {path}")


@app.command()
def demo(
    cases: Annotated[
        int, typer.Option("--cases", "-n", min=1, help="Cases in the demo export.")
    ] = (_SYNTH.get("cases", 300)),
    seed: Annotated[int, typer.Option(help="Random seed.")] = _SYNTH.get("seed", 7),
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo export.")] = (
        config.DEMO_EXPORT_DIR
    ),
    interim: Annotated[Path, typer.Option(help="Folder for the entries table.")] = (
        config.INTERIM_DIR
    ),
) -> None:
    """Run the main job end to end on the embedded synthetic export and say where outputs are.

    Generates the export (CSV, as Excel saves it) with its ground truth, summarises it,
    prepares the entries table and checks detection against the truth, trains and registers the
    baseline (tracked in MLflow), and evaluates it on an independent export of another seed.

    Example: oversight demo --cases 300 --seed 7
    """
    import pandas as pd

    from pipeline.prepare import prepare as run_prepare
    from pipeline.synth import generate, write_synth
    from pipeline.synth.summary import summarise

    with _progress() as progress:
        task = progress.add_task("generating cases", total=cases)
        result = generate(cases, seed=seed, progress=lambda n: progress.advance(task, n))
    paths = write_synth(result, out, fmt="csv")
    summary = summarise(result.export, result.labels)
    summary_path = Path(out) / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", "utf-8")
    _print_summary(result)
    v = summary["variety"]
    console.print(
        f"oversight text variety: {v['all_oversight']['unique_share']:.1%} unique entries, "
        f"{v['all_oversight']['distinct_4grams']:,} distinct word 4-grams"
    )

    with _progress() as progress:
        task = progress.add_task("preparing contacts", total=len(result.export))
        prepared = run_prepare(
            [paths["export"]], out_dir=interim, progress=lambda n: progress.advance(task, n)
        )
    entries = pd.read_parquet(prepared.outputs["entries"], columns=["contact_id"])
    truth = set(result.labels.loc[result.labels["is_oversight"], "contact_id"])
    found = set(entries["contact_id"])
    f1 = 2 * len(found & truth) / (len(found) + len(truth)) if found or truth else 1.0
    console.print(
        f"prepare: {prepared.rows_in:,} rows in = {prepared.entries_out:,} entries + "
        f"{prepared.non_oversight:,} other contacts + {prepared.quarantined:,} quarantined; "
        f"oversight detection F1 against the truth {f1:.3f}; "
        f"{prepared.rows_per_second:,.0f} rows/s"
    )
    from pipeline.experiments import evaluate as run_evaluate
    from pipeline.experiments import train as run_train

    model_dir = config.MODELS_DIR / "baseline"
    with console.status("training the baseline") as status:
        trained = run_train(
            [Path(out)],
            model="baseline",
            model_params=_model_params("baseline", None),
            out_dir=model_dir,
            status=lambda msg: status.update(msg),
        )
    _print_metrics(trained.metrics, f"baseline: held-out split ({trained.n_eval:,} entries)")
    eval_dir = Path(out).parent / "synth-eval"
    with console.status("evaluating on an independent export (another seed)"):
        write_synth(generate(max(50, cases // 2), seed=seed + 1), eval_dir, fmt="parquet")
        external = run_evaluate(
            model_dir, sources=[eval_dir], out_dir=config.PROCESSED_DIR / "evaluation"
        )
    _print_metrics(
        external.metrics, f"baseline: export seed {seed + 1} ({external.n_eval:,} entries)"
    )
    console.print("[bold]outputs[/bold]")
    outputs = {
        **paths,
        "synth summary": str(summary_path),
        **prepared.outputs,
        "model": str(model_dir),
        "evaluation": str(config.PROCESSED_DIR / "evaluation"),
        "mlflow": "experiments/mlflow.db (make mlflow-ui)",
    }
    for name, path in outputs.items():
        console.print(f"  {name:14s} {path}")


if __name__ == "__main__":  # pragma: no cover
    app()
