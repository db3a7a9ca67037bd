"""Fast per-Doc state: ``doc.text`` computed once, and extension values without ``doc._``.

spaCy rebuilds ``doc.text`` from the tokens on every access, and every ``doc._.name`` builds an
Underscore object and looks the extension up (about a microsecond each); the components touch a
dozen values per Doc. spaCy keeps an extension's value in ``doc.user_data`` under
``("._.", name, None, None)``, so :func:`ext_get` and :func:`ext_set` use that key directly once
:func:`check_ext_layout` has confirmed the layout; otherwise they go through ``doc._``.
"""

from __future__ import annotations

from typing import Any

from spacy.tokens import Doc

_TEXT_KEY = "oversight_nlp.text"
#: user_data keys of values :mod:`pipeline.nlp.batch` hands to the components (each component
#: pops its key, so they never reach a serialised Doc): the comment blocks of the text, and the
#: oversight decision (is_oversight, reason, evidence) the same detector already made.
PRESET_BLOCKS = "oversight_nlp.blocks"
PRESET_DECISION = "oversight_nlp.decision"

_FAST = [False]


def doc_text(doc: Doc) -> str:
    """The Doc's text, cached in ``doc.user_data`` (a plain string, so Docs still serialise)."""
    text = doc.user_data.get(_TEXT_KEY)
    if text is None:
        text = doc.user_data[_TEXT_KEY] = doc.text
    return text


def seed_text(doc: Doc, text: str) -> None:
    """Record the text a Doc was made from (it equals ``doc.text``)."""
    doc.user_data[_TEXT_KEY] = text


def check_ext_layout(name: str) -> bool:
    """Check, with the registered Doc extension ``name``, that values live in ``user_data``
    where :func:`ext_get` looks; turns the fast access on (or off) accordingly."""
    from spacy.vocab import Vocab

    doc = Doc(Vocab(), words=["x"])
    setattr(doc._, name, "probe")
    _FAST[0] = doc.user_data.get(("._.", name, None, None)) == "probe"
    return _FAST[0]


def ext_get(doc: Doc, name: str) -> Any:
    """``doc._.<name>`` (None, the default of every extension here, when unset)."""
    if _FAST[0]:
        return doc.user_data.get(("._.", name, None, None))
    return getattr(doc._, name)


def ext_set(doc: Doc, name: str, value: Any) -> None:
    """``doc._.<name> = value``."""
    if _FAST[0]:
        doc.user_data[("._.", name, None, None)] = value
    else:
        setattr(doc._, name, value)
