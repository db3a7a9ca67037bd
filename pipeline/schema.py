"""Table schemas shared by the steps: the flat contact export, the labels file and the cases file.

Column names are spelled here once. Arrow schemas give every writer and reader the same types.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

from pipeline.labels import ATTRIBUTES

#: The flat contact export (CSV / JSON Lines / Parquet / Excel), one row per nDelius contact.
#: Case-level fields are denormalised onto every row, as reporting extracts do.
EXPORT_SCHEMA = pa.schema(
    [
        pa.field("contact_id", pa.string(), nullable=False),
        pa.field("crn", pa.string(), nullable=False),
        pa.field("pop_forename", pa.string()),
        pa.field("pop_surname", pa.string()),
        pa.field("contact_date", pa.string(), nullable=False),  # YYYY-MM-DD
        pa.field("contact_start_time", pa.string()),  # HH:MM
        pa.field("contact_type_code", pa.string(), nullable=False),
        pa.field("contact_type_description", pa.string()),
        pa.field("outcome_code", pa.string()),
        pa.field("outcome_description", pa.string()),
        pa.field("notes", pa.string()),
        pa.field("sensitive", pa.string()),  # Y / N
        pa.field("system_generated", pa.string()),  # Y / N
        pa.field("region", pa.string()),
        pa.field("pdu", pa.string()),
        pa.field("team", pa.string()),
        pa.field("staff_name", pa.string()),
        pa.field("staff_grade", pa.string()),
        pa.field("created_by", pa.string()),
        pa.field("created_datetime", pa.string()),  # YYYY-MM-DDTHH:MM:SS
        pa.field("tier", pa.string()),
        pa.field("rosh_level", pa.string()),
        pa.field("mappa_level", pa.string()),  # "", "1", "2", "3"
        pa.field("mappa_category", pa.string()),
        pa.field("sentence_type", pa.string()),
    ]
)
EXPORT_COLUMNS: tuple[str, ...] = tuple(EXPORT_SCHEMA.names)
#: Columns without which a row cannot be used.
REQUIRED_COLUMNS: tuple[str, ...] = ("contact_id", "crn", "contact_date", "contact_type_code")
#: Columns holding personal data about the person on probation (used by the redactor too).
NAME_COLUMNS: tuple[str, ...] = ("pop_forename", "pop_surname")

#: Ground truth for the synthetic export, keyed by contact_id and kept apart from the export.
LABELS_SCHEMA = pa.schema(
    [
        pa.field("contact_id", pa.string(), nullable=False),
        pa.field("crn", pa.string(), nullable=False),
        pa.field("region", pa.string()),
        pa.field("is_oversight", pa.bool_()),
        # annotated labels (what an annotator recorded, including label noise)
        pa.field("oversight_type", pa.string()),
        pa.field("content", pa.string()),
        pa.field("initiated_by", pa.string()),
        # the labels the text was written from
        pa.field("oversight_type_clean", pa.string()),
        pa.field("content_clean", pa.string()),
        pa.field("label_flipped", pa.bool_()),
        # how the entry came about (allocation, quarterly_review, risk_response, back_cover, ...)
        pa.field("trigger", pa.string()),
        *[pa.field(a, pa.bool_()) for a in ATTRIBUTES],
        # a risk event recorded by this contact, and the risk event an oversight entry answers
        pa.field("risk_event", pa.string()),
        pa.field("responds_to", pa.string()),
        pa.field("response_delay_days", pa.int32()),
        # character spans of personal data inside `notes`: [[start, end, kind], ...] as JSON
        pa.field("pii_spans", pa.string()),
    ]
)
LABEL_COLUMNS: tuple[str, ...] = tuple(LABELS_SCHEMA.names)

#: One row per synthetic case: the truth behind the denormalised export columns.
CASES_SCHEMA = pa.schema(
    [
        pa.field("crn", pa.string(), nullable=False),
        pa.field("pop_forename", pa.string()),
        pa.field("pop_surname", pa.string()),
        pa.field("pop_dob", pa.string()),  # DD/MM/YYYY
        pa.field("pop_pnc", pa.string()),
        pa.field("region", pa.string()),
        pa.field("pdu", pa.string()),
        pa.field("team", pa.string()),
        pa.field("tier", pa.string()),
        pa.field("rosh_level", pa.string()),
        pa.field("mappa_level", pa.string()),
        pa.field("mappa_category", pa.string()),
        pa.field("sentence_type", pa.string()),
        pa.field("pp_name", pa.string()),
        pa.field("pp_grade", pa.string()),
        pa.field("spo_name", pa.string()),
        pa.field("start_date", pa.string()),
        pa.field("end_date", pa.string()),
        pa.field("high_rosh_quarters", pa.int32()),
        pa.field("n_contacts", pa.int32()),
    ]
)


#: Columns of the export carried onto every entry. Names of people are left behind: the entries
#: table keeps only what the later steps need (data minimisation); notes become redacted `text`.
ENTRY_METADATA_COLUMNS: tuple[str, ...] = (
    "contact_id",
    "crn",
    "contact_date",
    "contact_start_time",
    "contact_type_code",
    "contact_type_description",
    "outcome_code",
    "outcome_description",
    "sensitive",
    "region",
    "pdu",
    "team",
    "staff_grade",
    "created_datetime",
    "tier",
    "rosh_level",
    "mappa_level",
    "mappa_category",
    "sentence_type",
)

#: One row per management-oversight entry: `data/interim/entries.parquet`.
ENTRIES_SCHEMA = pa.schema(
    [
        *[pa.field(c, pa.string()) for c in ENTRY_METADATA_COLUMNS],
        pa.field("text", pa.string()),  # redacted notes, never the raw text
        pa.field("n_blocks", pa.int32()),
        pa.field("n_pii", pa.int32()),
        pa.field("oversight_reason", pa.string()),  # code | text
        pa.field("initiated_by", pa.string()),
        *[pa.field(a, pa.bool_()) for a in ATTRIBUTES],
        pa.field("risk_factor_terms", pa.list_(pa.string())),
        pa.field("source_file", pa.string()),
        pa.field("source_row", pa.int64()),
    ]
)
ENTRY_COLUMNS: tuple[str, ...] = tuple(ENTRIES_SCHEMA.names)


#: The figures of a measures row: blank (null) when the group is suppressed.
MEASURE_ESTIMATE_COLUMNS: tuple[str, ...] = (
    "estimate",
    "lower",
    "upper",
    "raw_estimate",
    "raw_lower",
    "raw_upper",
)
#: One row per (measure, category, by, group): ``measures.parquet`` of ``oversight measure``,
#: which ``oversight report`` reads.
MEASURES_COLUMNS: tuple[str, ...] = (
    "measure",
    "category",
    "by",
    "group",
    "unit",
    *MEASURE_ESTIMATE_COLUMNS,
    "adjusted",
    "method",
    "n",
    "suppressed",
)
#: One row per comparison of two groups or periods: ``comparisons.parquet``.
COMPARISONS_COLUMNS: tuple[str, ...] = (
    "measure",
    "category",
    "comparison",
    "group_a",
    "group_b",
    "estimate_a",
    "estimate_b",
    "difference",
    "lower",
    "upper",
    "n_a",
    "n_b",
    "adjusted",
    "suppressed",
)


def is_missing(value: Any) -> bool:
    """A cell with no value: None, NA, NaN or blank text (an empty CSV cell and an absent key agree)."""
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()
