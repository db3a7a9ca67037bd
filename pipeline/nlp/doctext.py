"""``doc.text`` computed once per Doc: spaCy rebuilds it from the tokens on every access."""

from __future__ import annotations

from spacy.tokens import Doc

_TEXT_KEY = "oversight_nlp.text"


def doc_text(doc: Doc) -> str:
    """The Doc's text, cached in ``doc.user_data`` (a plain string, so Docs still serialise)."""
    text = doc.user_data.get(_TEXT_KEY)
    if text is None:
        text = doc.user_data[_TEXT_KEY] = doc.text
    return text


def seed_text(doc: Doc, text: str) -> None:
    """Record the text a Doc was made from (it equals ``doc.text``)."""
    doc.user_data[_TEXT_KEY] = text
