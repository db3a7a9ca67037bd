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
        self, message: str, *, path: str | None = None, row: int | None = None, field: str | None = None
    ) -> None:
        self.path, self.row, self.field = path, row, field
        where = ", ".join(
            p for p in (
                f"file {path}" if path else "",
                f"row {row}" if row is not None else "",
                f"field {field!r}" if field else "",
            ) if p
        )
        super().__init__(f"{message} ({where})" if where else message)


# --- ingest errors (readers, column mapping, validation) --------------------------------------


# --- nlp errors (spaCy components and their rules) --------------------------------------------
