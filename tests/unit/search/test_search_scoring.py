"""The scoring mechanics behind ToolIndex.search at scale: one ONNX Runtime product over the score
matrix, the best query vector kept per row. Checked against a float64 reference, so a fast path that
mixes up columns, rows or precision fails here."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from agentgw_local.search import ToolIndex
from agentgw_local.search.index import _best_scores
from agentgw_local.search.scoring import best_scores


def _unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("n_queries", [1, 3, 7])
def test_best_scores_match_a_float64_reference(n_queries: int) -> None:
    both = _unit_rows(5_000, 384, 1) + _unit_rows(5_000, 384, 2)  # full + description, as indexed
    queries = _unit_rows(n_queries, 384, 3)
    expected = (queries.astype(np.float64) @ both.astype(np.float64).T).max(axis=0)
    every = np.arange(5_000)
    got = _best_scores(queries, both, every)
    assert got.shape == (5_000,) and got.dtype == np.float32
    assert float(np.abs(got - expected).max()) < 1e-5
    np.testing.assert_array_equal(np.argsort(-got)[:20], np.argsort(-expected)[:20])
    # Dead rows left out, the live ones in order.
    live = every[every % 3 != 0]
    np.testing.assert_array_equal(_best_scores(queries, both, live), got[live])
    # A row slice of a larger matrix (the index's spare capacity) and an empty index.
    np.testing.assert_array_equal(best_scores(queries, both[:100]), got[:100])
    assert best_scores(queries, both[:0]).shape == (0,)


class _HashEmbedder:
    """Deterministic pseudo-random unit vectors per text: wide score gaps, no model needed."""

    dim = 64

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_search_ranks_as_a_float64_reference_does(monkeypatch: pytest.MonkeyPatch) -> None:
    index = ToolIndex(embedder=_HashEmbedder())
    index.upsert(
        [
            {"name": f"t{i // 100}___tool_{i}", "description": f"does thing {i}", "inputSchema": {}}
            for i in range(3_000)
        ]
    )
    # Some rows dead (too few to compact): scored, then left out.
    index.remove([f"t{i // 100}___tool_{i}" for i in range(1, 3_000, 15)])
    assert index._both.dtype == np.float32 and len(index._tools) == 3_000 and len(index) == 2_800
    queries = [f"does thing {i}" for i in range(0, 3_000, 97)] + ["look up the weather, then book a table"]
    fast = [[t["name"] for t in index.search(q, 10)] for q in queries]
    monkeypatch.setattr(
        "agentgw_local.search.index._best_scores",
        lambda q, rows, alive: (q.astype(np.float64) @ rows[alive].astype(np.float64).T).max(axis=0),
    )
    reference = [[t["name"] for t in index.search(q, 10)] for q in queries]
    # Same tools, same best; exact near-ties may swap places further down.
    assert [set(r) for r in fast] == [set(r) for r in reference]
    assert [r[0] for r in fast] == [r[0] for r in reference]
    for ranked, i in zip(fast, range(0, 3_000, 97), strict=False):
        assert (
            ranked[0] == f"t{i // 100}___tool_{i}" if i % 15 != 1 else f"t{i // 100}___tool_{i}" not in ranked
        )
