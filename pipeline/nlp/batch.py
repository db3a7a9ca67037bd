"""The batch API used by ``prepare``: records in, plain-value results out.

:func:`process` decides every contact cheaply first - the code tables, then the detector's
prefilter and cues on the raw text (no tokenising) - and runs the full spaCy pipeline
(tokenise, blocks, redact, attributes) only on the contacts that are oversight. The decision is
made by the same :class:`~pipeline.nlp.detect.OversightDetector` on both paths, so the cheap
path never disagrees with the pipeline. With ``redact_all=True`` the texts of the other contacts
are redacted too, by the regex engine alone (:func:`pipeline.nlp.redact.redact`), so that any
text that must be stored can be.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from itertools import islice
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from pipeline.errors import NlpConfigError
from pipeline.labels import ATTRIBUTES
from pipeline.nlp.attributes import AttributesComponent
from pipeline.nlp.blocks import Block, split_blocks
from pipeline.nlp.components import (
    COMPONENTS,
    CONTEXT_FIELDS,
    CommentBlocks,
    OversightDetectorComponent,
    PiiRedactor,
    get_nlp,
    known_names,
)
from pipeline.nlp.detect import Detection, OversightDetector, get_detector
from pipeline.nlp.doctext import PRESET_DECISION, ext_get, ext_set, seed_text
from pipeline.nlp.people import NameIndex, case_tokens_from_spans
from pipeline.nlp.redact import Redactor, get_redactor
from pipeline.nlp.textutil import parse_iso_date

Span = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class NoteRecord:
    """One contact's notes plus the export-row context the nlp step uses."""

    notes: str | None
    contact_id: str | None = None
    contact_type_code: str | None = None
    contact_type_description: str | None = None
    outcome_code: str | None = None
    pop_forename: str | None = None
    pop_surname: str | None = None
    staff_name: str | None = None
    staff_grade: str | None = None
    created_by: str | None = None
    system_generated: str | None = None
    contact_date: str | None = None
    crn: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> NoteRecord:
        """Build from a mapping with the export's column names (other keys are ignored;
        NaN/None become None, other values str)."""
        vals = {}
        for f in fields(cls):
            v = row.get(f.name)
            if v is None or (isinstance(v, float) and v != v):
                vals[f.name] = None
            else:
                vals[f.name] = v if isinstance(v, str) else str(v)
        return cls(**vals)

    def context(self) -> dict[str, Any]:
        return {k: getattr(self, k, None) for k in CONTEXT_FIELDS}


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """A comment block, as plain values. Offsets index the ORIGINAL notes. ``author`` is a name
    (personal data): do not store it unredacted; ``author_is_creator`` says whether it is the
    contact's creator (None when unknown)."""

    start: int
    end: int
    text_start: int
    author: str | None
    written_at: str | None
    author_is_creator: bool | None


@dataclass(frozen=True, slots=True)
class NoteResult:
    """What the nlp step found in one contact, as plain Python values (no Doc).

    ``redacted``/``pii_spans`` are None when the text was not redacted (a non-oversight contact
    without ``redact_all``). ``initiated_by`` is None for non-oversight contacts; the attribute
    booleans are then False.
    """

    contact_id: str | None
    is_oversight: bool
    oversight_reason: str
    oversight_evidence: str
    redacted: str | None
    pii_spans: tuple[Span, ...] | None
    blocks: tuple[BlockInfo, ...]
    initiated_by: str | None
    sbar: bool = False
    rationale: bool = False
    action_owner: bool = False
    timescale: bool = False
    risk_factors: bool = False
    retrospective: bool = False
    risk_factor_terms: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_record(rec: NoteRecord | Mapping[str, Any] | str | None) -> NoteRecord:
    """A NoteRecord from a NoteRecord, a mapping (export row) or a bare text."""
    if isinstance(rec, NoteRecord):
        return rec
    if isinstance(rec, Mapping):
        return NoteRecord.from_row(rec)
    if rec is None or isinstance(rec, str):
        return NoteRecord(notes=rec)
    raise NlpConfigError(
        f"process() takes NoteRecords, mappings or strings, not {type(rec).__name__}"
    )


def _block_infos(blocks: Iterable[Block], created_by: str | None) -> tuple[BlockInfo, ...]:
    owner = {w.lower() for w in (created_by or "").replace(",", " ").split() if len(w) > 1}
    out = []
    for b in blocks:
        same: bool | None = None
        if b.author and owner:
            same = not owner.isdisjoint(w.lower() for w in b.author.replace(",", " ").split())
        out.append(BlockInfo(b.start, b.end, b.text_start, b.author, b.written_at, same))
    return tuple(out)


def _plain_result(
    rec: NoteRecord,
    det: Detection,
    blocks: list[Block],
    redactor: Redactor | None,
) -> NoteResult:
    redacted = spans = None
    if redactor is not None:
        text = rec.notes or ""
        redacted, span_list = redactor.redact(
            text, known_names(rec.context()), parse_iso_date(rec.contact_date)
        )
        spans = tuple(span_list)
    return NoteResult(
        contact_id=rec.contact_id,
        is_oversight=det.is_oversight,
        oversight_reason=det.reason,
        oversight_evidence=det.evidence,
        redacted=redacted,
        pii_spans=spans,
        blocks=_block_infos(blocks, rec.created_by),
        initiated_by=None,
    )


def result_from_doc(
    doc: Doc, rec: NoteRecord | None = None, det: Detection | None = None
) -> NoteResult:
    """Turn a processed Doc into a NoteResult (``det``: the decision to use when the pipeline
    has no ``oversight_detector``)."""
    ctx = ext_get(doc, "context") or {}
    created_by = rec.created_by if rec is not None else ctx.get("created_by")
    if ext_get(doc, "is_oversight") is None and det is not None:
        ext_set(doc, "is_oversight", det.is_oversight)
        ext_set(doc, "oversight_reason", det.reason)
        ext_set(doc, "oversight_evidence", det.evidence)
    oversight = bool(ext_get(doc, "is_oversight"))
    attrs = {a: bool(ext_get(doc, a)) for a in ATTRIBUTES} if oversight else {}
    spans = ext_get(doc, "pii_spans")
    return NoteResult(
        contact_id=rec.contact_id if rec is not None else ctx.get("contact_id"),
        is_oversight=oversight,
        oversight_reason=ext_get(doc, "oversight_reason") or "none",
        oversight_evidence=ext_get(doc, "oversight_evidence") or "",
        redacted=ext_get(doc, "redacted"),
        pii_spans=tuple(tuple(s) for s in spans) if spans is not None else None,
        blocks=_block_infos(ext_get(doc, "blocks") or [], created_by),
        initiated_by=ext_get(doc, "initiated_by") if oversight else None,
        risk_factor_terms=tuple(ext_get(doc, "risk_factor_terms") or ()) if oversight else (),
        **attrs,
    )


def _pipe_components(nlp: Language) -> tuple[OversightDetector, Redactor]:
    det = (
        nlp.get_pipe("oversight_detector").detector
        if "oversight_detector" in nlp.pipe_names
        else get_detector()
    )
    red = (
        nlp.get_pipe("pii_redactor").redactor
        if "pii_redactor" in nlp.pipe_names
        else get_redactor()
    )
    return det, red


#: The export columns the nlp step reads (a NoteRecord's fields).
NOTE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(NoteRecord))


def _decide_all(
    detector: OversightDetector, cols: Mapping[str, Sequence[Any]], n: int
) -> list[Detection]:
    """The detector's decision for every row of column lists (the fields of NoteRecord)."""
    none = [None] * n
    notes = cols.get("notes") or none
    code = cols.get("contact_type_code") or none
    system = cols.get("system_generated") or none
    outcome = cols.get("outcome_code") or none
    grade = cols.get("staff_grade") or none
    staff = cols.get("staff_name") or none
    created = cols.get("created_by") or none
    decide = detector.decide
    return [
        decide(
            notes[i] or "",
            code=code[i],
            system_generated=system[i],
            outcome_code=outcome[i],
            staff_grade=grade[i],
            staff_name=staff[i],
            created_by=created[i],
        )
        for i in range(n)
    ]


def _pipe_oversight(
    nlp: Language,
    cols: Mapping[str, Sequence[Any]],
    rows: Sequence[int],
    decisions: Sequence[Detection],
    batch_size: int,
) -> Iterator[Doc]:
    """Run the pipeline over the given (oversight) rows; Docs come back in order. Each Doc
    carries its decision, so the detector component does not decide again."""
    none = [None] * (max(rows) + 1 if rows else 0)
    columns = {f: cols.get(f) or none for f in CONTEXT_FIELDS}
    notes = cols.get("notes") or none

    def docs() -> Iterator[tuple[Doc, dict[str, Any]]]:
        for i, det in zip(rows, decisions, strict=True):
            text = notes[i] or ""
            doc = nlp.make_doc(text)
            seed_text(doc, text)
            doc.user_data[PRESET_DECISION] = (det.is_oversight, det.reason, det.evidence)
            yield doc, {f: c[i] for f, c in columns.items()}

    for doc, _ctx in nlp.pipe(docs(), as_tuples=True, batch_size=batch_size):
        doc.user_data.pop(PRESET_DECISION, None)  # a pipeline without the detector
        yield doc


def _process_chunk(
    chunk: list[Any], nlp: Language, batch_size: int, redact_all: bool
) -> list[NoteResult]:
    detector, redactor = _pipe_components(nlp)
    records = [as_record(raw) for raw in chunk]
    cols = {f: [getattr(r, f) for r in records] for f in NOTE_FIELDS}
    decisions = _decide_all(detector, cols, len(records))
    results: list[NoteResult | None] = [None] * len(records)
    todo = [i for i, d in enumerate(decisions) if d.is_oversight]
    for i, det in enumerate(decisions):
        if not det.is_oversight:
            rec = records[i]
            blocks = split_blocks(rec.notes or "")
            results[i] = _plain_result(rec, det, blocks, redactor if redact_all else None)
    if todo:
        docs = _pipe_oversight(nlp, cols, todo, [decisions[i] for i in todo], batch_size)
        for i, doc in zip(todo, docs, strict=True):
            results[i] = result_from_doc(doc, records[i], decisions[i])
    return results  # type: ignore[return-value]


@dataclass(slots=True)
class Entries:
    """The management-oversight contacts among a batch of rows, as plain columns: what
    ``prepare`` writes. ``rows`` are the positions of those contacts in the batch; every other
    list runs parallel to it. Texts are redacted."""

    rows: list[int]
    text: list[str]
    n_blocks: list[int]
    n_pii: list[int]
    oversight_reason: list[str]
    initiated_by: list[str | None]
    attributes: dict[str, list[bool]]
    risk_factor_terms: list[list[str]]
    #: the PII spans of each entry's notes (offsets into the raw text; not stored by prepare)
    spans: list[list[Span]] = field(default_factory=list)


def _text_path(nlp: Language) -> tuple[Any, Any] | None:
    """The pipeline's redactor and attributes components when ``nlp`` is the standard pipeline
    (the components of :data:`COMPONENTS`, in order), so that entries can be made without
    ``nlp.pipe``; None otherwise."""
    if list(nlp.pipe_names) != list(COMPONENTS):
        return None
    blocks, redactor, detector, attributes = (nlp.get_pipe(n) for n in COMPONENTS)
    if not (
        isinstance(blocks, CommentBlocks)
        and isinstance(redactor, PiiRedactor)
        and isinstance(detector, OversightDetectorComponent)
        and isinstance(attributes, AttributesComponent)
    ):
        return None
    return redactor, attributes


def _entry_values(
    nlp: Language,
    cols: Mapping[str, Sequence[Any]],
    rows: Sequence[int],
    decisions: Sequence[Detection],
    batch_size: int,
    via_pipe: bool,
) -> Iterator[tuple[str | None, int, list[Span], dict[str, Any]]]:
    """``(redacted, n_blocks, pii spans, attribute values)`` of each oversight row, in order.

    The text path calls the pipeline's own components on the text (comment blocks, redaction,
    attributes), the way their ``__call__`` does, and tokenises only the stretches of a text
    where the attributes component may find a risk term; otherwise (``via_pipe``, or a pipeline
    other than the standard one) every row goes through ``nlp.pipe``. Both give the same
    values."""
    path = None if via_pipe else _text_path(nlp)
    if path is None:
        for doc in _pipe_oversight(nlp, cols, rows, decisions, batch_size):
            values = {a: bool(ext_get(doc, a)) for a in ATTRIBUTES}
            values["initiated_by"] = ext_get(doc, "initiated_by")
            values["risk_factor_terms"] = list(ext_get(doc, "risk_factor_terms") or ())
            yield (
                ext_get(doc, "redacted"),
                len(ext_get(doc, "blocks") or ()),
                list(ext_get(doc, "pii_spans") or ()),
                values,
            )
        return
    redactor, attributes = path
    tokenizer = nlp.make_doc
    none = [None] * (max(rows) + 1 if rows else 0)
    columns = [(f, cols.get(f) or none) for f in CONTEXT_FIELDS]
    notes = cols.get("notes") or none
    for i in rows:
        text = notes[i] or ""
        ctx = {f: c[i] for f, c in columns}
        blocks = split_blocks(text)
        redacted, spans = redactor.redact_text(text, ctx)
        values = attributes.annotate(text, ctx, blocks, spans, tokenizer=tokenizer)
        values = {a: bool(values[a]) for a in ATTRIBUTES} | {
            "initiated_by": values["initiated_by"],
            "risk_factor_terms": list(values["risk_factor_terms"]),
        }
        yield redacted, len(blocks), spans, values


def find_entries(
    cols: Mapping[str, Sequence[str | None]],
    *,
    nlp: Language | None = None,
    batch_size: int = 256,
    via_pipe: bool = False,
    names: NameIndex | None = None,
    every_row: bool = False,
) -> Entries:
    """The oversight contacts of a batch given as column lists (keys: :data:`NOTE_FIELDS`, values
    str or None; absent columns count as empty), with their redacted text and attributes.

    Every row is decided cheaply (code tables, then the detector on the raw text); only the
    oversight rows are redacted and described, by the pipeline's components called on the text
    (only the stretches where a risk term may occur are tokenised). ``via_pipe=True`` runs
    those rows through ``nlp.pipe`` instead (the reference path: same results, slower). The decision, redaction
    and attributes are those :func:`process` gives the same rows.

    ``names``: the run's :class:`~pipeline.nlp.people.NameIndex`. Its export-wide and per-case
    names are known to the redactor; the names found in each entry are added to its case, and an
    entry in which a name found in another note of its case still shows is redacted again.
    ``every_row``: treat every row as an entry (what the redaction benchmark measures).
    """
    nlp = nlp or get_nlp()
    detector, redactor = _pipe_components(nlp)
    n = max((len(c) for c in cols.values()), default=0)
    decisions = _decide_all(detector, cols, n)
    if every_row:
        rows = list(range(n))
    else:
        rows = [i for i, d in enumerate(decisions) if d.is_oversight]
    chosen = [decisions[i] for i in rows]
    out = Entries(rows, [], [], [], [d.reason for d in chosen], [], {a: [] for a in ATTRIBUTES}, [])
    crns = cols.get("crn") or [None] * n
    if names is not None and rows:
        cols = dict(cols)
        cols["export_names"] = [names.export] * n
        cols["case_names"] = [names.case(c) for c in crns]
    found = list(_entry_values(nlp, cols, rows, chosen, batch_size, via_pipe))
    if names is not None and rows:
        found = _second_round(nlp, cols, rows, chosen, batch_size, via_pipe, found, names, redactor)
    out.spans = [v[2] for v in found]
    attrs = [(a, out.attributes[a]) for a in ATTRIBUTES]
    for redacted, n_blocks, spans, values in found:
        out.text.append(redacted if redacted is not None else "")
        out.n_blocks.append(n_blocks)
        out.n_pii.append(len(spans))
        out.initiated_by.append(values["initiated_by"])
        for a, column in attrs:
            column.append(values[a])
        out.risk_factor_terms.append(values["risk_factor_terms"])
    return out


def _second_round(nlp, cols, rows, chosen, batch_size, via_pipe, found, names, redactor):
    """Learn each case's names from its entries, then redo the entries where one still shows."""
    notes = cols.get("notes") or [None] * (max(rows) + 1)
    crns = cols["crn"] if cols.get("crn") else [None] * (max(rows) + 1)
    for i, (_, _, spans, _) in zip(rows, found, strict=True):
        text = notes[i]
        if text and spans:
            names.learn(crns[i], case_tokens_from_spans(names, text, spans))
    redo: list[int] = []
    for j, i in enumerate(rows):
        now, before = names.case(crns[i]), cols["case_names"][i]
        if now is before or not notes[i]:
            continue
        gained = now - before
        if gained and _shows(notes[i], found[j][2], gained):
            redo.append(j)
    if not redo:
        return found
    cols = dict(cols)
    cols["case_names"] = [names.case(c) for c in crns]
    again = _entry_values(
        nlp, cols, [rows[j] for j in redo], [chosen[j] for j in redo], batch_size, via_pipe
    )
    for j, value in zip(redo, again, strict=True):
        found[j] = value
    return found


def _shows(text: str, spans: Sequence[Span], tokens: frozenset[str]) -> bool:
    """Whether a word of ``tokens`` occurs in ``text`` outside the spans."""
    low = text.lower()
    for t in tokens:
        p = low.find(t)
        while p >= 0:
            e = p + len(t)
            if (p == 0 or not low[p - 1].isalnum()) and (e == len(low) or not low[e].isalnum()):
                if not any(s <= p < se for s, se, _ in spans):
                    return True
            p = low.find(t, p + 1)
    return False


# -- multiprocessing: each worker builds its own pipeline from a config ---------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(config_str: str | None, config: Mapping[str, Any] | None) -> None:
    if config_str is not None:
        from spacy.util import load_model_from_config
        from thinc.api import Config

        _WORKER["nlp"] = load_model_from_config(Config().from_str(config_str), auto_fill=True)
    else:
        _WORKER["nlp"] = get_nlp(config)


def _work(args: tuple[list[Any], int, bool]) -> list[NoteResult]:
    chunk, batch_size, redact_all = args
    return _process_chunk(chunk, _WORKER["nlp"], batch_size, redact_all)


def _chunks(records: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def process(
    records: Iterable[NoteRecord | Mapping[str, Any] | str | None],
    *,
    nlp: Language | None = None,
    batch_size: int = 256,
    n_process: int = 1,
    redact_all: bool = False,
    config: Mapping[str, Any] | None = None,
) -> Iterator[NoteResult]:
    """Process contacts in order, yielding one :class:`NoteResult` per record.

    ``records``: NoteRecords, export-row mappings or bare texts. ``nlp``: a pipeline from
    :func:`make_nlp` (default: the shipped one, or ``make_nlp(config)``). ``n_process`` > 1 runs
    chunks of ``batch_size`` records in worker processes (each builds its own pipeline).
    ``redact_all``: redact the non-oversight texts too (regex engine only).
    """
    if batch_size < 1 or n_process < 1:
        raise NlpConfigError("batch_size and n_process must be at least 1")
    if nlp is not None and config is not None:
        raise NlpConfigError("give process() either nlp or config, not both")
    if n_process == 1:
        nlp = nlp or get_nlp(config)
        for chunk in _chunks(records, batch_size):
            yield from _process_chunk(chunk, nlp, batch_size, redact_all)
        return
    config_str = nlp.config.to_str() if nlp is not None else None
    ctx = multiprocessing.get_context()
    with ctx.Pool(n_process, initializer=_init_worker, initargs=(config_str, config)) as pool:
        jobs = ((chunk, batch_size, redact_all) for chunk in _chunks(records, batch_size))
        for results in pool.imap(_work, jobs, chunksize=1):
            yield from results
