"""The baseline model behind the shared interface: outputs, persistence, explanations, inputs."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.classify import (
    HEAD_LABELS,
    HEADS,
    OversightClassifier,
    load_model,
    make_model,
    proba_column,
)
from pipeline.classify.baseline import BaselineClassifier
from pipeline.errors import ConfigError, ModelFileError, ModelInputError, ModelNotFittedError
from pipeline.labels import ATTRIBUTES, CONTENT_LABELS, OVERSIGHT_TYPES

ROOT = Path(__file__).resolve().parents[2]


def _documented_columns() -> list[str]:
    cols = ["oversight_type", "oversight_type_proba", "content", "content_proba"]
    cols += [proba_column("oversight_type", lab) for lab in OVERSIGHT_TYPES]
    cols += [proba_column("content", lab) for lab in CONTENT_LABELS]
    return cols


def test_init_only_stores_parameters():
    model = make_model("baseline", alpha=3e-5, char_ngram_range=None)
    assert isinstance(model, BaselineClassifier) and isinstance(model, OversightClassifier)
    assert model.get_params()["alpha"] == 3e-5
    assert not any(k.endswith("_") for k in vars(model))
    assert "alpha=3e-05" in repr(model)


def test_predict_returns_the_documented_columns(baseline, labelled):
    texts = labelled["text"].iloc[:25]
    frame = baseline.predict(texts)
    assert list(frame.columns) == _documented_columns()
    assert frame.index.equals(texts.index)
    for head in HEADS:
        assert set(frame[head]) <= set(HEAD_LABELS[head])
        p = frame[[proba_column(head, lab) for lab in HEAD_LABELS[head]]].to_numpy()
        np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
        np.testing.assert_allclose(frame[f"{head}_proba"], p.max(axis=1))
        assert (np.asarray(HEAD_LABELS[head], dtype=object)[p.argmax(axis=1)] == frame[head]).all()


def test_predict_proba_columns_follow_classes(baseline, labelled):
    proba = baseline.predict_proba(labelled["text"].tolist()[:10])
    assert set(proba) == set(HEADS)
    for head in HEADS:
        assert baseline.classes_[head] == list(HEAD_LABELS[head])
        assert proba[head].shape == (10, len(HEAD_LABELS[head]))


def test_learns_the_training_data(baseline, labelled):
    pred = baseline.predict(labelled["text"])
    assert (pred["oversight_type"] == labelled["oversight_type"]).mean() > 0.8
    assert (pred["content"] == labelled["content"]).mean() > 0.8


def test_empty_and_missing_texts(baseline):
    frame = baseline.predict(["", None, "   "])
    assert len(frame) == 3 and frame.notna().all().all()
    assert len(baseline.predict([])) == 0


def test_save_load_round_trip_gives_identical_probabilities(baseline, labelled, tmp_path):
    texts = labelled["text"].tolist()
    before = baseline.predict_proba(texts)
    folder = baseline.save(tmp_path / "model")
    assert (folder / "model.json").is_file()
    for back in (
        load_model(folder),
        BaselineClassifier.load(folder),
        OversightClassifier.load(folder),
    ):
        after = back.predict_proba(texts)
        for head in HEADS:
            assert np.array_equal(before[head], after[head])
    again = pickle.loads(pickle.dumps(baseline))
    assert np.array_equal(again.predict_proba(texts)["content"], before["content"])


def test_load_in_a_fresh_process(baseline, labelled, tmp_path):
    folder = baseline.save(tmp_path / "model")
    texts = labelled["text"].tolist()[:5]
    pd.Series(texts).to_frame("text").to_parquet(tmp_path / "t.parquet")
    code = (
        "import pandas as pd, sys\n"
        "from pipeline.classify import load_model\n"
        f"m = load_model({str(folder)!r})\n"
        f"t = pd.read_parquet({str(tmp_path / 't.parquet')!r})['text'].tolist()\n"
        f"m.predict(t).to_parquet({str(tmp_path / 'p.parquet')!r})\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)
    fresh = pd.read_parquet(tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(fresh, baseline.predict(texts), check_exact=True)


def test_load_refuses_what_is_not_a_model(tmp_path):
    with pytest.raises(ModelFileError):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text("not json", "utf-8")
    with pytest.raises(ModelFileError):
        load_model(tmp_path)


def test_same_seed_same_model(labelled):
    texts = labelled["text"].tolist()
    a = make_model("baseline", min_df=2, n_jobs=1).fit(
        texts, labelled["oversight_type"], labelled["content"]
    )
    b = make_model("baseline", min_df=2, n_jobs=2).fit(
        texts, labelled["oversight_type"], labelled["content"]
    )
    for head in HEADS:
        np.testing.assert_allclose(
            a.predict_proba(texts)[head], b.predict_proba(texts)[head], atol=1e-6
        )


def test_explain_names_the_evidence_for_the_predicted_label(baseline, labelled):
    texts = labelled["text"].tolist()[:6]
    pred = baseline.predict(texts)
    out = baseline.explain(texts, top_k=3)
    assert len(out) == len(texts)
    for i, item in enumerate(out):
        for head in HEADS:
            assert item[head]["label"] == pred[head].iloc[i]
            assert item[head]["proba"] == pytest.approx(pred[f"{head}_proba"].iloc[i])
            top = item[head]["top_tokens"]
            assert 0 < len(top) <= 3
            scores = [s for _, s in top]
            assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
            assert all(not name.startswith("char:") for name, _ in top)


def _explain_row_by_row(model, texts, top_k):
    """The explanation computed one row at a time: what the vectorised one must equal."""
    x = model._transform(texts, None)
    names, allowed = model.feature_names(), model._kind_mask()
    out = []
    for i in range(x.shape[0]):
        idx = x.indices[x.indptr[i] : x.indptr[i + 1]]
        val = x.data[x.indptr[i] : x.indptr[i + 1]]
        idx, val = idx[allowed[idx]], val[allowed[idx]]
        item = {}
        for head in model.heads_:
            proba = model._head_proba(head, x[i])[0]
            j = int(proba.argmax())
            contrib = val * model._coef(head)[j, idx]
            order = np.argsort(-contrib, kind="stable")[:top_k]
            top = [
                (str(names[idx[k]]), round(float(contrib[k]), 6)) for k in order if contrib[k] > 0
            ]
            item[head] = {
                "label": model.classes_[head][j],
                "proba": float(proba[j]),
                "top_tokens": top,
            }
        out.append(item)
    return out


def test_predict_explain_equals_predict_and_explain(baseline, labelled):
    texts = labelled["text"].tolist()[:40] + ["", "noted"]
    pred, items = baseline.predict_explain(texts, top_k=3)
    pd.testing.assert_frame_equal(pred, baseline.predict(texts))
    assert items == baseline.explain(texts, top_k=3)
    reference = _explain_row_by_row(baseline, texts, 3)
    for got, want in zip(items, reference, strict=True):
        for head in HEADS:
            assert got[head]["label"] == want[head]["label"]
            assert got[head]["proba"] == pytest.approx(want[head]["proba"])
            assert got[head]["top_tokens"] == want[head]["top_tokens"]
    assert baseline.predict_explain([], top_k=3)[1] == []
    # the cached explanation parts never travel with the model
    assert "_explain_cache" not in pickle.loads(pickle.dumps(baseline)).__dict__


def test_unfitted_model_refuses_to_predict_and_save(tmp_path):
    model = make_model("baseline")
    with pytest.raises(ModelNotFittedError):
        model.predict(["text"])
    with pytest.raises(ModelNotFittedError):
        model.save(tmp_path)


def test_bad_inputs_are_refused(labelled):
    texts = labelled["text"].tolist()
    types, contents = labelled["oversight_type"].tolist(), labelled["content"].tolist()
    model = make_model("baseline", min_df=2)
    with pytest.raises(ModelInputError, match="one string"):
        model.fit("a single text", types[:1], contents[:1])
    bad = ["riskk", *types[1:]]
    with pytest.raises(ModelInputError, match="unknown oversight_type label 'riskk' at position 0"):
        model.fit(texts, bad, contents)
    with pytest.raises(ModelInputError, match="labels for"):
        model.fit(texts, types[:-1], contents)
    with pytest.raises(ConfigError):
        make_model("baseline", classifier="forest").fit(texts, types, contents)
    with pytest.raises(ConfigError):
        make_model("baseline", classifier="linearsvc", calibration="none").fit(
            texts, types, contents
        )


def test_partly_labelled_rows_and_a_missing_head(labelled):
    texts = labelled["text"].tolist()
    contents = labelled["content"].tolist()
    contents[::3] = [None] * len(contents[::3])
    model = make_model("baseline", min_df=2).fit(texts, labelled["oversight_type"], contents)
    assert model.n_train_["content"] == sum(c is not None for c in contents)
    only_content = make_model("baseline", min_df=2).fit(texts, None, labelled["content"])
    assert only_content.heads_ == ["content"]
    assert list(only_content.predict(texts[:3]).columns) == [
        "content",
        "content_proba",
        *(proba_column("content", lab) for lab in CONTENT_LABELS),
    ]


def test_a_label_absent_from_training_gets_probability_zero(labelled, caplog):
    keep = labelled["oversight_type"] != "review"
    sub = labelled[keep]
    with caplog.at_level(logging.WARNING):
        model = make_model("baseline", min_df=2).fit(
            sub["text"], sub["oversight_type"], sub["content"]
        )
    assert "review" in caplog.text
    frame = model.predict(labelled["text"])
    assert (frame[proba_column("oversight_type", "review")] == 0).all()
    assert model.classes_["oversight_type"] == list(OVERSIGHT_TYPES)


@pytest.mark.parametrize(("clf", "calibration"), [("linearsvc", "sigmoid"), ("logreg", "isotonic")])
def test_calibrated_and_other_classifiers(labelled, clf, calibration):
    texts = labelled["text"].tolist()
    model = make_model(
        "baseline", min_df=2, classifier=clf, calibration=calibration, calibration_cv=2, max_iter=50
    )
    model.fit(texts, labelled["oversight_type"], labelled["content"])
    p = model.predict_proba(texts[:5])["oversight_type"]
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert model.explain(texts[:1], top_k=2)[0]["content"]["top_tokens"]


def test_rule_attributes_as_features(labelled, tmp_path):
    texts = labelled["text"].tolist()
    rng = np.random.default_rng(0)
    feats = pd.DataFrame({a: rng.random(len(texts)) > 0.5 for a in ATTRIBUTES})
    feats["initiated_by"] = labelled["initiated_by"].to_numpy()
    model = make_model("baseline", min_df=2, use_features=True, explain_kinds=("attr",))
    model.fit(texts, labelled["oversight_type"], labelled["content"], features=feats)
    assert model.feature_columns_ == [*ATTRIBUTES, "initiated_by"]
    assert any(n.startswith("attr:") for n in model.feature_names())
    assert any(n.startswith("initiated_by=") for n in model.feature_names())
    with pytest.raises(ModelInputError, match="features"):
        model.predict(texts[:3])
    with pytest.raises(ModelInputError, match="rows"):
        model.predict(texts[:3], features=feats.iloc[:2])
    before = model.predict_proba(texts, features=feats)
    back = load_model(model.save(tmp_path / "m"))
    assert np.array_equal(back.predict_proba(texts, features=feats)["content"], before["content"])
    for item in model.explain(texts[:5], features=feats.iloc[:5]):
        assert all(
            n.startswith(("attr:", "initiated_by=")) for n, _ in item["content"]["top_tokens"]
        )
    # a text-only model ignores features it is given
    plain = make_model("baseline", min_df=2).fit(
        texts, labelled["oversight_type"], labelled["content"], features=feats
    )
    assert plain.feature_columns_ == []


def test_evaluate_model_on_a_labelled_frame(baseline, labelled):
    from pipeline.evaluate import evaluate_model

    ev = evaluate_model(baseline, labelled, n_boot=100)
    for head in HEADS:
        r = ev["heads"][head]
        assert r["n"] == len(labelled) and 0.5 < r["macro_f1"] <= 1.0
        assert "macro_f1_ci_cases" in r
        assert 0 <= r["ece"] < 0.5
    assert list(ev["errors"].columns) == [
        "id",
        "head",
        "true",
        "pred",
        "proba_pred",
        "proba_true",
        "text",
    ]


def test_a_class_too_small_to_calibrate_is_left_uncalibrated(labelled, caplog):
    frame = labelled.copy()
    review = frame.index[frame["oversight_type"] == "review"]
    frame = frame.drop(review[1:])  # one review entry left: too few for 2 calibration folds
    with caplog.at_level(logging.WARNING):
        model = make_model("baseline", min_df=2).fit(
            frame["text"], frame["oversight_type"], frame["content"]
        )
    assert model.calibrated_ == {"oversight_type": False, "content": True}
    assert "not calibrated" in caplog.text
    with pytest.raises(ModelInputError, match="calibration_cv"):
        make_model("baseline", min_df=2, classifier="linearsvc", calibration="sigmoid").fit(
            frame["text"], frame["oversight_type"], frame["content"]
        )


def test_style_probe_file_is_well_formed():
    """The hand-written probe (other wording than the generator's) used in the issue-4 report."""
    probe = pd.read_json(ROOT / "tests/classify/data/style_probe.jsonl", lines=True)
    assert probe["id"].is_unique and probe["text"].str.len().min() >= 20
    assert set(probe["oversight_type"]) == set(OVERSIGHT_TYPES)
    assert set(probe["content"]) == set(CONTENT_LABELS)
