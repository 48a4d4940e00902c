"""The scoring mechanics behind ToolIndex.search at scale: the float16 score matrix, one product per
query vector. Checked against a float64 reference, so a fast path that mixes up columns, rows or
precision fails here."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from agentgw_local.search import ToolIndex
from agentgw_local.search.index import _best_scores
from agentgw_local.search.second_core import SecondCore


def _unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.mark.parametrize("two_cores", [False, True])
@pytest.mark.parametrize("n_queries", [1, 3, 7])
def test_best_scores_match_a_float64_reference(n_queries: int, two_cores: bool) -> None:
    both = _unit_rows(5_000, 384, 1) + _unit_rows(5_000, 384, 2)  # full + description, as indexed
    queries = _unit_rows(n_queries, 384, 3)
    expected = (queries.astype(np.float64) @ both.astype(np.float64).T).max(axis=0)
    every = np.arange(5_000)
    second = SecondCore() if two_cores else None
    got = _best_scores(queries, both.astype(np.float16), every, second)
    assert got.shape == (5_000,) and got.dtype == np.float32
    # float16 storage: a few 1e-4 at most on cosine sums up to 2.
    assert float(np.abs(got - expected).max()) < 1e-3
    assert set(np.argsort(-got)[:5]) == set(np.argsort(-expected)[:5])
    # Dead rows left out, the live ones in order.
    live = every[every % 3 != 0]
    np.testing.assert_array_equal(_best_scores(queries, both.astype(np.float16), live, second), got[live])
    if two_cores:  # each half of the rows scored on its own thread: the same numbers as one pass
        np.testing.assert_array_equal(got, _best_scores(queries, both.astype(np.float16), every))


class _HashEmbedder:
    """Deterministic pseudo-random unit vectors per text: wide score gaps, no model needed."""

    dim = 64

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(self.dim)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_search_over_the_float16_matrix_ranks_as_float32_does(monkeypatch: pytest.MonkeyPatch) -> None:
    index = ToolIndex(embedder=_HashEmbedder())
    index.upsert(
        [
            {"name": f"t{i // 100}___tool_{i}", "description": f"does thing {i}", "inputSchema": {}}
            for i in range(3_000)
        ]
    )
    # Some rows dead (too few to compact): scored, then left out.
    index.remove([f"t{i // 100}___tool_{i}" for i in range(1, 3_000, 15)])
    assert index._both.dtype == np.float16 and len(index._tools) == 3_000 and len(index) == 2_800
    queries = [f"does thing {i}" for i in range(0, 3_000, 97)] + ["look up the weather, then book a table"]
    fast = [[t["name"] for t in index.search(q, 10)] for q in queries]
    monkeypatch.setattr(index, "_both", index._both.astype(np.float32))
    monkeypatch.setattr(
        "agentgw_local.search.index._best_scores",
        lambda q, rows, alive, second=None: (q.astype(np.float64) @ rows[alive].astype(np.float64).T).max(
            axis=0
        ),
    )
    reference = [[t["name"] for t in index.search(q, 10)] for q in queries]
    # Same tools, same best; near-ties (≤ 1e-4 apart) may swap places further down.
    assert [set(r) for r in fast] == [set(r) for r in reference]
    assert [r[0] for r in fast] == [r[0] for r in reference]
    for ranked, i in zip(fast, range(0, 3_000, 97), strict=False):
        assert (
            ranked[0] == f"t{i // 100}___tool_{i}" if i % 15 != 1 else f"t{i // 100}___tool_{i}" not in ranked
        )
