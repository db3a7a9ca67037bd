"""Import spaCy without PyTorch.

spaCy's machine-learning library, thinc, imports PyTorch whenever it is installed (it is, for
the transformer classifier), which costs seconds at every start of ``oversight prepare`` and
of each worker process; the rule-based pipeline here never uses it. So the first import of
spaCy in a process hides ``torch`` for the length of that import (a ``None`` entry in
``sys.modules`` makes ``import torch`` fail at once) and puts everything back afterwards:
``torch`` can still be imported and used directly, only thinc's optional PyTorch layers are
off in that process. Nothing changes when ``torch`` (or thinc) is already loaded, or when the
environment variable ``OVERSIGHT_SPACY_TORCH=1`` asks for spaCy's usual import.
"""

from __future__ import annotations

import os
import sys


def import_spacy() -> None:
    if (
        "thinc" in sys.modules
        or "torch" in sys.modules
        or os.environ.get("OVERSIGHT_SPACY_TORCH") == "1"
    ):
        import spacy  # noqa: F401

        return
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy  # noqa: F401
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


import_spacy()
