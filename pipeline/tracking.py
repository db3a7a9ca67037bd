"""MLflow: runs for every train and evaluate, the pyfunc model, and the registry alias.

The tracking store defaults to a SQLite database under ``experiments/`` (artifacts beside it), so
a fresh machine needs no server; ``MLFLOW_TRACKING_URI`` points elsewhere when a team has one.
Nothing logged here holds note text except redacted examples: params are configuration, metrics
are numbers, and the data is identified by a fingerprint, not by content.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import config
from pipeline.errors import ModelNotFoundError

MODEL_NAME = "oversight"
CHAMPION = "champion"
DEFAULT_EXPERIMENT = "oversight"
#: The pyfunc's input: redacted text, plus the rule attributes when the model uses them.
INPUT_COLUMN = "text"


def default_tracking_uri() -> str:
    return f"sqlite:///{config.EXPERIMENTS_DIR / 'mlflow.db'}"


def configure(tracking_uri: str | None = None) -> str:
    """Point MLflow at the store: the argument, else $MLFLOW_TRACKING_URI, else our SQLite file."""
    import mlflow

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _experiment_id(name: str) -> str:
    import mlflow

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    uri = mlflow.get_tracking_uri()
    location = None
    if uri.startswith("sqlite:///"):
        # keep artifacts beside the database, not in ./mlruns of whatever the cwd is
        location = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=config.ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def fingerprint(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """A stable hash of a table's rows (ids, labels, hashed text): names the data, holds none."""
    h = hashlib.sha256()
    for col in columns:
        values = pd.util.hash_pandas_object(frame[col].astype(str), index=False).to_numpy()
        h.update(col.encode())
        h.update(values.tobytes())
    return h.hexdigest()[:16]


@contextmanager
def run(
    kind: str,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    tracking_uri: str | None = None,
) -> Iterator[Any]:
    """An MLflow run tagged with its step (train / evaluate), the git commit and our version."""
    import mlflow

    from pipeline import __version__

    configure(tracking_uri)
    with mlflow.start_run(experiment_id=_experiment_id(experiment), run_name=kind) as active:
        mlflow.set_tags(
            {
                "step": kind,
                "git_commit": git_commit(),
                "oversight_nlp_version": __version__,
                **(tags or {}),
            }
        )
        if params:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
        yield active


def _param(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."


def predict_frame(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Labels and probabilities for a frame of redacted text (+ attribute columns if present)."""
    from pipeline.classify.base import FEATURE_COLUMNS

    present = [c for c in FEATURE_COLUMNS if c in frame.columns]
    features = frame[present].reset_index(drop=True) if present else None
    texts = frame[INPUT_COLUMN].fillna("").astype(str).tolist()
    return model.predict(texts, features=features)


def _pyfunc_class():
    import mlflow.pyfunc

    class OversightPyfunc(mlflow.pyfunc.PythonModel):
        """Returns both labels and their probabilities for each row of redacted text."""

        def load_context(self, context) -> None:
            from pipeline.classify import load_model

            self.model = load_model(context.artifacts["model"])

        def predict(self, context, model_input, params=None):  # noqa: ARG002 - MLflow's API
            frame = (
                model_input
                if isinstance(model_input, pd.DataFrame)
                else pd.DataFrame({INPUT_COLUMN: list(model_input)})
            )
            if INPUT_COLUMN not in frame.columns:
                from pipeline.errors import ModelInputError

                raise ModelInputError(
                    f"model input needs a {INPUT_COLUMN!r} column; got {list(frame.columns)}"
                )
            return predict_frame(self.model, frame)

    return OversightPyfunc


def log_model(
    model: Any,
    *,
    example: pd.DataFrame,
    registered_name: str | None = MODEL_NAME,
    alias: str | None = CHAMPION,
    extra_files: Sequence[Path] = (),
) -> dict[str, Any]:
    """Log a fitted model as a pyfunc in the active run; register it and point ``alias`` at it.

    ``example`` must hold redacted text only (it is stored as the input example);
    ``extra_files`` are copied into the model folder (redacted data only).
    """
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # our predict takes and returns DataFrames; the signature is inferred from the example
        warnings.filterwarnings("ignore", message="Add type hints", category=UserWarning)
        folder = Path(tmp) / "model"
        model.save(folder)
        for extra in extra_files:  # e.g. the redacted held-out split, so evaluate can find it
            shutil.copy2(extra, folder / Path(extra).name)
        output = predict_frame(model, example)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=_pyfunc_class()(),
            artifacts={"model": str(folder)},
            signature=infer_signature(example, output),
            input_example=example,
            registered_model_name=registered_name,
            # explicit: inferring requirements would import and probe the model again
            pip_requirements=["oversight-nlp", "scikit-learn", "pandas", "numpy"],
        )
    result = {"model_uri": info.model_uri, "registered_name": registered_name, "version": None}
    if registered_name:
        version = str(info.registered_model_version)
        result["version"] = version
        if alias:
            MlflowClient().set_registered_model_alias(registered_name, alias, version)
            result["alias"] = alias
    return result


def load_pyfunc(uri: str, *, tracking_uri: str | None = None):
    """Load a model by URI (``models:/oversight@champion``, ``runs:/...``) or local folder."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    configure(tracking_uri)
    try:
        return mlflow.pyfunc.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise ModelNotFoundError(f"cannot load model {uri!r}: {type(exc).__name__}") from None


def resolve_alias(
    name: str = MODEL_NAME, alias: str = CHAMPION, *, tracking_uri: str | None = None
) -> str:
    """The model version an alias points at."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    configure(tracking_uri)
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        raise ModelNotFoundError(
            f"no model {name!r} with alias {alias!r} in the registry"
        ) from None
