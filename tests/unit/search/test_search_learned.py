"""The learned parts of tool search: the query adapter and the name-words second stage.

Small fixed tool sets with the real all-MiniLM-L6-v2 model (never the benchmark files).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from search_toolset import TOOLS, CountingEmbedder, tool

from agentgw_local.search import MiniLMEmbedder, SearchParams, ToolIndex
from agentgw_local.search.query_adapter import ADAPTER_FILE, QueryAdapter

# Descriptions that say almost nothing: only the names tell these tools apart.
VAGUE = [
    tool("astro___horoscope_reader", "Provides daily services for you."),
    tool("astro___tarot_cards", "Provides daily readings for you."),
    tool("kitchen___recipe_finder", "Helps you with everyday things."),
    tool("weather___forecast", "Tells you what tomorrow brings."),
    tool("news___headlines", "Daily updates on what is going on."),
    tool("money___stock_quotes", "Numbers for your daily decisions."),
    tool("music___playlist_maker", "Sets the mood for your day."),
    tool("travel___flight_search", "Gets you where you want to go."),
]
# Enough unrelated tools to push the index past the second stage's 100-tool shortlist.
FILLER = [
    tool(
        f"sheets{i}___format_cells_{i}",
        f"Spreadsheet utility {i}: format cells, merge ranges and set borders.",
    )
    for i in range(110)
]


def first(index: ToolIndex, query: str) -> str:
    results = index.search(query)
    assert results, query
    return results[0]["name"]


def random_unit(n: int, dim: int = 384) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_shipped_adapter_loads_and_stays_close_to_the_identity() -> None:
    adapter = QueryAdapter.load()
    assert ADAPTER_FILE.stat().st_size < 1_000_000
    assert adapter.dim == 384 and adapter.u.shape == (384, 32)
    q = random_unit(50)
    moved = adapter(q)
    assert np.allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    cosines = (q * moved).sum(axis=1)
    # It does move queries (a zeroed file would not), but it is a nudge, not a new space.
    assert cosines.max() < 0.9999
    assert cosines.mean() > 0.6


def test_adapter_round_trips_and_rejects_bad_shapes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    adapter = QueryAdapter(rng.standard_normal((384, 4)), rng.standard_normal((4, 384)))
    path = tmp_path / "adapter.json"
    adapter.save(path, {"fitted_by": "test"})
    again = QueryAdapter.load(path)
    assert np.array_equal(again.u, adapter.u) and np.array_equal(again.v, adapter.v)
    q = random_unit(3)
    assert np.array_equal(again(q), adapter(q))
    with pytest.raises(ValueError):
        QueryAdapter(np.zeros((384, 4)), np.zeros((5, 384)))
    with pytest.raises(ValueError):
        adapter(np.zeros((2, 10), dtype=np.float32))


def test_the_adapter_is_used_with_minilm_only(embedder: MiniLMEmbedder) -> None:
    assert ToolIndex(embedder=embedder)._adapter is not None
    assert ToolIndex(embedder=embedder, params=replace(SearchParams(), query_adapter=False))._adapter is None
    # Fitted on MiniLM's space: any other embedder goes without it.
    assert ToolIndex(embedder=CountingEmbedder(embedder))._adapter is None


def test_ranking_uses_the_adapter_but_no_noise_uses_the_models_cosines(embedder: MiniLMEmbedder) -> None:
    plain = ToolIndex(embedder=embedder, params=replace(SearchParams(), query_adapter=False))
    plain.upsert(copy.deepcopy(TOOLS))
    flipped = ToolIndex(embedder=embedder, params=replace(SearchParams(), query_adapter=False))
    flipped.upsert(copy.deepcopy(TOOLS))
    # q + q(-2I) = -q: the worst possible adapter ranks the closest tool last.
    flipped._adapter = QueryAdapter(-2.0 * np.eye(384), np.eye(384))
    query = "will it rain tomorrow in Paris"
    assert first(plain, query) == "timeweather___get_weather"
    assert first(flipped, query) != "timeweather___get_weather"
    # Which tools are useful enough to return is decided on the model's own cosines.
    assert {t["name"] for t in flipped.search(query)} == {t["name"] for t in plain.search(query)}
    assert flipped.search("qwzx vbnm plokij") == []
    assert flipped.search("a recipe for chocolate cake") == []


@pytest.mark.parametrize("filler", [0, len(FILLER)], ids=["8 tools", "118 tools (shortlist)"])
def test_name_words_decide_between_vague_descriptions(embedder: MiniLMEmbedder, filler: int) -> None:
    index = ToolIndex(embedder=embedder)
    index.upsert(copy.deepcopy(VAGUE + FILLER[:filler]))
    without_names = ToolIndex(embedder=embedder, params=replace(SearchParams(), name_weight=0.0))
    without_names.upsert(copy.deepcopy(VAGUE + FILLER[:filler]))
    query = "what does my star sign say about today"
    assert first(index, query) == "astro___horoscope_reader"
    # The second stage is what decides it: without it the tarot tool wins.
    assert first(without_names, query) != "astro___horoscope_reader"
    assert first(index, "I need a plane ticket to Rome") == "travel___flight_search"
    assert len(index.search("I need a plane ticket to Rome", k=10)) <= 10
    assert index.search("qwzx vbnm plokij") == []
