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


# --- tracking and scoring errors ---------------------------------------------------------------


class ModelNotFoundError(OversightError):
    """A model URI, registry name or alias does not resolve to a model."""


class ModelInputError(OversightError, ValueError):
    """The data handed to a model lacks the columns it expects."""


# --- transformer errors --------------------------------------------------------------------------


class TransformerError(OversightError):
    """Base class of the errors raised by the fine-tuned transformer model."""


class TransformerUnavailableError(TransformerError, ImportError):
    """torch / transformers (or, for ``backend='trainer'``, accelerate) are not installed."""


class TransformerCheckpointError(TransformerError, ConfigError):
    """A checkpoint or saved-model folder is missing, not local, or not of the expected kind."""


# --- classify / datasets errors ------------------------------------------------------------------
# Labelled data (pipeline.datasets), the classifiers (pipeline.classify) and their evaluation
# (pipeline.evaluate). Bad fit/predict inputs raise ModelInputError (tracking section above).


class LabelledDataError(InputError):
    """Labelled data (a generator folder, a researcher's file, a Label Studio export) cannot be
    used: a missing column, an unreadable file. Names the file, row and field, never the text."""


class UnknownLabelError(LabelledDataError):
    """A label is not one of the scheme's (``labels.OVERSIGHT_TYPES`` / ``CONTENT_LABELS`` /
    ``INITIATORS``)."""


class EmptyTextError(LabelledDataError):
    """A labelled row has no text to learn from."""


class SplitError(OversightError, ValueError):
    """Train / validation / test splits cannot be made as asked (sizes, too few cases)."""


class MissingClassError(SplitError):
    """A label of the scheme has no example in the training split, so no model could learn it."""

    def __init__(self, head: str, labels: tuple[str, ...], message: str) -> None:
        self.head, self.labels = head, labels
        super().__init__(message)


class ModelError(OversightError):
    """Base class of the errors raised by the classifiers behind ``pipeline.classify``."""


class UnknownModelError(ModelError, ConfigError):
    """No model is registered under this name (or its optional dependencies are missing)."""


class ModelNotFittedError(ModelError, ValueError, AttributeError):
    """A model was asked to predict, explain or save before ``fit``."""


class ModelFileError(ModelError):
    """A model folder cannot be written or read (missing files, another model kind, bad format)."""


class EvaluationError(OversightError, ValueError):
    """Predictions and true labels cannot be scored together (lengths, unknown labels)."""


# --- score errors --------------------------------------------------------------------------------
# The scoring engines (pipeline.score). Bad input files raise the ingest errors above.


class ScoreError(OversightError):
    """Base class of the errors raised by ``pipeline.score``."""


class ScoreModelError(ScoreError, ModelInputError):
    """The model cannot be loaded, or cannot score our entries: an unknown URI or folder, a
    missing head, other labels than the scheme's, or input columns scoring does not produce."""


class ScoreOutputError(ScoreError, ConfigError):
    """The output folder cannot be written, or an output option (format, chunk size) is invalid."""


class ScoreResumeError(ScoreError, ConfigError):
    """``--resume`` was asked for, but the interrupted run had another input, model or chunk
    size (or its part files no longer match the input)."""


# --- spark errors --------------------------------------------------------------------------------
# The Spark engine (pipeline.score.spark). Bad input files raise the ingest errors above.


class SparkUnavailableError(ScoreError, ImportError):
    """The Spark engine was asked for, but pyspark (or Java) is not installed here."""


# --- measure errors ------------------------------------------------------------------------------
# The culture measures (pipeline.measure). Bad export files raise the ingest errors above.


class MeasureError(OversightError):
    """Base class of the errors raised by ``pipeline.measure``."""


class MeasureInputError(MeasureError, InputError):
    """The scored file cannot be measured: missing, unreadable, or without a column the
    measures need. Names the file and column."""


class ValidationFileError(MeasureError, InputError):
    """The validation confusion (an evaluation's ``metrics.json``, or a labelled export for the
    initiator) cannot be used. Names the file and the head."""


class MeasureOptionError(MeasureError, ConfigError):
    """A measure option is invalid: an unknown grouping, a malformed comparison or period."""


class MeasureOutputError(MeasureError, InputError):
    """The output folder cannot be created or written. Names the folder."""


# --- report errors -------------------------------------------------------------------------------
# The evaluator's HTML report (pipeline.report). It reads only the aggregated measure tables.


class ReportError(OversightError):
    """Base class of the errors raised by ``pipeline.report``."""


class ReportInputError(ReportError, InputError):
    """A measures folder cannot be reported: a file or column of the measure contract is
    missing, or a value is of the wrong kind. Names the file and column."""


class ReportPrivacyError(ReportError):
    """The report would show something it must not: a group label shaped like a case
    identifier (CRN). Names the table and column, never the value."""


class BrowserNotFoundError(ReportError, FileNotFoundError):
    """No Chromium binary to open the report headless (``make test`` installs Debian's)."""


# --- annotation ----------------------------------------------------------------------------------
# The annotation loop (pipeline.annotate): Label Studio tasks and exports, agreement, sampling,
# label issues. Messages name the file, task id and field, never the note text.


class AnnotationError(OversightError):
    """Base class of the errors raised by ``pipeline.annotate``."""


class LabelingConfigError(AnnotationError, ConfigError):
    """A Label Studio labeling config (XML) cannot be used: not XML, no Text tag, or Choices
    that are not the scheme's."""


class AnnotationTaskError(AnnotationError, LabelledDataError):
    """A task in a Label Studio export does not match the labeling config: an unknown
    ``from_name`` or ``to_name``, a choice the config does not offer, several choices where one
    is allowed, or a missing id / text. Names the file, the task and the field."""


class LabelIssuesError(AnnotationError, ValueError):
    """Label issues (confident learning) cannot be computed as asked: too few cases for the
    folds, no labels to check, probabilities that do not match the labels."""


class LearningCurveError(AnnotationError, ConfigError):
    """The learning-curve experiment cannot run as configured: a seed set or batch too small or
    too large for the pool, too few cases to split, an unknown strategy."""
