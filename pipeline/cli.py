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
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Local engine: processes that detect, redact and classify (inputs of 20,000 "
            "rows or more; the output is the same).",
        ),
    ] = _SCORE.get("workers", 1),
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

    Example: oversight score data/raw/synth/export.csv --model models:/oversight@champion --workers 2
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
                f"nothing to do: {out} already holds this input scored by {result['model_version']}"
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
                n_process=workers,
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


_MEASURE = config.params("measure")


@app.command()
def measure(
    scored: Annotated[
        Path, typer.Argument(help="The scored entries from `oversight score` (Parquet or CSV).")
    ] = config.PROCESSED_DIR / "scored.parquet",
    export: Annotated[
        list[Path] | None,
        typer.Option(
            "--export",
            "-e",
            help="The export file(s) or folder(s) that were scored; needed for coverage, "
            "quarterly review and responsiveness (all cases and the risk events). Only metadata "
            "columns are read.",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = (
        config.PROCESSED_DIR / "measures"
    ),
    by: Annotated[
        str,
        typer.Option(
            help="Breakdowns, comma-separated: region, pdu, team, rosh (rosh_level), month."
        ),
    ] = _MEASURE.get("by", "region,pdu,team,rosh_level,month"),
    validation: Annotated[
        Path | None,
        typer.Option(
            help="The model's validation metrics.json (`oversight evaluate`): its confusion "
            "matrices adjust the shares for classifier error."
        ),
    ] = _MEASURE.get("validation", config.PROCESSED_DIR / "evaluation" / "metrics.json"),
    initiator_validation: Annotated[
        Path | None,
        typer.Option(
            help="Scored or prepared entries of a labelled export (labels.parquet beside the "
            "export), or a JSON confusion: adjusts the rules' initiator (reactive share)."
        ),
    ] = None,
    compare: Annotated[
        list[str] | None,
        typer.Option(help="Group against the rest, e.g. region=Wales (repeatable)."),
    ] = None,
    compare_periods: Annotated[
        list[str] | None,
        typer.Option(
            help="Two periods of months, e.g. 2024-01:2024-06,2024-07:2024-12 (repeatable)."
        ),
    ] = None,
    adjust: Annotated[
        bool,
        typer.Option(
            "--adjust/--no-adjust", help="Adjust for classifier error (needs --validation)."
        ),
    ] = True,
    window: Annotated[
        int, typer.Option(min=0, help="Days after a risk event within which a response counts.")
    ] = _MEASURE.get("response_window_days", 5),
    suppress: Annotated[
        int, typer.Option(min=1, help="Figures behind fewer units than this are suppressed.")
    ] = _MEASURE.get("suppression_threshold", 10),
    bootstrap: Annotated[
        int, typer.Option(min=0, help="Cluster-bootstrap replicates.")
    ] = _MEASURE.get("bootstrap", 1000),
    seed: Annotated[int, typer.Option(help="Random seed of the bootstrap.")] = _MEASURE.get(
        "seed", 0
    ),
    mapping: Annotated[Path | None, typer.Option(help="YAML column-mapping file.")] = None,
) -> None:
    """Measure the oversight culture: reactive, defensive, coverage, responsiveness, mix.

    Every measure of domain.md section 4, overall and by region, PDU, team, RoSH level and
    month, with a 95% interval and the count behind it. Shares of predicted labels are biased
    when the classifier errs, so each is adjusted with the model's validated confusion matrix
    (Rogan-Gladen for shares of entries, Bayes per entry for "at least one" measures) and the
    interval comes from a cluster bootstrap by case that also redraws the validation confusion;
    the raw (predicted-label) figure is given alongside. Groups under --suppress units are
    nulled. --compare and --compare-periods give differences with their intervals.

    Writes measures.parquet/.csv, comparisons.parquet/.csv, delays.parquet and measures.json
    (the input of `oversight report`). No contact ids, CRNs or note text are written.

    Example: oversight measure data/processed/scored.parquet --export data/raw/synth/export.csv --compare region=Wales
    """
    from pipeline.measure import MeasureSettings
    from pipeline.measure import measure as run_measure

    settings = MeasureSettings(
        response_window_days=window,
        lookahead_days=_MEASURE.get("lookahead_days", 30),
        background_days=_MEASURE.get("background_days", 30),
        suppression_threshold=suppress,
        confidence=_MEASURE.get("confidence", 0.95),
        n_boot=bootstrap,
        seed=seed,
        adjust=adjust,
    )
    if adjust and validation is not None and not Path(validation).exists():
        console.print(
            f"[yellow]no validation metrics at {validation}: measures are not adjusted "
            "(run `oversight evaluate`, or pass --validation)[/yellow]"
        )
        validation = None
    steps = ["read", "overall", *[b.strip() for b in by.split(",") if b.strip()]]
    try:
        with _progress() as progress:
            task = progress.add_task("measuring", total=len(steps))
            result = run_measure(
                scored,
                exports=export or [],
                out_dir=out,
                by=by,
                validation=validation if adjust else None,
                initiator_validation=initiator_validation,
                compare_groups=compare or [],
                compare_periods=compare_periods or [],
                settings=settings,
                mapping=mapping,
                progress=lambda step: progress.update(
                    task, advance=1, description=f"measuring ({step} done)"
                ),
            )
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    table = Table(title="culture measures (overall)")
    for col in ("measure", "estimate", "95% interval", "raw", "n", "adjusted"):
        table.add_column(col, no_wrap=col != "measure")
    for row in result.summary["headline"]:
        name = row["measure"] + (f" ({row['category']})" if row.get("category") else "")
        est = row["estimate"]
        if est is None:
            table.add_row(name, "suppressed", "", "", str(row["n"]), "")
            continue
        days = row["measure"] == "median_response_delay_days"
        fmt = (lambda v: f"{v:.1f} d") if days else (lambda v: f"{v:.1%}")
        table.add_row(
            name,
            fmt(est),
            f"{fmt(row['lower'])} - {fmt(row['upper'])}",
            fmt(row["raw_estimate"]) if row["raw_estimate"] is not None else "",
            f"{row['n']:,}",
            "yes" if row["adjusted"] else "no",
        )
    console.print(table)
    for warning in result.warnings:
        console.print(f"[yellow]{warning}[/yellow]")
    for name, path in result.paths.items():
        console.print(f"  {name:18s} {path}")


@app.command()
def report(
    measures: Annotated[
        Path,
        typer.Argument(help="The folder `oversight measure` wrote (measures.parquet and friends)."),
    ] = config.PROCESSED_DIR / "measures",
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = (
        config.PROCESSED_DIR / "report.html"
    ),
    evaluation: Annotated[
        Path | None,
        typer.Option(
            help="An `oversight evaluate` folder: adds the model's confusion matrices to the "
            "methods section."
        ),
    ] = None,
    title: Annotated[str, typer.Option(help="The report's title.")] = (
        "Management oversight culture: reactive and defensive oversight"
    ),
    threshold: Annotated[
        int,
        typer.Option(min=10, help="Suppress groups with fewer entries than this (never below 10)."),
    ] = 10,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Open the report in headless Chromium; fail unless it loads without errors "
            "and every chart renders.",
        ),
    ] = False,
    screenshot: Annotated[
        Path | None,
        typer.Option(help="Also save a PNG of the report (headless Chromium, < 300 KB)."),
    ] = None,
    screenshot_height: Annotated[
        int | None,
        typer.Option(min=200, help="Pixels of the page the screenshot shows (default: all)."),
    ] = None,
) -> None:
    """Render the evaluator's report: one self-contained HTML file from the measure tables.

    Headline figures with 95% intervals (adjusted for classifier error and raw, labelled),
    charts by region and PDU with interval whiskers, monthly trends, the type mix, the delay
    from risk event to oversight, comparisons, and a methods section (model, validation scores,
    how the adjustment works, limitations) with a glossary. Groups under the threshold are not
    shown. Only aggregated figures: no note text, no case identifiers. Nothing is loaded from
    the network, so the file opens from a shared drive or an e-mail.

    Example: oversight report data/processed/measures --out report.html --check
    """
    from pipeline.report import check_report, render_report
    from pipeline.report import screenshot as take_screenshot

    try:
        with console.status("drawing the charts"):
            result = render_report(
                measures, out=out, evaluation_dir=evaluation, title=title, threshold=threshold
            )
        console.print(
            f"report: {len(result.charts)} charts, {result.suppressed_rows} figures suppressed "
            f"(n < {threshold}), {result.bytes / 1024:,.0f} KiB -> {result.path}"
        )
        if check:
            with console.status("opening the report in headless Chromium"):
                seen = check_report(result.path)
            if not seen.ok:
                problems = "; ".join(seen.problems())
                raise _fail(OversightError(f"the report failed its browser check: {problems}"))
            console.print(
                f"browser check: {seen.charts_ok}/{seen.charts_total} charts rendered, no errors"
            )
        if screenshot is not None:
            with console.status("taking a screenshot"):
                png = take_screenshot(result.path, screenshot, height=screenshot_height)
            console.print(f"screenshot: {png} ({png.stat().st_size / 1024:,.0f} KiB)")
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    typer.echo(str(result.path))


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
    baseline (tracked in MLflow), and evaluates it on an independent export of another seed;
    then scores the export with that model, measures the culture (adjusted with the validated
    confusion) and renders the evaluator's HTML report, whose path it prints last.

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

    # The evaluator's end of the job: score the export with the model just trained, measure
    # the culture (adjusted with the confusion validated on the other seed), render the report.
    from pipeline.measure import measure as run_measure
    from pipeline.report import render_report
    from pipeline.score import score as run_score

    evaluation_dir = config.PROCESSED_DIR / "evaluation"
    with _progress() as progress:
        task = progress.add_task("scoring contacts", total=len(result.export))
        scored = run_score(
            [paths["export"]],
            model=model_dir,
            out_dir=config.PROCESSED_DIR,
            progress=lambda n: progress.advance(task, n),
        )
    # The initiator comes from rules, not the model: validate them on the other seed's export
    # (its truth is beside it) so the reactive share is adjusted too.
    with console.status("validating the initiator rules on the other seed's export"):
        eval_prepared = run_prepare(
            [eval_dir / "export.parquet"], out_dir=Path(interim) / "synth-eval"
        )
    measures_dir = config.PROCESSED_DIR / "measures"
    with console.status("measuring the culture (bootstrap intervals)") as status:
        run_measure(
            scored.outputs["scored"],
            exports=[paths["export"]],
            validation=evaluation_dir / "metrics.json",
            initiator_validation=eval_prepared.outputs["entries"],
            compare_groups=["region=Wales"],
            out_dir=measures_dir,
            progress=lambda step: status.update(f"measuring the culture: {step}"),
        )
        status.update("drawing the report")
        report_result = render_report(
            measures_dir,
            out=config.PROCESSED_DIR / "report.html",
            evaluation_dir=evaluation_dir,
        )
    console.print(
        f"score: {scored.entries_out:,} entries scored by {scored.model_version}; measures and "
        f"report: {len(report_result.charts)} charts, {report_result.suppressed_rows} figures "
        "suppressed (n < 10)"
    )
    console.print("[bold]outputs[/bold]")
    outputs = {
        **paths,
        "synth summary": str(summary_path),
        **prepared.outputs,
        "model": str(model_dir),
        "evaluation": str(evaluation_dir),
        "scored": str(scored.outputs["scored"]),
        "measures": str(measures_dir),
        "mlflow": "experiments/mlflow.db (make mlflow-ui)",
    }
    for name, path in outputs.items():
        console.print(f"  {name:14s} {path}")
    console.print(f"[bold]report[/bold]  {report_result.path}  (open it in a browser)")


# --- annotate: the Label Studio round trip (pipeline.annotate.labelstudio) ---------------------

annotate_app = typer.Typer(
    help=(
        "Label entries in Label Studio: export tasks to label, import annotators' exports.\n\n"
        "export picks the entries worth labelling and writes Label Studio tasks with the "
        "model's pre-annotations; import reads the annotations back, measures agreement and "
        "writes the labelled file train reads. Annotators follow docs/labelling-guide.md."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(annotate_app, name="annotate")


@annotate_app.command("export")
def annotate_export(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="entries.parquet (oversight prepare) or scored.parquet / .csv (oversight score).",
            show_default=False,
        ),
    ],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="How many entries to label.")] = 100,
    strategy: Annotated[
        str,
        typer.Option(
            help="uncertainty (what the model is least sure of), random, or stratified "
            "(spread over predicted type x region)."
        ),
    ] = "uncertainty",
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Model folder or MLflow URI for pre-annotations and uncertainty; default: the "
            "probabilities of a scored input.",
        ),
    ] = None,
    exclude: Annotated[
        list[Path] | None,
        typer.Option(
            help="Earlier tasks.json, Label Studio exports or labelled files: their entries "
            "are not picked again (repeatable)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the tasks.")] = (
        config.PROCESSED_DIR / "annotation" / "batch"
    ),
    seed: Annotated[int, typer.Option(help="Random seed (random order, tie-breaks).")] = 0,
) -> None:
    """Pick entries to label and write Label Studio tasks with pre-annotations.

    Writes tasks.json (Label Studio's JSON import format: redacted text, a stable task id
    derived from the contact id, the model's predictions with model_version and score),
    labeling_config.xml (paste it into the project's Labeling Interface > Code) and
    manifest.json. Import tasks.json into the project, label, then export the project as
    JSON and run oversight annotate import.

    Example: oversight annotate export data/interim/entries.parquet --n 200 --strategy uncertainty --model models:/oversight@champion
    """
    from pipeline.annotate.labelstudio import export_tasks

    try:
        with console.status("exporting tasks") as status:
            result = export_tasks(
                inputs,
                n=n,
                out_dir=out,
                strategy=strategy,
                model=model,
                exclude=exclude or [],
                seed=seed,
                status=lambda msg: status.update(msg),
            )
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    console.print(
        f"{result.n_tasks:,} tasks ({result.strategy}) from {result.n_pool:,} entries "
        f"({result.n_excluded:,} excluded as already labelled); "
        f"pre-annotations: {result.model_version or 'none'}"
    )
    for head, mix in result.label_mix.items():
        console.print(f"  predicted {head}: " + ", ".join(f"{k} {v}" for k, v in mix.items()))
    for name, path in result.outputs.items():
        console.print(f"  {name:16s} {path}")


@annotate_app.command("import")
def annotate_import(
    exports: Annotated[
        list[Path],
        typer.Argument(
            help="Label Studio JSON exports: one per annotator, or one with several "
            "annotators' annotations per task.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the outputs.")] = (
        config.PROCESSED_DIR / "annotation" / "labelled"
    ),
    labeling_config: Annotated[
        Path | None,
        typer.Option(
            "--config", help="The project's labeling config (XML); default: the one export wrote."
        ),
    ] = None,
    adjudicated: Annotated[
        Path | None,
        typer.Option(help="A filled-in adjudication.csv: its final_* labels override the vote."),
    ] = None,
) -> None:
    """Read annotators' Label Studio exports: agreement, adjudication, the labelled file.

    Checks every annotation against the labeling config (unknown from_name, a choice the
    config does not offer, a task without its contact id: an error naming file, task and
    field). Writes labelled.parquet (final labels by agreement, majority or adjudication, in
    the format oversight train reads), agreement.json (Cohen's kappa per annotator pair,
    Krippendorff's alpha per field, per-label disagreement) and adjudication.csv (the tasks
    annotators disagree on: fill final_* and import again with --adjudicated).

    Example: oversight annotate import alice.json bob.json --out data/processed/annotation/labelled
    """
    from pipeline.annotate.labelstudio import import_annotations

    try:
        with console.status("importing annotations"):
            result = import_annotations(
                exports, out_dir=out, config=labeling_config, adjudicated=adjudicated
            )
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    console.print(
        f"{result.n_annotations:,} annotations of {result.n_tasks:,} tasks by "
        f"{len(result.annotators)} annotator(s); {result.n_labelled:,} labelled, "
        f"{result.n_disagreements:,} to adjudicate, {result.n_adjudicated:,} adjudicated"
    )
    table = Table(title="agreement")
    for col in ("field", "Krippendorff's alpha", "Cohen's kappa (pairs)", "most disputed label"):
        table.add_column(col)
    for fld, rep in result.agreement["fields"].items():
        alpha = rep["krippendorff_alpha"]
        kappas = ", ".join(
            f"{k['annotator_a']}/{k['annotator_b']} "
            + ("n/a" if k["kappa"] is None else f"{k['kappa']:.2f}")
            + f" (n={k['n_tasks']})"
            for k in rep["cohen_kappa"]
        )
        rated = [r for r in rep["per_label"] if r["disagreement_rate"] is not None]
        worst = max(rated, key=lambda r: r["disagreement_rate"], default=None)
        table.add_row(
            fld,
            "n/a" if alpha is None else f"{alpha:.3f}",
            kappas or "n/a (one annotator)",
            f"{worst['label']} ({worst['disagreement_rate']:.0%})" if worst else "",
        )
    console.print(table)
    for name, path in result.outputs.items():
        console.print(f"  {name:14s} {path}")


# --- annotation loop: label issues and the learning curve (issue 7) ---------------------------


@app.command("label-issues")
def label_issues(
    data: Annotated[
        list[Path],
        typer.Argument(
            help="Labelled sources: generator folders, labelled CSV/JSONL/Parquet files, "
            "Label Studio JSON exports.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for label_issues.csv/.parquet and summary.")
    ] = config.PROCESSED_DIR / "label_issues",
    folds: Annotated[
        int, typer.Option(min=2, help="Folds (whole cases) for the out-of-fold probabilities.")
    ] = 5,
    model: Annotated[str, typer.Option(help="Model kind scoring the folds.")] = "baseline",
    model_config: Annotated[
        Path | None,
        typer.Option("--config", help="YAML of model parameters (e.g. experiments/baseline.yaml)."),
    ] = None,
    rank_by: Annotated[
        str, typer.Option(help="Label quality: self_confidence | normalized_margin.")
    ] = "self_confidence",
    all_rows: Annotated[
        bool, typer.Option("--all", help="Write every entry ranked, not only the flagged ones.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed for the folds.")] = 0,
    clean_labels: Annotated[
        bool, typer.Option(help="Check a generator folder's clean labels, not the annotated ones.")
    ] = False,
) -> None:
    """Flag likely mislabelled entries with confident learning (Northcutt et al. 2021).

    Each entry is scored by a model trained on the other folds (folds are whole cases, so no case
    leaks), per-class confidence thresholds give the confident joint of given and true labels,
    and the entries it most likely holds in the wrong cell are flagged and ranked, for both heads
    (oversight_type and content). Writes label_issues.csv and .parquet (contact id, given and
    suggested label, score, rank, redacted text; lower score = more likely wrong) and
    label_issues_summary.json (estimated noise rate and joint per head). Review the top rows,
    relabel, retrain.

    Example: oversight label-issues data/raw/synth --out data/processed/label_issues
    """
    from pipeline.annotate.label_issues import find_label_issues, write_label_issues
    from pipeline.datasets import load_labelled

    try:
        with console.status("loading and redacting the labelled data"):
            frame = load_labelled(data, clean_labels=clean_labels)
        with _progress() as progress:
            task = progress.add_task("out-of-fold models", total=folds)
            result = find_label_issues(
                frame,
                folds=folds,
                model=model,
                model_params=_model_params(model, model_config),
                rank_by=rank_by,
                seed=seed,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        paths = write_label_issues(result, out, all_rows=all_rows)
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    table = Table(title=f"label issues ({result.summary['n_entries']:,} entries, {folds} folds)")
    for col in ("head", "flagged", "estimated noise rate", "out-of-fold accuracy"):
        table.add_column(col)
    for head, s in result.summary["heads"].items():
        table.add_row(
            head,
            f"{s['n_issues']:,} of {s['n']:,}",
            f"{s['estimated_noise_rate']:.1%}",
            f"{s['out_of_fold_accuracy']:.3f}",
        )
    console.print(table)
    for name, path in paths.items():
        console.print(f"  {name:8s} {path}")


@app.command("learning-curve")
def learning_curve(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            "-d",
            help="Labelled sources to simulate on (repeatable; a generator folder's clean labels "
            "are the annotator's). Default: a fresh noiseless synthetic export of --cases cases.",
        ),
    ] = None,
    cases: Annotated[int, typer.Option(min=20, help="Cases to generate (without --data).")] = 400,
    data_seed: Annotated[
        int, typer.Option(help="Seed of the generated export and of the pool/test split.")
    ] = 0,
    test_size: Annotated[
        float, typer.Option(min=0.05, max=0.9, help="Share of entries (whole cases) held out.")
    ] = 0.3,
    seed_size: Annotated[int, typer.Option(min=2, help="Random entries labelled first.")] = 30,
    batch: Annotated[int, typer.Option(min=1, help="Entries labelled per round.")] = 30,
    rounds: Annotated[int, typer.Option(min=0, help="Rounds of batch acquisition.")] = 8,
    seeds: Annotated[int, typer.Option(min=1, help="Repeats with other seed sets (the band).")] = 3,
    strategies: Annotated[
        str, typer.Option(help="Comma-separated: uncertainty, random, stratified.")
    ] = "uncertainty,random",
    annotator_noise: Annotated[
        float, typer.Option(min=0.0, max=0.49, help="Share of the annotator's labels flipped.")
    ] = 0.0,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the curve CSV, summary and plot.")
    ] = config.PROCESSED_DIR / "learning_curve",
    plot: Annotated[
        Path | None, typer.Option(help="Where to write the PNG (default <out>/learning_curve.png).")
    ] = None,
    track: Annotated[bool, typer.Option(help="Record an MLflow run.")] = True,
) -> None:
    """Learning curve: macro-F1 against labelled entries, uncertainty versus random sampling.

    A simulated annotator (the synthetic data's true labels, optionally with --annotator-noise
    flipped) labels a random seed set, then each round the baseline is refitted, scored on a
    held-out test set of other cases, and the strategy picks the next batch from the pool. Writes
    learning_curve.csv (every strategy, seed and round), learning_curve_summary.json (means,
    spreads, area under the curve and the head-to-head against random) and the plot, and
    records one MLflow run (experiment 'learning-curve'). Takes a few minutes at the defaults.

    Example: oversight learning-curve --cases 400 --seed-size 30 --batch 30 --rounds 8 --seeds 3
    """
    from pipeline.annotate.learning_curve import run_learning_curve

    chosen = [s.strip() for s in strategies.split(",") if s.strip()]
    total = seeds * len(chosen) * (rounds + 1)
    try:
        with _progress() as progress:
            task = progress.add_task("fits", total=total)
            result = run_learning_curve(
                data=data,
                cases=cases,
                data_seed=data_seed,
                test_size=test_size,
                seed_size=seed_size,
                batch=batch,
                rounds=rounds,
                seeds=seeds,
                strategies=chosen,
                annotator_noise=annotator_noise,
                out_dir=out,
                plot_path=plot,
                track=track,
                progress=lambda done, _total: progress.update(task, completed=done),
            )
    except (OversightError, OSError) as exc:
        raise _fail(exc) from None
    s = result.summary
    table = Table(title=f"learning curve ({s['pool_entries']:,} pool, {s['test_entries']:,} test)")
    table.add_column("strategy")
    for head in ("oversight_type", "content"):
        table.add_column(f"{head} area")
        table.add_column(f"{head} final")
    for strategy, heads in s["strategies"].items():
        cells = []
        for head in ("oversight_type", "content"):
            h = heads[head]
            cells += [f"{h['area_mean']:.3f} ± {h['area_sd']:.3f}", f"{h['final_mean']:.3f}"]
        table.add_row(strategy, *cells)
    console.print(table)
    for name, path in result.outputs.items():
        console.print(f"  {name:8s} {path}")
    if result.run_id:
        console.print(f"  MLflow run {result.run_id} (make mlflow-ui)")


if __name__ == "__main__":  # pragma: no cover
    app()
