"""Fast TF-IDF features for the linear models: word n-grams and in-word character n-grams.

scikit-learn's ``TfidfVectorizer(analyzer="char_wb")`` builds every character n-gram of every
document as a Python string: about 50 s for 50,000 notes on a 2-core machine, most of a one-minute
training budget. Notes reuse a small vocabulary, so these vectorizers work per *distinct word*
instead: each document becomes a row of word counts ``D`` (documents x words), each distinct word
a row of n-gram counts ``W`` (words x n-grams), and the n-gram counts of every document are the
sparse product ``D @ W``, computed in C. Word bigrams come from pairs of neighbouring word ids.
The result is the same TF-IDF as scikit-learn's (smooth idf, optional sublinear tf, l2 rows).

Both are scikit-learn transformers (``fit`` / ``transform`` / ``get_feature_names_out``), take
an iterable of strings and return ``scipy.sparse.csr_matrix`` of ``float32``;
:class:`TextTfidf` computes both from one pass over the texts (words found once, per distinct
whitespace token, and shared). They keep only
n-grams seen in at least ``min_df`` documents, so a rare string (a name the redactor missed) is
not stored in the model's vocabulary.

Text normalisation (:func:`normalise`): lower case, every digit becomes ``0`` (dates, times and
reference numbers carry no label information and should not become features).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import chain
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

_DIGIT = re.compile(r"\d")
#: distinct words whose n-gram columns a fitted :class:`CharNgramTfidf` remembers
_TYPE_CACHE_SIZE = 200_000
#: what fitted vectorizers work out from their vocabulary and remember, never pickled
_CACHES = ("_type_cache", "_bigram_cache")
#: words as scikit-learn's default token_pattern finds them (two or more word characters)
_WORD = re.compile(r"(?u)\b\w\w+\b")


def normalise(text: object) -> str:
    """Lower-case ``text`` and replace every digit with ``0``; ``None``/NaN become ``""``."""
    if not isinstance(text, str):
        return ""
    return _DIGIT.sub("0", text.lower())


class Tokens(NamedTuple):
    """Documents as whitespace tokens: the distinct tokens, every token's id (flat) and row
    pointers (document i holds ``ids[indptr[i]:indptr[i + 1]]``)."""

    types: list[str]
    ids: np.ndarray
    indptr: np.ndarray

    @property
    def n_docs(self) -> int:
        return len(self.indptr) - 1


def tokenize(docs: Iterable[object]) -> Tokens:
    """Normalise and split every document on whitespace; distinct tokens are hashed by
    ``pandas.factorize`` (in C).

    Splits first and normalises each distinct raw token once: neither lower-casing nor the
    digit rule makes or removes whitespace (and the final-sigma rule of ``str.lower`` stops at
    whitespace), so this is ``normalise(doc).split()``, with the same token order and ids."""
    if isinstance(docs, pd.Series | pd.Index):
        docs = docs.tolist()  # much faster than iterating pandas' Arrow-backed strings
    toks = [doc.split() if isinstance(doc, str) else [] for doc in docs]
    lengths = np.fromiter(map(len, toks), dtype=np.int64, count=len(toks))
    indptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lengths)])
    flat = np.fromiter(chain.from_iterable(toks), dtype=object, count=int(indptr[-1]))
    if not len(flat):
        return Tokens([], np.zeros(0, dtype=np.int64), indptr)
    raw_codes, raw = pd.factorize(flat)
    # raw tokens are numbered in order of first appearance, so their normalised forms are too
    codes, uniques = pd.factorize(np.fromiter(map(normalise, raw), dtype=object, count=len(raw)))
    return Tokens(list(uniques), codes.take(raw_codes).astype(np.int64, copy=False), indptr)


def _words(tokens: Tokens) -> Tokens:
    """The word tokens (``\\b\\w\\w+\\b``) of each document, derived per distinct whitespace
    token: a word never spans whitespace, so this equals searching each whole document."""
    words: dict[str, int] = {}
    per_type: list[list[int]] = []
    for t in tokens.types:
        per_type.append([words.setdefault(w, len(words)) for w in _WORD.findall(t)])
    type_len = np.fromiter(map(len, per_type), dtype=np.int64, count=len(per_type))
    type_ptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(type_len)])
    type_ids = np.fromiter(chain.from_iterable(per_type), dtype=np.int64, count=int(type_ptr[-1]))
    lens = type_len[tokens.ids] if len(tokens.ids) else np.zeros(0, dtype=np.int64)
    total = int(lens.sum())
    # ragged gather: for each token occurrence, its type's word ids, in order
    starts = type_ptr[tokens.ids] if len(tokens.ids) else lens
    out_ptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lens)])
    idx = np.arange(total, dtype=np.int64) - np.repeat(out_ptr[:-1] - starts, lens)
    flat = type_ids[idx]
    # document pointers in the word stream: words before each document's first token
    indptr = out_ptr[tokens.indptr]
    return Tokens(list(words), flat, indptr)


def _count_matrix(cols: np.ndarray, indptr: np.ndarray, n_cols: int) -> sp.csr_matrix:
    """Documents x columns counts from flat column ids and row pointers (-1 ids dropped)."""
    n_rows = len(indptr) - 1
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(indptr))
    keep = cols >= 0
    m = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], cols[keep])),
        shape=(n_rows, n_cols),
    )
    m.sum_duplicates()
    return m


def _select(
    counts: sp.csr_matrix, min_df: int | float, max_df: int | float, max_features: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Columns to keep (by document frequency) and their document frequencies."""
    n_docs = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    lo = min_df if isinstance(min_df, int) else int(np.ceil(min_df * n_docs))
    hi = max_df if isinstance(max_df, int) else int(np.floor(max_df * n_docs))
    keep = np.flatnonzero((df >= lo) & (df <= max(hi, lo)))
    if max_features is not None and len(keep) > max_features:
        # the most frequent columns; ties broken by column id for determinism
        order = np.lexsort((keep, -df[keep]))[:max_features]
        keep = np.sort(keep[order])
    return keep, df[keep]


def _keep_columns(counts: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """``counts[:, keep]`` without scipy's general (slower) fancy indexing."""
    remap = np.full(counts.shape[1], -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    new = remap[counts.indices]
    mask = new >= 0
    kept_before = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(mask)])
    indptr = kept_before[counts.indptr]
    return sp.csr_matrix((counts.data[mask], new[mask], indptr), shape=(counts.shape[0], len(keep)))


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray, sublinear: bool) -> sp.csr_matrix:
    """Counts to l2-normalised TF-IDF rows (float32). ``counts`` is used up: a float32 matrix
    has its data array scaled in place (every caller passes a matrix it has just made)."""
    x = counts if counts.dtype == np.float32 else sp.csr_matrix(counts, dtype=np.float32)
    # columns in order within each row: the order a product leaves them in depends on the rest
    # of the batch, and the norm's sum (below) must not
    x.sort_indices()
    data = x.data
    if sublinear:
        np.log(data, out=data)
        data += 1.0
    data *= idf.take(x.indices)
    # each row's squared norm summed over that row alone (float64), so that a text's features
    # do not depend on which other texts share its batch (a chunk, a worker's piece, Spark's)
    lengths = np.diff(x.indptr)
    sums = np.zeros(len(lengths))
    filled = lengths > 0
    if filled.any():
        sums[filled] = np.add.reduceat(np.square(data, dtype=np.float64), x.indptr[:-1][filled])
    norms = np.sqrt(sums)
    norms[norms == 0] = 1.0
    data /= np.repeat(norms.astype(np.float32), lengths)
    return x


class _NgramTfidf(TransformerMixin, BaseEstimator):
    """Shared fit/transform; subclasses say how tokens become n-gram counts."""

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 1),
        min_df: int | float = 2,
        max_df: int | float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
    ) -> None:
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf

    # subclasses: (counts over all candidate n-grams, their names) for fit; counts over the
    # fitted vocabulary for transform
    def _fit_counts(self, tokens: Tokens) -> tuple[sp.csr_matrix, list[str]]:
        raise NotImplementedError

    def _transform_counts(self, tokens: Tokens) -> sp.csr_matrix:
        raise NotImplementedError

    def _check_params(self) -> None:
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi:
            raise ValueError(
                f"ngram_range must be (lo, hi) with 1 <= lo <= hi, not {self.ngram_range}"
            )

    def fit(self, X, y=None):  # noqa: N803 - scikit-learn's signature
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):  # noqa: N803
        return self.fit_tokens(tokenize(X))

    def transform(self, X):  # noqa: N803
        return self.transform_tokens(tokenize(X))

    def fit_tokens(self, tokens: Tokens) -> sp.csr_matrix:
        """Fit on already tokenised documents and return their TF-IDF."""
        self._check_params()
        counts, names = self._fit_counts(tokens)
        keep, df = _select(counts, self.min_df, self.max_df, self.max_features)
        counts = _keep_columns(counts, keep)
        self.vocabulary_ = {names[j]: i for i, j in enumerate(keep)}
        n = tokens.n_docs
        self.idf_ = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        return _tfidf(counts, self.idf_, self.sublinear_tf)

    def transform_tokens(self, tokens: Tokens) -> sp.csr_matrix:
        check_is_fitted(self, "vocabulary_")
        return _tfidf(self._transform_counts(tokens), self.idf_, self.sublinear_tf)

    def __getstate__(self):
        state = super().__getstate__()
        for cache in _CACHES:
            state.pop(cache, None)
        return state

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "vocabulary_")
        names = np.empty(len(self.vocabulary_), dtype=object)
        for k, i in self.vocabulary_.items():
            names[i] = k
        return names


class CharNgramTfidf(_NgramTfidf):
    """TF-IDF of character n-grams inside words (like ``analyzer="char_wb"``): each
    whitespace-separated word is padded with a space on both sides and cut into n-grams of
    every length in ``ngram_range``."""

    def __init__(
        self,
        ngram_range: tuple[int, int] = (2, 5),
        min_df: int | float = 2,
        max_df: int | float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
    ) -> None:
        super().__init__(ngram_range, min_df, max_df, max_features, sublinear_tf)

    def _grams(self, word: str) -> list[str]:
        w = f" {word} "
        lo, hi = self.ngram_range
        out = []
        for n in range(lo, min(hi, len(w)) + 1):
            out.extend(w[i : i + n] for i in range(len(w) - n + 1))
        return out

    def _type_matrix(self, types: list[str], grams: dict[str, int], grow: bool) -> sp.csr_matrix:
        """Distinct tokens x n-grams counts (unknown n-grams skipped unless ``grow``)."""
        if not grow:
            return self._known_type_matrix(types, grams)
        cols: list[int] = []
        indptr = [0]
        setdefault = grams.setdefault
        for w in types:
            cols.extend([setdefault(g, len(grams)) for g in self._grams(w)])
            indptr.append(len(cols))
        return _count_matrix(
            np.asarray(cols, dtype=np.int64), np.asarray(indptr, dtype=np.int64), len(grams)
        )

    def _known_type_matrix(self, types: list[str], grams: dict[str, int]) -> sp.csr_matrix:
        """:meth:`_type_matrix` over a fixed vocabulary ``grams``: each word's n-gram columns
        are worked out once and remembered (words recur from batch to batch), in a cache tied
        to that vocabulary and ``ngram_range`` and never pickled."""
        cached = self.__dict__.get("_type_cache")
        if cached is None or cached[0] is not grams or cached[1] != self.ngram_range:
            cached = (grams, self.ngram_range, {})
            self.__dict__["_type_cache"] = cached
        cache: dict[str, list[int]] = cached[2]
        if len(cache) > _TYPE_CACHE_SIZE:
            cache.clear()
        get = grams.get
        rows: list[list[int]] = []
        add = rows.append
        for w in types:
            c = cache.get(w)
            if c is None:
                c = cache[w] = [j for g in self._grams(w) if (j := get(g)) is not None]
            add(c)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)), out=indptr[1:])
        cols = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(indptr[-1]))
        return _count_matrix(cols, indptr, len(grams))

    def _fit_counts(self, tokens):
        d = _count_matrix(tokens.ids, tokens.indptr, len(tokens.types))
        grams: dict[str, int] = {}
        w = self._type_matrix(tokens.types, grams, grow=True)
        return sp.csr_matrix(d @ w), list(grams)

    def _transform_counts(self, tokens):
        d = _count_matrix(tokens.ids, tokens.indptr, len(tokens.types))
        w = self._type_matrix(tokens.types, self.vocabulary_, grow=False)
        return sp.csr_matrix(d @ w)


class WordNgramTfidf(_NgramTfidf):
    """TF-IDF of word n-grams (``ngram_range`` up to 2). Words are runs of two or more word
    characters, as scikit-learn's default ``token_pattern`` finds them."""

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 2),
        min_df: int | float = 2,
        max_df: int | float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
    ) -> None:
        super().__init__(ngram_range, min_df, max_df, max_features, sublinear_tf)

    def _check_params(self) -> None:
        super()._check_params()
        if self.ngram_range[1] > 2:
            raise ValueError("WordNgramTfidf supports unigrams and bigrams (ngram_range up to 2)")

    @staticmethod
    def _pairs(words: Tokens) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Neighbouring word pairs inside each document: (first ids, second ids, row ids)."""
        flat, indptr = words.ids, words.indptr
        if len(flat) < 2:
            e = np.zeros(0, dtype=np.int64)
            return e, e, e
        rows = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
        same = rows[:-1] == rows[1:]
        return flat[:-1][same], flat[1:][same], rows[:-1][same]

    def _fit_counts(self, tokens):
        words = _words(tokens)
        n_docs, v = words.n_docs, len(words.types)
        lo, hi = self.ngram_range
        names: list[str] = []
        parts = []
        if lo <= 1:
            parts.append(_count_matrix(words.ids, words.indptr, v))
            names.extend(words.types)
        if hi >= 2:
            a, b, rows = self._pairs(words)
            codes, inverse = np.unique(a * v + b, return_inverse=True)
            m = sp.csr_matrix(
                (np.ones(len(rows), dtype=np.float32), (rows, inverse.ravel())),
                shape=(n_docs, len(codes)),
            )
            m.sum_duplicates()
            parts.append(m)
            wt = words.types
            names.extend(f"{wt[c // v]} {wt[c % v]}" for c in codes.tolist())
        return sp.csr_matrix(sp.hstack(parts, format="csr")), names

    def _bigram_index(self) -> tuple[dict[str, int], pd.Index, np.ndarray]:
        """The fitted bigrams as numbers: an id for each word in them, an index of their codes
        (first word's id x number of words + second's) and their columns. Worked out once per
        vocabulary (a cache tied to it, never pickled), so that :meth:`_bigram_columns` looks
        codes up in a hash table instead of making a string per bigram."""
        cached = self.__dict__.get("_bigram_cache")
        if cached is None or cached[0] is not self.vocabulary_:
            ids: dict[str, int] = {}
            firsts, seconds, cols = [], [], []
            for name, col in self.vocabulary_.items():
                # words hold no spaces, so a name with one is a bigram, split there
                first, space, second = name.partition(" ")
                if space:
                    firsts.append(ids.setdefault(first, len(ids)))
                    seconds.append(ids.setdefault(second, len(ids)))
                    cols.append(col)
            codes = np.asarray(firsts, dtype=np.int64) * len(ids) + np.asarray(
                seconds, dtype=np.int64
            )
            cached = (self.vocabulary_, ids, pd.Index(codes), np.asarray(cols, dtype=np.int64))
            self.__dict__["_bigram_cache"] = cached
        return cached[1], cached[2], cached[3]

    def _bigram_columns(self, types: list[str], a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Vocabulary columns of the bigrams ``types[a[i]] types[b[i]]`` (-1: not fitted)."""
        ids, codes, cols = self._bigram_index()
        if not len(codes) or not len(a):
            return np.full(len(a), -1, dtype=np.int64)
        word = np.asarray([ids.get(w, -1) for w in types], dtype=np.int64)
        first, second = word[a], word[b]
        # -1 (no code) unless both words occur in a fitted bigram
        code = np.where((first >= 0) & (second >= 0), first * len(ids) + second, -1)
        at = codes.get_indexer(code)
        return np.where(at >= 0, cols[at], -1)

    def _transform_counts(self, tokens):
        words = _words(tokens)
        n_docs = words.n_docs
        vocab = self.vocabulary_
        lo, hi = self.ngram_range
        wt = words.types
        rows_all, cols_all = [], []
        if lo <= 1:
            local = np.asarray([vocab.get(w, -1) for w in wt], dtype=np.int64)
            cols = local[words.ids] if len(words.ids) else words.ids
            rows_all.append(np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(words.indptr)))
            cols_all.append(cols)
        if hi >= 2:
            a, b, rows = self._pairs(words)
            rows_all.append(rows)
            cols_all.append(self._bigram_columns(wt, a, b))
        rows = np.concatenate(rows_all) if rows_all else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(cols_all) if cols_all else np.zeros(0, dtype=np.int64)
        keep = cols >= 0
        m = sp.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], cols[keep])),
            shape=(n_docs, len(vocab)),
        )
        m.sum_duplicates()
        return m


class TextTfidf(TransformerMixin, BaseEstimator):
    """Word n-gram and in-word character n-gram TF-IDF side by side (``[word | char]``), from
    one tokenisation of the texts. ``word_ngram_range`` or ``char_ngram_range`` may be None to
    leave that part out. Feature names are ``word__<n-gram>`` and ``char__<n-gram>``."""

    def __init__(
        self,
        word_ngram_range: tuple[int, int] | None = (1, 2),
        char_ngram_range: tuple[int, int] | None = (2, 5),
        min_df: int | float = 2,
        max_df: int | float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf

    def _parts(self) -> list[tuple[str, _NgramTfidf]]:
        common = dict(
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
        )
        parts: list[tuple[str, _NgramTfidf]] = []
        if self.word_ngram_range is not None:
            parts.append(("word", WordNgramTfidf(tuple(self.word_ngram_range), **common)))
        if self.char_ngram_range is not None:
            parts.append(("char", CharNgramTfidf(tuple(self.char_ngram_range), **common)))
        if not parts:
            raise ValueError("TextTfidf needs word_ngram_range or char_ngram_range")
        return parts

    def fit(self, X, y=None):  # noqa: N803
        self.fit_transform(X)
        return self

    def fit_transform(self, X, y=None):  # noqa: N803
        tokens = tokenize(X)
        self.parts_ = self._parts()
        return sp.hstack([v.fit_tokens(tokens) for _, v in self.parts_], format="csr")

    def transform(self, X):  # noqa: N803
        check_is_fitted(self, "parts_")
        tokens = tokenize(X)
        return sp.hstack([v.transform_tokens(tokens) for _, v in self.parts_], format="csr")

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "parts_")
        return np.concatenate(
            [
                np.asarray([f"{k}__{n}" for n in v.get_feature_names_out()], dtype=object)
                for k, v in self.parts_
            ]
        )
