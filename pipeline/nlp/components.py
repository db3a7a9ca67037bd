"""The spaCy side: Doc extensions, the component factories (registered by name), ``make_nlp``.

Pipeline (on ``spacy.blank("en")``), in order:

============================  ===============================================================
component                     Doc extensions it sets
============================  ===============================================================
``comment_blocks``            ``context`` (the export row, from ``nlp.pipe(as_tuples=True)``),
                              ``blocks`` (list of :class:`~pipeline.nlp.blocks.Block`)
``pii_redactor``              ``pii_spans`` [(start, end, kind)] on ``doc.text``, ``redacted``
``oversight_detector``        ``is_oversight``, ``oversight_reason`` (code/text/system/none),
                              ``oversight_evidence`` (which rule decided)
``attributes``                ``initiated_by``, ``sbar``, ``rationale``, ``action_owner``,
                              ``timescale``, ``risk_factors``, ``retrospective``,
                              ``risk_factor_terms``
============================  ===============================================================

Extension values are plain Python values (tuples, strings, bools), so Docs still serialise.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.errors import NlpConfigError
from pipeline.labels import ATTRIBUTES
from pipeline.nlp.attributes import AttributesComponent
from pipeline.nlp.blocks import split_blocks
from pipeline.nlp.detect import get_detector
from pipeline.nlp.doctext import (
    PRESET_BLOCKS,
    PRESET_DECISION,
    check_ext_layout,
    doc_text,
    ext_get,
    ext_set,
)
from pipeline.nlp.redact import get_redactor
from pipeline.nlp.textutil import parse_iso_date

#: The components of the full pipeline, in order.
COMPONENTS: tuple[str, ...] = ("comment_blocks", "pii_redactor", "oversight_detector", "attributes")

#: The context fields taken from an export row (NoteRecord) onto ``doc._.context``.
CONTEXT_FIELDS: tuple[str, ...] = (
    "contact_id",
    "contact_type_code",
    "contact_type_description",
    "outcome_code",
    "pop_forename",
    "pop_surname",
    "staff_name",
    "staff_grade",
    "created_by",
    "system_generated",
    "contact_date",
    "crn",
    # not export columns: name tokens from a NameIndex (pipeline.nlp.people), set by prepare
    "export_names",
    "case_names",
)

_EXTENSIONS: dict[str, Any] = {
    "context": None,
    "blocks": None,
    "pii_spans": None,
    "redacted": None,
    "is_oversight": None,
    "oversight_reason": None,
    "oversight_evidence": None,
    "initiated_by": None,
    "risk_factor_terms": None,
    **{a: None for a in ATTRIBUTES},
}


def register_extensions() -> None:
    """Register the Doc extensions (idempotent)."""
    for name, default in _EXTENSIONS.items():
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=default)


register_extensions()

# The components read and write extension values through ``doctext.ext_get``/``ext_set``
# (straight to ``doc.user_data``: ``doc._.name`` costs about a microsecond per access). The
# storage layout is checked once, here, with a registered extension.
check_ext_layout("redacted")


def context_of(doc: Doc) -> dict[str, Any]:
    """The Doc's context: ``doc._.context``, else the context given to ``nlp.pipe(...,
    as_tuples=True)`` (spaCy keeps it on the Doc while the pipeline runs), as a dict."""
    ctx = ext_get(doc, "context")
    if ctx is None:
        ctx = getattr(doc, "_context", None)
    if ctx is None:
        return {}
    if isinstance(ctx, Mapping):
        return {k: ctx.get(k) for k in CONTEXT_FIELDS if k in ctx}
    if hasattr(ctx, "context") and callable(ctx.context):  # a NoteRecord
        return ctx.context()
    return {k: getattr(ctx, k) for k in CONTEXT_FIELDS if hasattr(ctx, k)}


def known_names(ctx: Mapping[str, Any]) -> list[str]:
    """Names from the export row that the redactor treats as known."""
    return [
        ctx[k]
        for k in ("pop_forename", "pop_surname", "staff_name", "created_by")
        if isinstance(ctx.get(k), str) and ctx.get(k)
    ]


class CommentBlocks:
    def __call__(self, doc: Doc) -> Doc:
        ext_set(doc, "context", context_of(doc))
        blocks = doc.user_data.pop(PRESET_BLOCKS, None)
        ext_set(doc, "blocks", split_blocks(doc_text(doc)) if blocks is None else blocks)
        return doc


class PiiRedactor:
    def __init__(
        self,
        rules: str | None = None,
        names: str | None = None,
        lexicon: str | None = None,
        old_date_years: int | None = None,
        use_context: bool = True,
    ) -> None:
        self.redactor = get_redactor(rules, names, lexicon, old_date_years)
        self.use_context = use_context

    def __call__(self, doc: Doc) -> Doc:
        ctx = ext_get(doc, "context")
        if ctx is None:
            ctx = context_of(doc)
        redacted, spans = self.redact_text(doc_text(doc), ctx)
        ext_set(doc, "redacted", redacted)
        ext_set(doc, "pii_spans", spans)
        return doc

    def redact_text(self, text: str, ctx: Mapping[str, Any]) -> tuple[str, list]:
        """What the component sets on a Doc of ``text`` with context ``ctx``: ``(redacted,
        spans)`` (the batch path calls it without a Doc)."""
        if not self.use_context:
            return self.redactor.redact(text)
        return self.redactor.redact(
            text,
            known_names(ctx),
            parse_iso_date(ctx.get("contact_date")),
            export_names=ctx.get("export_names") or (),
            case_names=ctx.get("case_names") or (),
        )


class OversightDetectorComponent:
    def __init__(self, rules: str | None = None, use_outcome_codes: bool | None = None) -> None:
        self.detector = get_detector(rules, use_outcome_codes)

    def __call__(self, doc: Doc) -> Doc:
        preset = doc.user_data.pop(PRESET_DECISION, None)
        if preset is not None:  # decided by the same detector before the Doc was made
            is_oversight, reason, evidence = preset
        else:
            ctx = ext_get(doc, "context")
            if ctx is None:
                ctx = context_of(doc)
            text = doc_text(doc)
            blocks = ext_get(doc, "blocks")
            if blocks is None:
                blocks = split_blocks(text)
            det = self.detector.decide(
                text,
                code=ctx.get("contact_type_code"),
                system_generated=ctx.get("system_generated"),
                outcome_code=ctx.get("outcome_code"),
                staff_grade=ctx.get("staff_grade"),
                staff_name=ctx.get("staff_name"),
                created_by=ctx.get("created_by"),
                blocks=blocks,
            )
            is_oversight, reason, evidence = det.is_oversight, det.reason, det.evidence
        ext_set(doc, "is_oversight", is_oversight)
        ext_set(doc, "oversight_reason", reason)
        ext_set(doc, "oversight_evidence", evidence)
        return doc


@Language.factory("comment_blocks", default_config={})
def make_comment_blocks(nlp: Language, name: str) -> CommentBlocks:
    return CommentBlocks()


@Language.factory(
    "pii_redactor",
    default_config={
        "rules": None,
        "names": None,
        "lexicon": None,
        "old_date_years": None,
        "use_context": True,
    },
)
def make_pii_redactor(
    nlp: Language,
    name: str,
    rules: str | None,
    names: str | None,
    lexicon: str | None,
    old_date_years: int | None,
    use_context: bool,
) -> PiiRedactor:
    return PiiRedactor(rules, names, lexicon, old_date_years, use_context)


@Language.factory("oversight_detector", default_config={"rules": None, "use_outcome_codes": None})
def make_oversight_detector(
    nlp: Language, name: str, rules: str | None, use_outcome_codes: bool | None
) -> OversightDetectorComponent:
    return OversightDetectorComponent(rules, use_outcome_codes)


@Language.factory("attributes", default_config={"rules": None, "scope": None})
def make_attributes(
    nlp: Language, name: str, rules: str | None, scope: str | None
) -> AttributesComponent:
    return AttributesComponent(nlp, rules, scope)


def make_nlp(config: Mapping[str, Any] | None = None) -> Language:
    """A blank English pipeline with the oversight components.

    ``config`` (all optional): ``{"components": [...names, in order...], "<component>":
    {...its config...}}``, e.g. ``{"pii_redactor": {"old_date_years": 0}}`` or
    ``{"components": ["comment_blocks", "pii_redactor"]}`` for redaction only. Unknown keys
    raise :class:`~pipeline.errors.NlpConfigError`.
    """
    config = dict(config or {})
    components = list(config.pop("components", COMPONENTS))
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown:
        raise NlpConfigError(f"unknown nlp component(s): {', '.join(map(str, unknown))}")
    extra = [k for k in config if k not in COMPONENTS]
    if extra:
        raise NlpConfigError(f"unknown nlp config key(s): {', '.join(map(str, extra))}")
    nlp = spacy.blank("en")
    for name in components:
        cfg = config.get(name) or {}
        if not isinstance(cfg, Mapping):
            raise NlpConfigError(f"config for nlp component {name!r} must be a mapping")
        try:
            nlp.add_pipe(name, config=dict(cfg))
        except (ValueError, TypeError) as exc:  # spaCy's config validation errors
            raise NlpConfigError(
                f"invalid config for nlp component {name!r}: {type(exc).__name__}"
            ) from exc
    return nlp


_NLP_CACHE: dict[str, Language] = {}


def get_nlp(config: Mapping[str, Any] | None = None) -> Language:
    """``make_nlp(config)``, built once per process and config."""
    key = json.dumps(config or {}, sort_keys=True, default=str)
    nlp = _NLP_CACHE.get(key)
    if nlp is None:
        nlp = _NLP_CACHE[key] = make_nlp(config)
    return nlp
