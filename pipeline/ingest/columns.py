"""Column mapping: how a team's own export headers become our EXPORT_COLUMNS.

Teams export contacts from different reporting tools, so header spellings differ ("Contact Date",
"CONTACT_DATE", "Date of Contact"). Our own names are accepted whatever their case and whether
words are split by spaces, underscores or hyphens; anything else is named in a YAML mapping file
(see ``mapping.example.yaml`` next to this module). Headers we do not know are ignored, so an
export may carry extra columns.

Error messages here may name headers but never cell values: a CSV saved without a header row has
data (possibly note text) in its first line, so a missing column is reported by our column name
only.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import AmbiguousColumnError, MappingError, MissingColumnError
from pipeline.schema import EXPORT_COLUMNS, REQUIRED_COLUMNS

_SEPARATORS = re.compile(r"[\s_\-]+")
_OPTIONS = ("columns", "date_format", "encoding", "delimiter", "sheet")


def normalise_header(header: object) -> str:
    """Fold a header for matching: case, surrounding space, a stray BOM and word separators.

    "Contact Date", "contact_date" and " CONTACT-DATE " all become ``contact_date``.
    """
    text = str(header).replace("\ufeff", "").strip().casefold()
    return _SEPARATORS.sub("_", text).strip("_")


_OUR_NAMES: dict[str, str] = {normalise_header(c): c for c in EXPORT_COLUMNS}


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """A team's export conventions, loaded from a mapping file (or the defaults).

    ``columns`` maps the team's header (matched after :func:`normalise_header`) to our column;
    several headers may name one column so one file serves several export versions, as long as a
    single file carries only one of them. ``date_format`` (strptime) is tried before the formats
    we recognise ourselves, which matters for month-first dates we would otherwise misread.
    ``encoding``, ``delimiter`` and ``sheet`` override CSV sniffing and the xlsx sheet choice.
    """

    columns: Mapping[str, str] = field(default_factory=dict)
    date_format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        where = self.source
        folded: dict[str, str] = {}
        for header, target in self.columns.items():
            if not isinstance(header, str) or not isinstance(target, str):
                raise MappingError(
                    "column names must be text: 'Their header: our_column'", path=where
                )
            if target not in EXPORT_COLUMNS:
                raise MappingError(
                    f"unknown target column {target!r}; ours are: {', '.join(EXPORT_COLUMNS)}",
                    path=where,
                )
            folded[normalise_header(header)] = target
        object.__setattr__(self, "columns", folded)
        if self.date_format is not None and (
            not isinstance(self.date_format, str) or "%" not in self.date_format
        ):
            raise MappingError(
                "date_format must be a strptime format such as '%d/%m/%Y'", path=where
            )
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except (LookupError, TypeError):
                raise MappingError(f"unknown encoding {self.encoding!r}", path=where) from None
        if self.delimiter is not None and (
            not isinstance(self.delimiter, str) or len(self.delimiter) != 1
        ):
            raise MappingError("delimiter must be a single character", path=where)
        if self.sheet is not None and not isinstance(self.sheet, str):
            raise MappingError("sheet must be a worksheet name", path=where)

    def resolver(self, *, path: str) -> ColumnResolver:
        """A header resolver for one file (it remembers which headers that file has used)."""
        return ColumnResolver(self, path=path)


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read a YAML column-mapping file; any problem is a :class:`MappingError` naming the file."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
        data: Any = yaml.safe_load(text)
    except OSError as exc:
        raise MappingError(f"cannot read the mapping file: {exc.strerror}", path=where) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MappingError(f"not valid YAML ({type(exc).__name__})", path=where) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise MappingError("expected a YAML mapping with a 'columns' key", path=where)
    unknown = sorted(str(k) for k in data if k not in _OPTIONS)
    if unknown:
        raise MappingError(
            f"unknown option(s) {', '.join(unknown)}; allowed: {', '.join(_OPTIONS)}", path=where
        )
    columns = data.get("columns") or {}
    if not isinstance(columns, dict):
        raise MappingError("'columns' must map your header to our column name", path=where)
    return ColumnMapping(
        columns=columns,
        date_format=data.get("date_format"),
        encoding=data.get("encoding"),
        delimiter=data.get("delimiter"),
        sheet=data.get("sheet"),
        source=where,
    )


def as_mapping(mapping: ColumnMapping | str | Path | None) -> ColumnMapping:
    """Accept a loaded mapping, a path to one, or None (our own header names only)."""
    if mapping is None:
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    return load_mapping(mapping)


def example_mapping_path() -> Path:
    """The documented example mapping shipped with the package."""
    return Path(str(resources.files("pipeline.ingest").joinpath("mapping.example.yaml")))


class ColumnResolver:
    """Resolves the headers of one file to our columns.

    An explicit mapping entry beats a match on our own name, so a team can point ``notes`` at
    "Case Notes (full)" even when the export also has a short "Notes" column. Two headers that
    resolve to the same column are an error: silently picking one could lose the notes.
    """

    def __init__(self, mapping: ColumnMapping, *, path: str) -> None:
        self.mapping = mapping
        self.path = path
        self._cache: dict[str, str | None] = {}
        self._by_target: dict[str, str] = {}
        self._explicit: set[str] = set()

    def resolve(self, headers: Iterable[object]) -> dict[str, str]:
        """Map each usable header (as written in the file) to our column; unknown ones are left out.

        Can be called again with new headers (JSON Lines keys appear record by record); a header
        seen before keeps its answer.
        """
        new = [str(h) for h in headers if h is not None and str(h) not in self._cache]
        explicit = {h: self.mapping.columns.get(normalise_header(h)) for h in new}
        self._explicit.update(t for t in explicit.values() if t)
        for h in new:
            target = explicit[h]
            if target is None:
                ours = _OUR_NAMES.get(normalise_header(h))
                # A name match only fills a column the mapping has not pointed elsewhere.
                target = None if ours in self._explicit else ours
            if target is not None:
                first = self._by_target.get(target)
                if first is not None:
                    raise AmbiguousColumnError(
                        f"headers {first!r} and {h!r} both map to column {target!r}; "
                        "keep one or map them explicitly",
                        path=self.path,
                        field=target,
                    )
                self._by_target[target] = h
            self._cache[h] = target
        return {h: t for h, t in self._cache.items() if t is not None}

    def target(self, header: str) -> str | None:
        """Our column for one header, or None when it is not one of ours (cached)."""
        if header not in self._cache:
            self.resolve([header])
        return self._cache[header]

    def require(self) -> None:
        """Raise :class:`MissingColumnError` unless every required column has a header."""
        missing = tuple(c for c in REQUIRED_COLUMNS if c not in self._by_target)
        if missing:
            raise MissingColumnError(missing, path=self.path)

    @property
    def targets(self) -> dict[str, str]:
        """Our column -> the header that feeds it."""
        return dict(self._by_target)
