"""The shortcuts taken for scoring speed give exactly what the plain computations give."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipeline.classify import make_model
from pipeline.classify.base import FEATURE_COLUMNS, HEADS
from pipeline.classify.baseline import _TRIM_MAX_K, _top_per_row
from pipeline.classify.features import WordNgramTfidf, normalise, tokenize
from pipeline.schema import ENTRIES_SCHEMA
from pipeline.score.local import SCORED_SCHEMA, LoadedModel, _Scorer

TRICKY = [
    "ΟΔΟΣ ΣΑΣ. Σ σ",  # final sigma depends on the neighbouring letters
    "İstanbul ISTANBUL istanbul",  # lower() makes two characters of one
    "Risk risk RISK 12/03 99/88 ٣٤ ２",  # case and (non-ASCII) digits fold together
    "no\u00a0break\u2028line\x1cfile\tsep  end\n",  # whitespace str.split knows
    "",
    None,
    float("nan"),
    "risk\u00a0Risk",
]


def test_tokenize_is_normalise_then_split():
    docs = TRICKY * 3
    got = tokenize(docs)
    flat = [t for d in docs for t in normalise(d).split()]
    codes, uniques = pd.factorize(np.asarray(flat, dtype=object))
    assert got.types == list(uniques)
    np.testing.assert_array_equal(got.ids, codes)
    np.testing.assert_array_equal(
        got.indptr, np.cumsum([0, *(len(normalise(d).split()) for d in docs)])
    )
    series = tokenize(pd.Series(docs, dtype="str"))
    assert series.types == got.types
    np.testing.assert_array_equal(series.ids, got.ids)


def _top_by_sorting(rows, contrib, n, top_k):
    """Every row's top_k positive contributions by a plain sort per row."""
    out = []
    for r in range(n):
        at = np.flatnonzero((rows == r) & (contrib > 0))
        out.extend(at[np.argsort(-contrib[at], kind="stable")][:top_k].tolist())
    return out


@pytest.mark.parametrize("top_k", [1, 2, 3, 5, _TRIM_MAX_K, _TRIM_MAX_K + 1, 40])
def test_top_per_row_keeps_ties_in_column_order(top_k):
    rng = np.random.default_rng(top_k)
    n = 60
    rows = np.sort(rng.integers(0, n, 2000))
    # few distinct values: many ties, also at the k-th place; some rows have none positive
    contrib = rng.choice([-1.0, 0.0, 0.25, 0.5, 0.5000001, 1.0, 2.0], size=len(rows))
    contrib[rows % 7 == 0] = -1.0
    got = _top_per_row(rows, contrib, n, top_k)
    assert got.tolist() == _top_by_sorting(rows, contrib, n, top_k)
    empty = np.zeros(0, dtype=np.int64)
    assert _top_per_row(empty, np.zeros(0), 3, top_k).tolist() == []


def test_bigram_columns_match_the_vocabulary(labelled):
    texts = labelled["text"].tolist()
    vec = WordNgramTfidf((1, 2), min_df=2).fit(texts[:150])
    tokens = tokenize([*texts[150:], "unseen words here", "", None])
    counts = vec._transform_counts(tokens).toarray()
    # the same counts from the bigrams' strings, as before the code index
    words = [[w for t in normalise(d).split() for w in _words_of(t)] for d in texts[150:]]
    for i, ws in enumerate(words):
        want = np.zeros(len(vec.vocabulary_))
        for gram in [*ws, *(f"{a} {b}" for a, b in zip(ws, ws[1:], strict=False))]:
            if gram in vec.vocabulary_:
                want[vec.vocabulary_[gram]] += 1
        np.testing.assert_array_equal(counts[i], want)
    assert "_bigram_cache" in vec.__dict__
    assert "_bigram_cache" not in pickle.loads(pickle.dumps(vec)).__dict__


def _words_of(token):
    import re

    return re.findall(r"(?u)\b\w\w+\b", token)


def test_predict_top_tokens_equals_explain(baseline, labelled):
    texts = labelled["text"].tolist()[:60] + ["", "noted"]
    pred, tops = baseline.predict_top_tokens(texts, top_k=3)
    pd.testing.assert_frame_equal(pred, baseline.predict(texts))
    items = baseline.explain(texts, top_k=3)
    for h in HEADS:
        assert tops[h] == [[t for t, _ in item[h]["top_tokens"]] for item in items]
    empty_pred, empty_tops = baseline.predict_top_tokens([], top_k=3)
    assert len(empty_pred) == 0 and empty_tops == {h: [] for h in HEADS}


@pytest.fixture(scope="module")
def entries(labelled):
    n = 50
    rng = np.random.default_rng(0)
    columns = {}
    for f in ENTRIES_SCHEMA:
        if f.name == "text":
            columns[f.name] = [*labelled["text"].tolist()[: n - 2], None, ""]
        elif f.name == "initiated_by":
            columns[f.name] = rng.choice(["pp_request", "supervisor", None], n).tolist()
        elif pa.types.is_boolean(f.type):
            columns[f.name] = rng.choice([True, False, None], n).tolist()
        elif pa.types.is_integer(f.type):
            columns[f.name] = rng.integers(0, 5, n).tolist()
        elif pa.types.is_list(f.type):
            columns[f.name] = [["a", "b"] if i % 3 else None for i in range(n)]
        else:
            columns[f.name] = [f"{f.name}-{i}" if i % 5 else None for i in range(n)]
    return pa.Table.from_pydict(columns, schema=ENTRIES_SCHEMA)


@pytest.mark.parametrize("use_features", [False, True])
@pytest.mark.parametrize("explain", [True, False])
def test_scorer_table_equals_the_pandas_round_trip(labelled, entries, use_features, explain):
    if use_features:
        frame = labelled.reset_index(drop=True)
        model = make_model("baseline", min_df=2, use_features=True)
        feats = pd.DataFrame(
            {c: np.resize(entries.column(c).to_pylist(), len(frame)) for c in FEATURE_COLUMNS}
        )
        model.fit(frame["text"], frame["oversight_type"], frame["content"], features=feats)
    else:
        model = make_model("baseline", min_df=2).fit(
            labelled["text"], labelled["oversight_type"], labelled["content"]
        )
    scorer = _Scorer(LoadedModel(model, None, "m", "baseline", "baseline@x", "x"), explain)
    fast = scorer.table(entries)
    slow = pa.Table.from_pandas(scorer(entries.to_pandas()), schema=SCORED_SCHEMA)
    assert fast.schema.equals(SCORED_SCHEMA)
    assert fast.equals(slow)
    # not the engine's schema: the round trip through pandas, as before
    assert scorer.table(entries.select(list(reversed(entries.column_names)))).equals(slow)
