"""The unit tables the culture measures count: cases, oversight entries, high-RoSH case-quarters
and risk events, each tied to its case so the bootstrap can resample by case.

Inputs are the scored entries (``oversight score``: one row per oversight entry with predicted
labels) and, for coverage, quarterly review and responsiveness, the raw export(s) those entries
came from: only metadata columns are kept (contact id, CRN, date, contact type, region, PDU, team,
RoSH, sentence type); the notes are dropped as each chunk is read and never reach anything
written.

Definitions made here (also in ``measures.json``):

* a case's **observed span** runs from its allocation (the first ``EOAL`` contact, else its first
  contact) to its last non-oversight contact in the export;
* a **case-quarter** is each full 91-day quarter of a high or very high RoSH case's span, counted
  from the start;
* a **risk event** is a non-oversight contact recording information from the police (``CPOL``:
  call-outs, arrests, domestic abuse), children's social care (``CSOC``), lost accommodation
  (``CHOU``) or, on licence, breach action (``ABRE``: recall consideration). Events of the same
  code on one case within a day of each other are one episode (a breach action and the recall
  consideration it raises the next day), counted at the later one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from pipeline.errors import MeasureInputError
from pipeline.labels import (
    CATCH_ALL_CODES,
    CONTENT_LABELS,
    INITIATORS,
    OVERSIGHT_TYPES,
    RoshLevel,
    SentenceType,
)

#: Columns of the scored table the measures read.
SCORED_NEEDED: tuple[str, ...] = (
    "contact_id",
    "crn",
    "contact_date",
    "contact_type_code",
    "region",
    "pdu",
    "team",
    "rosh_level",
    "initiated_by",
    "oversight_type",
    "content",
)
#: Metadata columns of the export the measures read (never the notes).
EXPORT_NEEDED: tuple[str, ...] = (
    "contact_id",
    "crn",
    "contact_date",
    "contact_type_code",
    "region",
    "pdu",
    "team",
    "rosh_level",
    "sentence_type",
)
#: Case attributes a measure can be broken down by.
CASE_GROUPINGS: tuple[str, ...] = ("region", "pdu", "team", "rosh_level")
#: Contact codes that record a risk event whatever the sentence.
RISK_EVENT_CODES: frozenset[str] = frozenset({"CPOL", "CSOC", "CHOU"})
#: Breach action: a risk event (recall consideration) on licence only.
RECALL_CODE = "ABRE"
ALLOCATION_CODE = "EOAL"
QUARTER_DAYS = 91
EPISODE_DAYS = 1


@dataclass
class MeasureTables:
    """Everything the measures count, keyed by case index (row of ``cases``).

    ``entries``: ``case``, ``day`` (days since 1970-01-01), ``month`` (``YYYY-MM``), ``otype``,
    ``content``, ``initiator`` (codes into the scheme's label tuples, -1 unknown),
    ``catch_all``. ``quarters``: ``case``, ``start``, ``end``. ``events``: ``case``, ``day``,
    ``month``, ``code``. ``has_export`` is False when only the scored file was given: then
    coverage, quarterly review and responsiveness cannot be measured (cases without entries and
    risk events are not in it).
    """

    cases: pd.DataFrame
    entries: pd.DataFrame
    quarters: pd.DataFrame
    events: pd.DataFrame
    has_export: bool
    inputs: dict[str, object] = field(default_factory=dict)

    @property
    def n_cases(self) -> int:
        return len(self.cases)


def _days(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Days since 1970-01-01 of ISO dates, and a mask of the unreadable ones."""
    d = pd.to_datetime(values.astype("string").str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    return d.to_numpy(dtype="datetime64[D]").astype("int64"), d.isna().to_numpy()


def _month(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(days.astype("datetime64[D]").astype("datetime64[M]"), unit="M")


def _codes(labels: Sequence[str], values: pd.Series) -> np.ndarray:
    lookup = {lab: i for i, lab in enumerate(labels)}
    norm = values.astype("string").str.strip().str.lower()
    return norm.map(lookup).fillna(-1).astype("int64").to_numpy()


def is_high_rosh(value: object) -> bool:
    """High and very high RoSH (any case, spaces trimmed)."""
    if not isinstance(value, str):
        return False
    lookup = {r.value.lower(): r for r in RoshLevel}
    level = lookup.get(" ".join(value.split()).lower())
    return level is not None and level.is_high


def read_scored(path: str | Path) -> pd.DataFrame:
    """The scored entries' columns the measures need (Parquet or CSV from ``oversight score``)."""
    p = Path(path)
    if not p.is_file():
        raise MeasureInputError("no such scored file", path=str(p))
    try:
        if p.suffix.lower() == ".csv":
            frame = pd.read_csv(p, dtype=str, usecols=lambda c: c in SCORED_NEEDED)
        else:
            names = set(pq.read_schema(p).names)
            frame = pd.read_parquet(p, columns=[c for c in SCORED_NEEDED if c in names])
    except (OSError, ValueError) as exc:
        raise MeasureInputError(
            f"cannot read the scored file ({type(exc).__name__})", path=str(p)
        ) from None
    missing = [c for c in SCORED_NEEDED if c not in frame.columns]
    if missing:
        raise MeasureInputError(
            "the scored file lacks a column the measures need; is it the output of "
            "`oversight score`?",
            path=str(p),
            field=missing[0],
        )
    return frame


def read_contacts(
    paths: Iterable[str | Path], *, mapping: str | Path | None = None
) -> pd.DataFrame:
    """Metadata of every usable contact in the exports, streamed chunk by chunk through the
    ingest readers and validation (quarantined rows are left out, as ``score`` leaves them)."""
    from pipeline.ingest import IngestState, iter_validated

    parts = []
    for good, _quarantined in iter_validated(list(paths), mapping=mapping, state=IngestState()):
        # the notes go no further than this chunk
        parts.append(good.loc[:, [c for c in EXPORT_NEEDED if c in good.columns]].copy())
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in EXPORT_NEEDED})
    frame = pd.concat(parts, ignore_index=True)
    for c in EXPORT_NEEDED:
        if c not in frame.columns:
            frame[c] = pd.NA
    return frame


def _first(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return frame.groupby("crn", sort=True)[list(columns)].first()


def build_tables(scored: pd.DataFrame, contacts: pd.DataFrame | None = None) -> MeasureTables:
    """Cases, entries, case-quarters and risk events from the scored entries and, when given,
    the export's contact metadata (see the module docstring for the definitions)."""
    scored = scored.reset_index(drop=True)
    s_days, s_bad = _days(scored["contact_date"])
    scored = scored.loc[~s_bad].reset_index(drop=True)
    s_days = s_days[~s_bad]
    has_export = contacts is not None
    attrs = list(CASE_GROUPINGS)

    if has_export:
        contacts = contacts.reset_index(drop=True)
        c_days, c_bad = _days(contacts["contact_date"])
        contacts = contacts.loc[~c_bad].reset_index(drop=True)
        contacts["day"] = c_days[~c_bad]
        scored_ids = set(scored["contact_id"].astype(str))
        contacts["is_entry"] = contacts["contact_id"].astype(str).isin(scored_ids)
        info = _first(contacts, attrs)
        extra = _first(scored, attrs)
        info = pd.concat([info, extra.loc[~extra.index.isin(info.index)]]).sort_index()
        code = contacts["contact_type_code"].astype("string").str.upper()
        alloc = contacts.loc[code == ALLOCATION_CODE].groupby("crn")["day"].min()
        first = contacts.groupby("crn")["day"].min()
        other = contacts.loc[~contacts["is_entry"]].groupby("crn")["day"].max()
        last_any = contacts.groupby("crn")["day"].max()
        cases = info.reset_index()
        cases["start"] = (
            cases["crn"].map(alloc).fillna(cases["crn"].map(first)).fillna(-1).astype("int64")
        )
        cases["end"] = (
            cases["crn"].map(other).fillna(cases["crn"].map(last_any)).fillna(-1).astype("int64")
        )
    else:
        cases = _first(scored, attrs).reset_index()
        cases["start"] = -1
        cases["end"] = -1
    case_index = pd.Series(np.arange(len(cases)), index=cases["crn"])

    codes = scored["contact_type_code"].astype("string").str.strip().str.upper()
    entries = pd.DataFrame(
        {
            "case": scored["crn"].map(case_index).to_numpy(dtype="int64"),
            "day": s_days,
            "month": _month(s_days),
            "otype": _codes(OVERSIGHT_TYPES, scored["oversight_type"]),
            "content": _codes(CONTENT_LABELS, scored["content"]),
            "initiator": _codes(INITIATORS, scored["initiated_by"]),
            "catch_all": codes.isin(CATCH_ALL_CODES).fillna(False).to_numpy(dtype=bool),
        }
    )

    quarters = _quarters(cases) if has_export else _empty_quarters()
    events = _events(contacts, case_index) if has_export else _empty_events()
    return MeasureTables(cases, entries, quarters, events, has_export)


def _empty_quarters() -> pd.DataFrame:
    return pd.DataFrame({c: np.empty(0, dtype="int64") for c in ("case", "start", "end")})


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case": np.empty(0, dtype="int64"),
            "day": np.empty(0, dtype="int64"),
            "month": np.empty(0, dtype=object),
            "code": np.empty(0, dtype=object),
        }
    )


def _quarters(cases: pd.DataFrame) -> pd.DataFrame:
    high = cases["rosh_level"].map(is_high_rosh).to_numpy(dtype=bool)
    span = (cases["end"] - cases["start"]).to_numpy()
    nq = np.where(high & (cases["start"].to_numpy() >= 0), span // QUARTER_DAYS, 0)
    nq = np.clip(nq, 0, None)
    case = np.repeat(np.arange(len(cases)), nq)
    q = np.arange(nq.sum()) - np.repeat(np.cumsum(nq) - nq, nq)
    start = cases["start"].to_numpy()[case] + q * QUARTER_DAYS
    return pd.DataFrame({"case": case, "start": start, "end": start + QUARTER_DAYS})


def _events(contacts: pd.DataFrame, case_index: pd.Series) -> pd.DataFrame:
    code = contacts["contact_type_code"].astype("string").str.strip().str.upper()
    licence = (
        contacts["sentence_type"].astype("string").str.strip().str.lower()
        == SentenceType.LICENCE.value.lower()
    )
    is_event = (code.isin(RISK_EVENT_CODES) | ((code == RECALL_CODE) & licence)).fillna(False)
    ev = pd.DataFrame(
        {
            "case": contacts["crn"].map(case_index),
            "day": contacts["day"],
            "code": code,
        }
    ).loc[is_event.to_numpy() & ~contacts["is_entry"].to_numpy()]
    ev = ev.dropna(subset=["case"]).astype({"case": "int64"})
    ev = ev.sort_values(["case", "code", "day"], kind="stable").reset_index(drop=True)
    nxt_same = (ev["case"].shift(-1) == ev["case"]) & (ev["code"].shift(-1) == ev["code"])
    merged = nxt_same & ((ev["day"].shift(-1) - ev["day"]) <= EPISODE_DAYS)
    ev = ev.loc[~merged.to_numpy()].reset_index(drop=True)
    ev["month"] = _month(ev["day"].to_numpy())
    return ev[["case", "day", "month", "code"]]


def unit_class_counts(
    units: pd.DataFrame,
    entries: pd.DataFrame,
    *,
    label: str,
    n_classes: int,
    lo: str | int,
    hi: str | int,
) -> np.ndarray:
    """Per unit (row of ``units``), the number of its case's entries of each predicted class
    dated from ``lo`` to ``hi`` (column names of ``units``, or day offsets from its ``day``;
    ``lo`` inclusive, ``hi`` exclusive)."""
    out = np.zeros((len(units), n_classes), dtype=np.float64)
    if units.empty or entries.empty:
        return out
    u = pd.DataFrame({"unit": np.arange(len(units)), "case": units["case"].to_numpy()})
    u["lo"] = units[lo].to_numpy() if isinstance(lo, str) else units["day"].to_numpy() + lo
    u["hi"] = units[hi].to_numpy() if isinstance(hi, str) else units["day"].to_numpy() + hi
    e = entries.loc[entries[label] >= 0, ["case", "day", label]]
    m = u.merge(e, on="case", how="inner")
    m = m.loc[(m["day"] >= m["lo"]) & (m["day"] < m["hi"])]
    np.add.at(out, (m["unit"].to_numpy(), m[label].to_numpy()), 1)
    return out


def first_delay(
    events: pd.DataFrame, entries: pd.DataFrame, *, classes: Sequence[int], lookahead: int
) -> np.ndarray:
    """Days from each event to its case's first entry predicted in ``classes`` within
    ``lookahead`` days (same day = 0); NaN when there is none."""
    out = np.full(len(events), np.nan)
    if events.empty or entries.empty:
        return out
    u = pd.DataFrame(
        {"unit": np.arange(len(events)), "case": events["case"].to_numpy(), "ev": events["day"]}
    )
    e = entries.loc[entries["otype"].isin(list(classes)), ["case", "day"]]
    m = u.merge(e, on="case", how="inner")
    m["delay"] = m["day"] - m["ev"]
    m = m.loc[(m["delay"] >= 0) & (m["delay"] <= lookahead)]
    first = m.groupby("unit")["delay"].min()
    out[first.index.to_numpy()] = first.to_numpy()
    return out
