"""An incremental BM25 index over integer slots.

Why not ``bm25s``: it bakes IDF into a precomputed sparse score matrix, so adding or removing one
document means re-indexing everything. Here documents are posting lists keyed by term; IDF and the
average length are computed at query time from the live counts, so add and remove touch only the
document's own terms. Per-term numpy arrays are cached and rebuilt lazily for the terms an update
touched, which keeps a query over 10,000 documents well under a millisecond.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np


class IncrementalBM25:
    """Okapi BM25 (Lucene's IDF, always positive) with add/remove by slot number."""

    def __init__(self, *, k1: float = 1.2, b: float = 0.75) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError("BM25 needs k1 >= 0 and 0 <= b <= 1")
        self.k1 = k1
        self.b = b
        self._postings: dict[str, dict[int, int]] = {}
        self._doc_terms: dict[int, Counter[str]] = {}
        self._doc_len = np.zeros(0, dtype=np.float32)
        self._total_len = 0
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._doc_terms)

    def __contains__(self, slot: object) -> bool:
        return slot in self._doc_terms

    def add(self, slot: int, tokens: Iterable[str]) -> None:
        """Index a document under ``slot`` (replacing what was there)."""
        if slot < 0:
            raise ValueError("slot must be non-negative")
        if slot in self._doc_terms:
            self.remove(slot)
        counts = Counter(tokens)
        if slot >= len(self._doc_len):
            grown = np.zeros(max(slot + 1, 2 * len(self._doc_len), 64), dtype=np.float32)
            grown[: len(self._doc_len)] = self._doc_len
            self._doc_len = grown
        length = sum(counts.values())
        self._doc_len[slot] = length
        self._total_len += length
        self._doc_terms[slot] = counts
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[slot] = tf
            self._arrays.pop(term, None)

    def remove(self, slot: int) -> None:
        """Forget the document in ``slot``; unknown slots are ignored."""
        counts = self._doc_terms.pop(slot, None)
        if counts is None:
            return
        self._total_len -= int(self._doc_len[slot])
        self._doc_len[slot] = 0
        for term in counts:
            posting = self._postings[term]
            del posting[slot]
            if not posting:
                del self._postings[term]
            self._arrays.pop(term, None)

    def _term_arrays(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        cached = self._arrays.get(term)
        if cached is None:
            posting = self._postings.get(term)
            if not posting:
                return None
            slots = np.fromiter(posting.keys(), dtype=np.int64, count=len(posting))
            tfs = np.fromiter(posting.values(), dtype=np.float32, count=len(posting))
            cached = self._arrays[term] = (slots, tfs)
        return cached

    def scores(self, query_tokens: Iterable[str], size: int) -> np.ndarray:
        """BM25 score of every slot in ``range(size)`` for the query (0 where nothing matches)."""
        out = np.zeros(size, dtype=np.float32)
        n_docs = len(self._doc_terms)
        if n_docs == 0:
            return out
        avg_len = max(self._total_len / n_docs, 1e-9)
        for term in dict.fromkeys(query_tokens):  # unique, in order
            arrays = self._term_arrays(term)
            if arrays is None:
                continue
            slots, tfs = arrays
            df = len(slots)
            idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
            norm = self.k1 * (1.0 - self.b + self.b * self._doc_len[slots] / avg_len)
            keep = slots < size
            out[slots[keep]] += (idf * tfs * (self.k1 + 1.0) / (tfs + norm))[keep]
        return out

    def idf(self, term: str) -> float:
        """The term's IDF now (0.0 for a term no document has)."""
        posting = self._postings.get(term)
        if not posting:
            return 0.0
        n_docs, df = len(self._doc_terms), len(posting)
        return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
