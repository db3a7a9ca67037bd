"""Builders for the ingest tests: small export files written into tmp_path.

(A plain module, not conftest.py, so its name cannot clash with other test folders' helpers.)

No binary fixtures are committed; every file is built here from plain rows so a test shows what
it feeds the reader.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.ingest import IngestState, iter_exports, validate

#: Planted personal data: must never surface in an error message, log line or reason.
PLANTED_NOTE = "Zebedee Quuxley threatened his neighbour at 12 Plover Lane"
PLANTED_NAME = "Quuxley"

HEADER = [
    "contact_id",
    "crn",
    "pop_forename",
    "pop_surname",
    "contact_date",
    "contact_start_time",
    "contact_type_code",
    "contact_type_description",
    "notes",
    "sensitive",
    "system_generated",
]


def row(contact_id: str | int, /, **overrides: Any) -> dict[str, Any]:
    """One good flat-export row; keyword arguments replace its values."""
    base: dict[str, Any] = {
        "contact_id": str(contact_id),
        "crn": "X123456",
        "pop_forename": "Zebedee",
        "pop_surname": PLANTED_NAME,
        "contact_date": "2022-05-05",
        "contact_start_time": "17:45",
        "contact_type_code": "MO1",
        "contact_type_description": "Management Oversight - General",
        "notes": f"Comment added by Jane Doe on 05/05/2022 at 17:45\n{PLANTED_NOTE}",
        "sensitive": "N",
        "system_generated": "N",
    }
    base.update(overrides)
    return base


def write_csv(
    path: Path,
    rows: Sequence[dict[str, Any]],
    *,
    header: Sequence[str] = HEADER,
    encoding: str = "utf-8",
    delimiter: str = ",",
    line_end: str = "\r\n",
) -> Path:
    """A CSV as Excel writes it: every field quoted when needed, CRLF row ends by default."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(header)
    for r in rows:
        writer.writerow(["" if r.get(h) is None else r.get(h) for h in header])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def delius_case(
    crn: str = "X123456", *, contacts: Sequence[Any] | None = None, **case: Any
) -> dict[str, Any]:
    """A Delius contact-history document for one case."""
    return {
        "personalDetails": {
            "name": {"forename": "Zebedee", "surname": PLANTED_NAME},
            "dateOfBirth": "1990-01-01",
            "identifiers": {"crn": crn, "pncNumber": "2001/0123456A"},
        },
        "contacts": list(contacts if contacts is not None else [delius_contact(1)]),
        **case,
    }


def delius_contact(contact_id: int, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": contact_id,
        "type": {
            "code": "MO1",
            "description": "Management Oversight - General",
            "systemGenerated": False,
        },
        "outcome": {"code": "MO27", "description": "PP recommendation endorsed"},
        "notes": PLANTED_NOTE,
        "sensitive": False,
        "startDateTime": "2022-05-05T17:45:00",
        "description": "SPO oversight",
        "provider": "London",
        "pdu": "Camden and Islington",
        "team": "Team A",
        "staff": {"name": "Jane Doe", "grade": "SPO"},
        "createdBy": "Jane Doe",
        "createdDateTime": "2022-05-05T18:02:11",
    }
    base.update(overrides)
    return base


def write_json(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def ingest_all(paths: Any, **kwargs: Any) -> tuple[Any, Any, IngestState]:
    """Read and validate everything; returns (good, quarantined, state) as whole frames."""
    import pandas as pd

    state = kwargs.pop("state", None) or IngestState()
    goods, bads = [], []
    for chunk in iter_exports(paths, **kwargs):
        good, bad = validate(chunk, state=state)
        goods.append(good)
        bads.append(bad)
    good = pd.concat(goods, ignore_index=True)
    bad = pd.concat(bads, ignore_index=True)
    return good, bad, state
