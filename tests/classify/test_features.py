"""The fast TF-IDF vectorizers give scikit-learn's TF-IDF."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.classify.features import (
    CharNgramTfidf,
    TextTfidf,
    WordNgramTfidf,
    normalise,
)


@pytest.fixture(scope="module")
def texts(labelled):
    out = labelled["text"].tolist()
    return [*out, "", "Risk 2024: DA!! call-out", None]


def _same(sk, mine, texts):
    assert set(sk.vocabulary_) == set(mine.vocabulary_)
    order = [sk.vocabulary_[n] for n in mine.get_feature_names_out()]
    a = sk.transform(texts).toarray()[:, order]
    b = mine.transform(texts).toarray()
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_word_ngrams_match_scikit_learn(texts):
    fit, held = texts[:150], texts[150:]
    sk = TfidfVectorizer(
        preprocessor=normalise, ngram_range=(1, 2), min_df=2, sublinear_tf=True
    ).fit(fit)
    mine = WordNgramTfidf((1, 2), min_df=2).fit(fit)
    _same(sk, mine, held)


def test_char_ngrams_match_scikit_learn(texts):
    fit, held = texts[:150], texts[150:]
    sk = TfidfVectorizer(
        preprocessor=normalise, analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True
    ).fit(fit)
    mine = CharNgramTfidf((2, 5), min_df=2).fit(fit)
    _same(sk, mine, held)


def test_text_tfidf_stacks_both_and_names_them(texts):
    tf = TextTfidf(min_df=2, max_features=300)
    x = tf.fit_transform(texts)
    names = tf.get_feature_names_out()
    assert x.shape == (len(texts), len(names)) and x.dtype == np.float32
    assert {n.split("__")[0] for n in names} == {"word", "char"}
    assert sum(n.startswith("word__") for n in names) <= 300
    np.testing.assert_allclose(x[:3].toarray(), tf.transform(texts[:3]).toarray(), atol=1e-7)


def test_digits_become_zero_and_case_is_folded():
    assert normalise("Review on 12/03/2024 BY PP") == "review on 00/00/0000 by pp"
    assert normalise(None) == ""


def test_char_ngram_word_cache_gives_the_same_features(texts):
    """Transform remembers each word's n-gram columns: the same matrix on a second call, on
    other batches, after a refit (the cache follows the vocabulary), and never pickled."""
    import pickle

    fit, held = texts[:150], texts[150:]
    mine = CharNgramTfidf((2, 5), min_df=2).fit(fit)
    fresh = pickle.loads(pickle.dumps(mine))
    first = mine.transform(held).toarray()
    assert "_type_cache" in mine.__dict__
    assert "_type_cache" not in pickle.loads(pickle.dumps(mine)).__dict__
    np.testing.assert_array_equal(mine.transform(held).toarray(), first)
    np.testing.assert_array_equal(fresh.transform(held).toarray(), first)
    for part in (held[:7], held[7:40], held[::3], ["", None, "unseen wordz"]):
        np.testing.assert_array_equal(
            mine.transform(part).toarray(),
            pickle.loads(pickle.dumps(fresh)).transform(part).toarray(),
        )
    mine.fit(held)  # a new vocabulary: the remembered columns no longer apply
    np.testing.assert_array_equal(
        mine.transform(fit).toarray(),
        CharNgramTfidf((2, 5), min_df=2).fit(held).transform(fit).toarray(),
    )


def test_a_texts_features_do_not_depend_on_its_batch(texts):
    """Each row is normalised over itself alone: scoring the same entry in another chunk, in
    another worker or on Spark gives bit-identical features (so identical probabilities)."""
    tfidf = TextTfidf(min_df=2).fit(texts)
    batch = tfidf.transform(texts)
    for i in (0, 7, len(texts) // 2, len(texts) - 1):
        alone = tfidf.transform([texts[i]])
        assert np.array_equal(alone.indices, batch[i].indices)
        assert np.array_equal(alone.data, batch[i].data)  # bit for bit, not approximately
    with_empty = tfidf.transform(["", texts[3], "   "])
    assert with_empty[0].nnz == 0 and with_empty[2].nnz == 0
    assert np.array_equal(with_empty[1].data, batch[3].data)
