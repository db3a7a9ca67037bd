"""Telling what a file is: its format, and for CSV its text encoding and delimiter.

Excel on Windows saves "CSV" as cp1252 and "CSV UTF-8" with a byte-order mark; other tools write
plain UTF-8. A wrong guess either crashes the read or silently garbles every accented name, so
the guess is made from the whole file, not its first lines: a cp1252 file can be pure ASCII for
a hundred thousand rows before the first "£". The scan is one pass of C-speed decoding over the
bytes in fixed blocks, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Format = Literal["csv", "jsonl", "parquet", "xlsx", "delius"]

#: Extensions we dispatch on without looking inside.
EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "delius",
}

#: Extensions picked up when a folder is expanded: ``.txt`` only when named explicitly.
FOLDER_EXTENSIONS: frozenset[str] = frozenset(EXTENSIONS) - {".txt"}

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BLOCK = 1 << 20
_DECISIVE = 1000
_HEAD = 1 << 16
_ESCAPED = re.compile("[\udc80-\udcff]")
_DELIMITERS = (",", ";", "\t", "|")


def sniff_encoding(path: str | Path) -> str:
    """The encoding to read a CSV with: from its BOM, else UTF-8 unless the bytes say cp1252.

    Without a BOM the file is decoded as UTF-8 and we count bytes that are not valid UTF-8
    against the continuation bytes of valid multi-byte characters. No invalid bytes: UTF-8.
    More valid multi-byte UTF-8 than invalid bytes: still UTF-8, and the few rows holding bad
    bytes are quarantined by the reader. Otherwise cp1252, the Excel default. (Bytes undefined
    even in cp1252 then quarantine their rows, so nothing is guessed twice.)
    """
    return _scan(path, stop_early=True).encoding


@dataclass(frozen=True, slots=True)
class TextScan:
    """What one pass over a text file found: the encoding to read it with (see
    :func:`sniff_encoding`), and whether it is UTF-8 (with or without a BOM) throughout, with
    no undecodable byte and no NUL character (``clean_utf8``)."""

    encoding: str
    clean_utf8: bool


def scan_text(path: str | Path) -> TextScan:
    """:func:`sniff_encoding` plus whether the whole file is clean UTF-8 (one pass over it)."""
    return _scan(path, stop_early=False)


def _scan(path: str | Path, *, stop_early: bool) -> TextScan:
    with open(path, "rb") as f:
        head = f.read(4)
        for bom, encoding in _BOMS:
            if head.startswith(bom):
                if stop_early or encoding != "utf-8-sig":
                    return TextScan(encoding, False)
                f.seek(len(bom))
                break
        else:
            encoding = ""
            f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        invalid = extra_bytes = 0
        nul = False
        final = False
        while not final:
            block = f.read(_BLOCK)
            final = not block
            text = decoder.decode(block, final=final)
            # An escaped byte is one byte and one character; a valid multi-byte character is
            # several bytes and one character, so bytes beyond characters measure valid UTF-8
            # without a pass over every character in Python (exact over the whole file, even
            # when a character straddles two blocks).
            extra_bytes += len(block) - len(text)
            nul = nul or "\x00" in text
            if not text.isascii() and _has_escaped(text):
                invalid += len(_ESCAPED.findall(text))
                if (
                    stop_early
                    and not encoding
                    and invalid >= _DECISIVE
                    and invalid > 10 * extra_bytes
                ):
                    return TextScan("cp1252", False)  # plainly not UTF-8: no need to read on
    if encoding:  # utf-8-sig, from the BOM
        return TextScan(encoding, invalid == 0 and not nul)
    if invalid == 0 or extra_bytes > invalid:
        return TextScan("utf-8", invalid == 0 and not nul)
    return TextScan("cp1252", False)


def _has_escaped(text: str) -> bool:
    """Whether ``text`` holds an escaped (undecodable) byte. Encoding to UTF-8 fails on exactly
    those (lone surrogates), and is a C-speed pass where a regex search is a slow one."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _ESCAPED.search(text) is not None
    return False


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a CSV from its header line: the commonest of , ; tab and |.

    Excel in many European locales saves CSV with semicolons; a header line has no quoted
    commas in practice, so counting is enough and cheaper than csv.Sniffer over data rows.
    """
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def sniff_format(path: str | Path) -> Format | None:
    """The format of a file, by extension, else by its first bytes; None when we cannot tell."""
    p = Path(path)
    by_ext = EXTENSIONS.get(p.suffix.lower())
    if by_ext == "delius":
        return "jsonl" if _looks_like_jsonl(p) else "delius"
    if by_ext is not None:
        return by_ext
    with open(p, "rb") as f:
        head = f.read(_HEAD)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    stripped = head.lstrip(codecs.BOM_UTF8).lstrip()
    if stripped.startswith(b"{"):
        return "jsonl" if _looks_like_jsonl(p) else "delius"
    if stripped.startswith(b"["):
        return "delius"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" not in head:
        return "csv"  # text: the CSV reader reports it clearly if it is not CSV either
    return None


def _looks_like_jsonl(path: Path) -> bool:
    """True when a .json file holds one object per line rather than one document.

    Decided from the first 64 KiB, so a large JSON Lines file misnamed .json is never loaded
    whole: a first object that ends before another one starts means JSON Lines.
    """
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if not text.startswith("{"):
        return False
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        return False  # the first object runs past the sniffed head: a single document
    return text[end:].lstrip().startswith("{")
