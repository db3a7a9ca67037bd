"""Fictional people and their identifiers: everything the redactor must later find."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from pipeline.labels import Grade
from pipeline.synth.bank import load_people

_LETTERS = string.ascii_uppercase
# NI prefixes never use D, F, I, Q, U, V; we keep to plainly valid-looking ones.
_NI_LETTERS = "ABCEGHJKLMNPRSTWXYZ"


def full_name(rng: random.Random, *, female: bool | None = None) -> tuple[str, str]:
    pool = load_people()
    if female is None:
        female = rng.random() < 0.5
    first = rng.choice(pool["first_names"]["female" if female else "male"])
    return first, rng.choice(pool["surnames"])


def crn(rng: random.Random) -> str:
    return f"{rng.choice(_LETTERS)}{rng.randrange(1_000_000):06d}"


def pnc(rng: random.Random) -> str:
    year = rng.randrange(1995, 2024)
    if rng.random() < 0.7:
        return f"{year}/{rng.randrange(10_000_000):07d}{rng.choice(_LETTERS)}"
    return f"{year % 100:02d}/{rng.randrange(1_000_000):06d}{rng.choice(_LETTERS)}"


def ni_number(rng: random.Random) -> str:
    a, b = rng.choice(_NI_LETTERS), rng.choice(_NI_LETTERS)
    digits = f"{rng.randrange(1_000_000):06d}"
    suffix = rng.choice("ABCD")
    if rng.random() < 0.3:
        return f"{a}{b} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"
    return f"{a}{b}{digits}{suffix}"


def phone(rng: random.Random) -> str:
    r = rng.random()
    # Ofcom's drama ranges (07700 900xxx, 0161 496 0xxx, ...) are reserved for fiction.
    if r < 0.45:
        return f"07700 900{rng.randrange(1000):03d}"
    if r < 0.65:
        return f"07700900{rng.randrange(1000):03d}"
    if r < 0.8:
        return f"+44 7700 900{rng.randrange(1000):03d}"
    area = rng.choice(["0161 496", "0113 496", "0121 496", "029 2018", "020 7946", "0114 496"])
    return f"{area} {rng.randrange(10000):04d}"


def email(rng: random.Random, first: str, last: str) -> str:
    domain = rng.choice(load_people()["email_domains"])
    last = last.replace(" ", "").replace("'", "")
    style = rng.randrange(4)
    local = (
        f"{first}.{last}",
        f"{first}{last}{rng.randrange(1, 99)}",
        f"{first[0]}{last}{rng.randrange(70, 99)}",
        f"{last}_{first}",
    )[style]
    return f"{local.lower()}@{domain}"


def staff_email(first: str, last: str) -> str:
    last = last.replace(" ", "").replace("'", "")
    return f"{first.lower()}.{last.lower()}@{load_people()['staff_email_domain']}"


def address(rng: random.Random) -> tuple[str, str, str]:
    """(street address, town, postcode)."""
    pool = load_people()
    street = rng.choice(pool["streets"])
    town, area = rng.choice(pool["towns"])
    line = f"{rng.randrange(1, 180)} {street}"
    if rng.random() < 0.15:
        line = f"Flat {rng.randrange(1, 40)}, {line}"
    postcode = (
        f"{area}{rng.randrange(1, 30)} {rng.randrange(1, 10)}"
        f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
    )
    return line, town, postcode


def dob(rng: random.Random, start_year: int) -> str:
    age = rng.randrange(18, 66)
    return f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/{start_year - age}"


@dataclass(frozen=True, slots=True)
class Voice:
    """How one author writes: stable per person, so a team's notes share habits."""

    layout: str  # prose | terse | bullets | numbered
    lower: bool
    abbrev: bool
    typo_rate: float
    sbar_habit: float
    header_habit: float
    sign_off: str  # "" | "SPO" | "name"


def make_voice(rng: random.Random, *, sbar_rate: float = 0.0) -> Voice:
    layout = rng.choices(["prose", "terse", "bullets", "numbered"], [0.45, 0.3, 0.18, 0.07])[0]
    return Voice(
        layout=layout,
        lower=rng.random() < 0.15,
        abbrev=rng.random() < 0.4,
        typo_rate=rng.choice([0.0, 0.0, 0.003, 0.008, 0.015]),
        sbar_habit=min(0.95, sbar_rate + (0.2 if rng.random() < 0.1 else 0.0)),
        header_habit=rng.choice([0.1, 0.4, 0.7, 0.9]),
        sign_off=rng.choices(["", "SPO", "name"], [0.6, 0.2, 0.2])[0],
    )


@dataclass(slots=True)
class Staff:
    first: str
    last: str
    grade: Grade
    voice: Voice

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(slots=True)
class Team:
    region: str
    pdu: str
    name: str
    spos: list[Staff] = field(default_factory=list)
    pps: list[Staff] = field(default_factory=list)


def make_team(rng: random.Random, region: str, pdu: str, name: str, *, sbar_rate: float) -> Team:
    team = Team(region, pdu, name)
    for _ in range(rng.choice([1, 1, 2])):
        first, last = full_name(rng)
        team.spos.append(Staff(first, last, Grade.SPO, make_voice(rng, sbar_rate=sbar_rate)))
    for _ in range(rng.randrange(7, 12)):
        first, last = full_name(rng)
        grade = rng.choices([Grade.PO, Grade.PSO, Grade.PQIP], [0.55, 0.3, 0.15])[0]
        team.pps.append(Staff(first, last, grade, make_voice(rng)))
    return team
