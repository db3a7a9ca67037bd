"""comment_blocks: splitting notes into 'Comment added by NAME on DATE at TIME' blocks."""

from __future__ import annotations

from pipeline.nlp import split_blocks

NOTES = (
    "Home visit completed, Mr Smith present.\n"
    "Comment added by Jane Doe on 05/05/2022 at 17:45\n"
    "Agree with PP's plan.\n"
    "comment  added by  Bob O'Neill on 5/5/2022 at 9:05\n"
    "Reviewed again, no change."
)


def test_blocks_split_with_authors_and_datetimes():
    blocks = split_blocks(NOTES)
    assert [b.author for b in blocks] == [None, "Jane Doe", "Bob O'Neill"]
    assert [b.written_at for b in blocks] == [None, "2022-05-05T17:45", "2022-05-05T09:05"]
    # blocks tile the text, in order
    assert blocks[0].start == 0 and blocks[-1].end == len(NOTES)
    assert all(a.end == b.start for a, b in zip(blocks, blocks[1:], strict=False))
    assert NOTES[blocks[1].text_start :].lstrip().startswith("Agree with PP's plan.")
    assert NOTES[blocks[2].author_start : blocks[2].author_end] == "Bob O'Neill"


def test_text_before_first_header_is_its_own_block_with_unknown_author():
    first = split_blocks(NOTES)[0]
    assert first.author is None and first.written_at is None
    assert "Mr Smith present" in NOTES[first.start : first.end]


def test_header_variants_are_tolerated():
    variants = [
        "COMMENT ADDED BY JANE DOE ON 05/05/2022 AT 17:45\nx",
        "Comment added by: Jane Doe on 05-05-2022 17:45\nx",
        "Comment Added By Jane Doe On 5.5.22 at 5:45pm\nx",
        "Notes lost their newlines. Comment added by Jane Doe on 05/05/2022 at 17:45 Agreed.",
    ]
    for text in variants:
        blocks = [b for b in split_blocks(text) if b.author]
        assert len(blocks) == 1, text
        assert blocks[0].author.lower() == "jane doe"
        assert blocks[0].written_at is not None and blocks[0].written_at.startswith("2022-05-05")


def test_invalid_date_keeps_block_without_datetime():
    (block,) = split_blocks("Comment added by Al Jones on 31/02/2022 at 10:00\nText")
    assert block.author == "Al Jones" and block.written_at is None


def test_empty_and_headerless_notes():
    assert split_blocks("") == []
    assert split_blocks("   \n ") == []
    assert split_blocks(None) == []
    (only,) = split_blocks("Just a note.")
    assert only.author is None and (only.start, only.end) == (0, len("Just a note."))


def test_blocks_on_doc_extension(nlp):
    doc = nlp(NOTES)
    assert [b.author for b in doc._.blocks] == [None, "Jane Doe", "Bob O'Neill"]
