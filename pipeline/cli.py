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

    Generates the export (CSV, as Excel saves it) with its ground truth, summarises it, then
    prepares the entries table from it and checks detection against the truth.

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
    console.print("[bold]outputs[/bold]")
    for name, path in {**paths, "synth summary": str(summary_path), **prepared.outputs}.items():
        console.print(f"  {name:14s} {path}")


if __name__ == "__main__":  # pragma: no cover
    app()
