"""The byte-table fast paths for ASCII texts give exactly what the regexes they stand in for give."""

from __future__ import annotations

import random

import pytest

from pipeline.nlp.attributes import _ASCII_LETTER, _LETTERS
from pipeline.nlp.detect import _UNLISTED, _has_unlisted
from pipeline.nlp.rules import _WORD_RUN, word_set

_SAMPLES = [
    "",
    "spo review: pp to refer to mappa by 12/03/2024 (dtr_1) - agreed.",
    "Discussed with PP; risk of harm to partner\tremains HIGH\x0b\x1cok",
    "under_score and café’s “quotes” – dash • bullet",
    "\x00\x07 control \x7f chars",
    "1st 2nd 3rd 24/7 a1b2 _lead trail_",
]


def _random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(128)] + ["é", "’", "•", "–", "ß", "İ"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80))) for _ in range(n)]


TEXTS = _SAMPLES + _random_texts(2000, 7)


@pytest.mark.parametrize("lower", [False, True])
def test_word_set_is_the_set_of_word_runs(lower: bool) -> None:
    for text in TEXTS:
        low = text.lower() if lower else text
        assert word_set(low) == set(_WORD_RUN.findall(low)), repr(low)


def test_ascii_letter_table_gives_the_letter_runs() -> None:
    for text in TEXTS:
        if text.isascii():
            runs = set(text.encode("ascii").translate(_ASCII_LETTER).decode("ascii").split())
            assert runs == set(_LETTERS.findall(text)), repr(text)


def test_has_unlisted_agrees_with_the_regex() -> None:
    for text in TEXTS + [chr(c) for c in range(0x300)]:
        assert _has_unlisted(text) == (_UNLISTED.search(text) is not None), repr(text)
