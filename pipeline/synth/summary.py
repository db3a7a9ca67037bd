"""Describe a generated export: size, label mix and how varied its text is."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from pipeline.labels import CONTENT_LABELS, OVERSIGHT_TYPES

_WORD = re.compile(r"[a-z0-9']+")


def variety(texts: pd.Series) -> dict[str, float]:
    """Share of unique texts and distinct word 4-grams per 1,000 words: template copies score low."""
    texts = texts.fillna("")
    n_grams: set[tuple[str, ...]] = set()
    words = 0
    for t in texts:
        toks = _WORD.findall(t.lower())
        words += len(toks)
        n_grams.update(zip(toks, toks[1:], toks[2:], toks[3:], strict=False))
    return {
        "entries": int(len(texts)),
        "unique_share": float(texts.nunique() / len(texts)) if len(texts) else 0.0,
        "distinct_4grams": len(n_grams),
        "distinct_4grams_per_1k_words": 1000 * len(n_grams) / words if words else 0.0,
        "mean_chars": float(texts.str.len().mean()) if len(texts) else 0.0,
    }


def summarise(export: pd.DataFrame, labels: pd.DataFrame) -> dict[str, Any]:
    """Counts, label mix per region and text variety per class, for the CLI and docs/data.md."""
    per_case = export.groupby("crn").size()
    ov = labels[labels["is_oversight"]].merge(
        export[["contact_id", "notes"]], on="contact_id", how="left"
    )
    mix = (
        ov.groupby(["region", "oversight_type_clean"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(OVERSIGHT_TYPES), fill_value=0)
    )
    content = (
        ov.groupby(["region", "content_clean"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(CONTENT_LABELS), fill_value=0)
    )
    out: dict[str, Any] = {
        "cases": int(export["crn"].nunique()),
        "contacts": int(len(export)),
        "contacts_per_case": {
            "min": int(per_case.min()),
            "median": float(per_case.median()),
            "max": int(per_case.max()),
        },
        "oversight_entries": int(len(ov)),
        "empty_notes": int((export["notes"].fillna("") == "").sum()),
        "notes_over_5000_chars": int((export["notes"].fillna("").str.len() > 5000).sum()),
        "type_mix_by_region": mix.to_dict("index"),
        "content_mix_by_region": content.to_dict("index"),
        "variety": {
            "all_oversight": variety(ov["notes"]),
            **{
                f"type={t}": variety(ov.loc[ov["oversight_type_clean"] == t, "notes"])
                for t in OVERSIGHT_TYPES
            },
            **{
                f"content={c}": variety(ov.loc[ov["content_clean"] == c, "notes"])
                for c in CONTENT_LABELS
            },
        },
    }
    return out
