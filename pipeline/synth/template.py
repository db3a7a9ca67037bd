"""A tiny template language for the phrase bank, rendered with character-span tracking.

Syntax (see phrases.yaml): ``<slot>`` is filled from the case context, ``[a|b|c]`` picks one
option (options may hold slots, not nested brackets; an empty option makes the part optional).
Templates are parsed once at load; rendering yields *segments* ``(text, pii_kind | None)`` so the
generator knows exactly where every piece of personal data lands in the final note.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_TOKEN = re.compile(r"<([a-zA-Z_]+)>|\[([^\[\]]*)\]")

#: A rendered piece of text and the PII kind it holds (None for ordinary text).
Segment = tuple[str, str | None]


@dataclass(frozen=True, slots=True)
class Slot:
    name: str


@dataclass(frozen=True, slots=True)
class Choice:
    options: tuple[tuple[str | Slot, ...], ...]


Part = str | Slot | Choice
Template = tuple[Part, ...]


def _parse_flat(text: str) -> tuple[str | Slot, ...]:
    parts: list[str | Slot] = []
    pos = 0
    for m in re.finditer(r"<([a-zA-Z_]+)>", text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        parts.append(Slot(m.group(1)))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def parse(text: str) -> Template:
    """Parse one template string into literal, slot and choice parts."""
    parts: list[Part] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() > pos:
            parts.append(text[pos : m.start()])
        if m.group(1) is not None:
            parts.append(Slot(m.group(1)))
        else:
            parts.append(Choice(tuple(_parse_flat(opt) for opt in m.group(2).split("|"))))
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return tuple(parts)


def slots_in(template: Template) -> set[str]:
    """Every slot name a template may use (for validating the phrase bank)."""
    names: set[str] = set()
    for part in template:
        if isinstance(part, Slot):
            names.add(part.name)
        elif isinstance(part, Choice):
            names.update(p.name for opt in part.options for p in opt if isinstance(p, Slot))
    return names


def render(
    template: Template,
    fill: Callable[[str], list[Segment]],
    pick: Callable[[int], int],
    literal: Callable[[str], str],
) -> list[Segment]:
    """Render a parsed template.

    ``fill(name)`` returns the segments of a slot, ``pick(n)`` chooses an option index in
    ``range(n)`` and ``literal(text)`` applies the author's voice (case, abbreviations, typos) to
    literal text only, so slot values and their spans are never disturbed.
    """
    out: list[Segment] = []
    append, extend = out.append, out.extend
    for part in template:
        cls = part.__class__
        if cls is str:
            append((literal(part), None))
        elif cls is Slot:
            extend(fill(part.name))
        else:
            opts = part.options
            for p in opts[pick(len(opts))]:
                if p.__class__ is str:
                    append((literal(p), None))
                else:
                    extend(fill(p.name))
    return out


def join_segments(segments: list[Segment]) -> tuple[str, list[tuple[int, int, str]]]:
    """Concatenate segments into text and the character spans of their PII."""
    pieces: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for text, kind in segments:
        if not text:
            continue
        if kind is not None:
            spans.append((pos, pos + len(text), kind))
        pieces.append(text)
        pos += len(text)
    return "".join(pieces), spans
