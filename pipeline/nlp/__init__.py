"""spaCy preprocessing for probation case notes: comment blocks, PII redaction, oversight
detection and the attributes of an oversight entry.

Public API::

    from pipeline.nlp import make_nlp, process, redact, NoteRecord, NoteResult

* :func:`make_nlp` - ``spacy.blank("en")`` with the components ``comment_blocks``,
  ``pii_redactor``, ``oversight_detector`` and ``attributes`` (registered factories).
* :func:`process` - the batch API: records in, :class:`NoteResult` (plain values) out; the full
  pipeline runs only on oversight contacts.
* :func:`redact` - redact any text with the regex engine alone.
* :func:`split_blocks`, :func:`detect` - the block splitter and the oversight decision on raw
  text.

Rules ship as package data next to the components: ``pii_rules.yaml``, ``names.json``,
``lexicon.json``, ``oversight_rules.yaml``, ``attribute_rules.yaml``.
"""

from __future__ import annotations

import pipeline.nlp._spacy_import  # noqa: F401  (first: spaCy without PyTorch, see there)
from pipeline.nlp.batch import (
    BlockInfo,
    NoteRecord,
    NoteResult,
    as_record,
    process,
    result_from_doc,
)
from pipeline.nlp.blocks import Block, split_blocks
from pipeline.nlp.components import COMPONENTS, get_nlp, make_nlp
from pipeline.nlp.detect import REASONS, Detection, get_detector
from pipeline.nlp.redact import PLACEHOLDER_RE, redact


def detect(record: NoteRecord | dict) -> Detection:
    """The oversight decision for one record (code tables, then the text), without spaCy."""
    return get_detector().decide_record(as_record(record))


__all__ = [
    "COMPONENTS",
    "PLACEHOLDER_RE",
    "REASONS",
    "Block",
    "BlockInfo",
    "Detection",
    "NoteRecord",
    "NoteResult",
    "detect",
    "get_nlp",
    "make_nlp",
    "process",
    "redact",
    "result_from_doc",
    "split_blocks",
]
