"""Every error the pipeline raises, gathered in one place with clear messages.

Messages name the file, row and field; they never quote note text (it may hold personal data).
"""

from __future__ import annotations


class OversightError(Exception):
    """Base class: every error of ours is one of these, so the CLI can report it cleanly."""


class ConfigError(OversightError, ValueError):
    """A parameter, option or config file is invalid."""


class InputError(OversightError):
    """An input file cannot be used. Names the file and, where known, the row and field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path, self.row, self.field = path, row, field
        where = ", ".join(
            p
            for p in (
                f"file {path}" if path else "",
                f"row {row}" if row is not None else "",
                f"field {field!r}" if field else "",
            )
            if p
        )
        super().__init__(f"{message} ({where})" if where else message)


# --- ingest errors (readers, column mapping, validation) --------------------------------------
# Whole-file problems raise; a single bad row is quarantined instead (pipeline.ingest.validate).


class MappingError(ConfigError):
    """A column-mapping file is invalid (unknown target column, bad option, not YAML)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{message} (mapping file {path})" if path else message)


class UnsupportedFormatError(InputError):
    """An input file is of a format the ingest step cannot read, or the path does not exist."""


class UnreadableFileError(InputError):
    """An input file of a known format is broken as a whole (not parseable, wrong shape)."""


class MissingColumnError(InputError):
    """A flat export lacks a required column, so none of its rows can be used.

    ``columns`` holds our names of the missing columns; the message names them and the file.
    """

    def __init__(self, columns: tuple[str, ...], *, path: str | None = None) -> None:
        self.columns = columns
        names = ", ".join(repr(c) for c in columns)
        plural = "s" if len(columns) > 1 else ""
        super().__init__(
            f"required column{plural} {names} not found; rename the header or map it in a "
            "column-mapping file (see pipeline/ingest/mapping.example.yaml)",
            path=path,
            field=columns[0] if len(columns) == 1 else None,
        )


class AmbiguousColumnError(InputError):
    """Two headers of one file map to the same column of ours, so we cannot tell which to use."""


# --- nlp errors (spaCy components and their rules) --------------------------------------------


class NlpError(OversightError):
    """Base class of the errors raised by the spaCy components and their rules."""


class RulesError(NlpError):
    """A rules file shipped with (or given to) an nlp component is missing or malformed.

    Names the file and, where known, the key; never quotes note text.
    """

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        self.path, self.key = path, key
        where = ", ".join(
            p for p in (f"file {path}" if path else "", f"key {key!r}" if key else "") if p
        )
        super().__init__(f"{message} ({where})" if where else message)


class NlpConfigError(NlpError, ConfigError):
    """``make_nlp`` or ``process`` was given an unknown component or an invalid option."""


# --- prepare errors ------------------------------------------------------------------------------


class PrepareInvariantError(OversightError):
    """Rows went missing between input and output: a bug, never a property of the input."""

    def __init__(self, *, rows_in: int, entries: int, non_oversight: int, quarantined: int) -> None:
        super().__init__(
            f"row counts do not balance: {rows_in} in, but {entries} entries + "
            f"{non_oversight} non-oversight + {quarantined} quarantined = "
            f"{entries + non_oversight + quarantined}; no output was written"
        )
