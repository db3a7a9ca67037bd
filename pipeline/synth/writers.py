"""Write a generated export in the shapes real teams hand over.

- ``csv``: as Excel saves it: UTF-8 with BOM, CRLF row endings, quoted multi-line notes.
- ``jsonl``: one contact per line.
- ``parquet``: typed by ``schema.EXPORT_SCHEMA``.
- ``delius-json``: the Delius contact-history shape, one file per case under ``delius/``.

Ground truth goes beside the export, never inside it: ``labels.parquet``, ``cases.parquet`` and
``manifest.json``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.schema import CASES_SCHEMA, EXPORT_SCHEMA, LABELS_SCHEMA
from pipeline.synth.generate import Synth

FORMATS = ("csv", "jsonl", "parquet", "delius-json")
EXPORT_NAMES = {
    "csv": "export.csv",
    "jsonl": "export.jsonl",
    "parquet": "export.parquet",
    "delius-json": "delius",
}


def _atomic(path: Path, write) -> None:
    """Write to a temporary file beside ``path`` and rename, so no half-written file is seen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parquet(df: pd.DataFrame, schema: pa.Schema, path: Path) -> None:
    table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
    _atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_csv(export: pd.DataFrame, path: Path) -> None:
    _atomic(
        path,
        lambda tmp: export.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n"),
    )


def write_jsonl(export: pd.DataFrame, path: Path) -> None:
    _atomic(
        path,
        lambda tmp: export.to_json(tmp, orient="records", lines=True, force_ascii=False),
    )


def _delius_contact(row: dict[str, Any]) -> dict[str, Any]:
    outcome = (
        {"code": row["outcome_code"], "description": row["outcome_description"]}
        if row["outcome_code"]
        else None
    )
    return {
        "id": row["contact_id"],
        "type": {
            "code": row["contact_type_code"],
            "description": row["contact_type_description"],
            "systemGenerated": row["system_generated"] == "Y",
        },
        "outcome": outcome,
        "notes": row["notes"],
        "sensitive": row["sensitive"] == "Y",
        "startDateTime": f"{row['contact_date']}T{row['contact_start_time']}:00",
        "description": row["contact_type_description"],
        "provider": row["region"],
        "pdu": row["pdu"],
        "team": row["team"],
        "staff": {"name": row["staff_name"], "grade": row["staff_grade"]},
        "createdBy": row["created_by"],
        "createdDateTime": row["created_datetime"],
    }


def write_delius(export: pd.DataFrame, cases: pd.DataFrame, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    case_info = cases.set_index("crn").to_dict("index")
    for crn, group in export.groupby("crn", sort=False):
        rows = group.to_dict("records")
        first = rows[0]
        info = case_info[crn]
        doc = {
            "personalDetails": {
                "name": {"forename": first["pop_forename"], "surname": first["pop_surname"]},
                "dateOfBirth": info["pop_dob"],
                "identifiers": {"crn": crn, "pncNumber": info["pop_pnc"]},
            },
            "tier": info["tier"],
            "rosh": info["rosh_level"],
            "mappa": {
                "level": info["mappa_level"] or None,
                "category": info["mappa_category"] or None,
            },
            "sentenceType": info["sentence_type"],
            "contacts": [_delius_contact(r) for r in rows],
        }
        text = json.dumps(doc, ensure_ascii=False, indent=1)
        _atomic(folder / f"{crn}.json", lambda tmp, t=text: Path(tmp).write_text(t, "utf-8"))


def write_synth(synth: Synth, out: Path, *, fmt: str = "csv") -> dict[str, str]:
    """Write the export in ``fmt`` and the ground truth beside it; returns the paths written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    export_path = out / EXPORT_NAMES[fmt]
    if fmt == "csv":
        write_csv(synth.export, export_path)
    elif fmt == "jsonl":
        write_jsonl(synth.export, export_path)
    elif fmt == "parquet":
        _parquet(synth.export, EXPORT_SCHEMA, export_path)
    else:
        write_delius(synth.export, synth.cases, export_path)
    _parquet(synth.labels, LABELS_SCHEMA, out / "labels.parquet")
    _parquet(synth.cases, CASES_SCHEMA, out / "cases.parquet")
    manifest = dict(synth.manifest)
    manifest["files"] = {
        "export": export_path.name,
        "format": fmt,
        "labels": "labels.parquet",
        "cases": "cases.parquet",
    }
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
    _atomic(out / "manifest.json", lambda tmp: Path(tmp).write_text(text + "\n", "utf-8"))
    return {
        "export": str(export_path),
        "labels": str(out / "labels.parquet"),
        "cases": str(out / "cases.parquet"),
        "manifest": str(out / "manifest.json"),
    }
