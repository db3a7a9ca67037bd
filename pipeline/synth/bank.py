"""Load the generator's package data once: the phrase bank, name pools and culture profiles.

The phrase bank is parsed into templates in four voice variants (plain, lower case, abbreviated,
both) up front, so rendering a note never re-parses or re-writes text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from pipeline.labels import OVERSIGHT_TYPES
from pipeline.synth.template import Template, parse, slots_in

#: Slots the engine can fill (see phrases.yaml); anything else in the bank is an error.
PII_SLOTS = frozenset(
    [
        "pop",
        "pop_first",
        "pop_last",
        "pop_title",
        "partner",
        "partner_first",
        "relative",
        "child_first",
        "officer",
        "sw",
        "pp",
        "pp_first",
        "spo",
        "spo_first",
        "colleague",
        "crn",
        "pnc",
        "ni",
        "dob",
        "phone",
        "email",
        "address",
        "postcode",
    ]
)
OTHER_SLOTS = frozenset(
    [
        "date",
        "short_date",
        "weekday",
        "tier",
        "rosh",
        "mappa_level",
        "mappa_cat",
        "n",
        "weeks",
        "event",
        "substance",
        "requirement",
        "he",
        "him",
        "his",
        "He",
        "His",
    ]
)
KNOWN_SLOTS = PII_SLOTS | OTHER_SLOTS

OVERSIGHT_SECTIONS = (
    "situation",
    "background",
    "assessment",
    "rationale",
    "action",
    "timescale",
    "defensive",
    "retrospective",
    "sbar_defensive_assessment",
    "sbar_defensive_recommendation",
    "scheduled",
)

# Shorthand practitioners use; applied to literal text only, in the "abbreviated" voice.
_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (r"\bprobation practitioner\b", "PP"),
    (r"\bsenior probation officer\b", "SPO"),
    (r"\bmanagement oversight\b", "MO"),
    (r"\bdomestic abuse\b", "DA"),
    (r"\bchildren's social care\b", "CSC"),
    (r"\bno further action\b", "NFA"),
    (r"\baccommodation\b", "accom"),
    (r"\bappointments\b", "appts"),
    (r"\bappointment\b", "appt"),
    (r"\binformation\b", "info"),
    (r"\bregarding\b", "re"),
    (r"\bdiscussed with\b", "d/w"),
    (r"\bwith\b", "w/"),
    (r"\band\b", "+"),
    (r"\bweeks\b", "wks"),
    (r"\btelephone\b", "tel"),
    (r"\bapproximately\b", "approx"),
    (r"\bfollow up\b", "f/u"),
    (r"\bfollow-up\b", "f/u"),
    (r"\bto be confirmed\b", "tbc"),
    (r"\bas soon as possible\b", "ASAP"),
    (r"\bincrease\b", "\u2191"),
    (r"\bmessage\b", "msg"),
)
_ABBREV_RE = [(re.compile(p, re.IGNORECASE), r) for p, r in _ABBREVIATIONS]


def abbreviate(text: str) -> str:
    for pattern, repl in _ABBREV_RE:
        text = pattern.sub(repl, text)
    return text


_SLOT_OR_TEXT = re.compile(r"(<[a-zA-Z_]+>)|([^<]+|<)")


def _load_yaml(name: str) -> Any:
    return yaml.safe_load(resources.files("pipeline.synth").joinpath(name).read_text("utf-8"))


def _variant(text: str, *, lower: bool, abbrev: bool) -> str:
    # transform literal text only: slot names must survive untouched
    def literal(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(1)
        part = abbreviate(m.group(2)) if abbrev else m.group(2)
        return part.lower() if lower else part

    return _SLOT_OR_TEXT.sub(literal, text)


@dataclass(frozen=True)
class Bank:
    """Parsed phrase bank: ``units[variant][section] -> tuple of templates``."""

    units: dict[tuple[bool, bool], dict[str, tuple[Template, ...]]]
    sections: tuple[str, ...]

    def get(self, section: str, *, lower: bool = False, abbrev: bool = False):
        return self.units[(lower, abbrev)][section]


def _flatten(raw: dict[str, Any]) -> dict[str, list[str]]:
    """Flatten the YAML tree into ``"a.b.c" -> [strings]``."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(node, list):
            flat[prefix] = [str(x) for x in node]

    walk("", raw)
    return flat


def validate_bank(flat: dict[str, list[str]]) -> list[str]:
    """Problems with the phrase bank (unknown slots, empty sections); empty when it is sound."""
    problems = []
    for t in OVERSIGHT_TYPES:
        for s in OVERSIGHT_SECTIONS:
            if not flat.get(f"oversight.{t}.{s}"):
                problems.append(f"missing or empty section oversight.{t}.{s}")
    for key, items in flat.items():
        for text in items:
            unknown = slots_in(parse(text)) - KNOWN_SLOTS
            if unknown:
                problems.append(f"{key}: unknown slot(s) {sorted(unknown)}")
            if text.count("[") != text.count("]"):
                problems.append(f"{key}: unbalanced brackets")
    return problems


@cache
def load_bank() -> Bank:
    flat = _flatten(_load_yaml("phrases.yaml"))
    problems = validate_bank(flat)
    if problems:
        raise ValueError("phrases.yaml is invalid: " + "; ".join(problems[:10]))
    units = {}
    for lower in (False, True):
        for abbrev in (False, True):
            units[(lower, abbrev)] = {
                key: tuple(parse(_variant(s, lower=lower, abbrev=abbrev)) for s in items)
                for key, items in flat.items()
            }
    return Bank(units=units, sections=tuple(sorted(flat)))


@cache
def load_people() -> dict[str, Any]:
    return _load_yaml("people.yaml")


@cache
def load_profiles() -> dict[str, Any]:
    return _load_yaml("profiles.yaml")
