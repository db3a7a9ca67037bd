import random

from pipeline.synth.template import Choice, Slot, join_segments, parse, render, slots_in


def test_parse_literals_slots_and_choices():
    t = parse("Saw <pop_first> [today|on <weekday>|] at home")
    assert t[0] == "Saw "
    assert t[1] == Slot("pop_first")
    assert isinstance(t[3], Choice) and len(t[3].options) == 3
    assert slots_in(t) == {"pop_first", "weekday"}


def test_render_tracks_pii_spans_exactly():
    t = parse("Called <name> on <phone> [re rent|about <name>'s rent]")
    values = {"name": [("Mr ", None), ("Khan", "PERSON")], "phone": [("07700 900123", "PHONE")]}
    rng = random.Random(0)
    for _ in range(20):
        text, spans = join_segments(render(t, values.__getitem__, rng.randrange, str))
        assert spans, text
        for start, end, kind in spans:
            assert text[start:end] == {"PERSON": "Khan", "PHONE": "07700 900123"}[kind]


def test_literal_hook_never_touches_slot_values():
    t = parse("CALL <x> NOW")
    segs = render(t, lambda n: [("ABC", "PERSON")], lambda n: 0, str.lower)
    text, spans = join_segments(segs)
    assert text == "call ABC now" and text[spans[0][0] : spans[0][1]] == "ABC"
