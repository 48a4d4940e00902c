"""The query-only fast paths: int8 linear layers and clause vectors pooled from the query's own pass."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from search_toolset import TOOLS

from agentgw_local.search import MiniLMEmbedder, SearchParams, ToolIndex
from agentgw_local.search.text import split_query

QUERIES = [
    "What time is it in Tokyo?",
    "find the weather in Paris, then send it to bob@example.com by email",
    "list the files in /tmp and read notes.txt, then translate it to Spanish",
    "current price of AAPL shares",
    "使用必应搜索指定的关键词",
    "A much longer text " * 40,  # beyond the 256-token window
]


@pytest.mark.parametrize("query", QUERIES)
def test_int8_query_vectors_stay_close_to_the_precise_ones(embedder: MiniLMEmbedder, query: str) -> None:
    clauses = split_query(query)
    precise = embedder.encode([query, *clauses])
    int8 = embedder.encode_query(query, clauses, int8=True)
    assert int8.shape == precise.shape
    assert int8.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, rtol=1e-5)
    # Measured over 301 benchmark queries: cosine mean 0.997, min 0.985. A wrong scale or layout
    # lands far below; a silent fall-back to the precise path would be identical.
    assert ((int8 * precise).sum(axis=1) > 0.98).all()
    assert float(np.abs(int8 - precise).max()) > 1e-4


def test_without_options_encode_query_is_encode(embedder: MiniLMEmbedder) -> None:
    query = QUERIES[1]
    clauses = split_query(query)
    assert len(clauses) == 2
    np.testing.assert_array_equal(embedder.encode_query(query, clauses), embedder.encode([query, *clauses]))


def test_pooled_clauses_come_from_the_querys_own_pass(embedder: MiniLMEmbedder) -> None:
    query = QUERIES[2]
    clauses = split_query(query)
    pooled = embedder.encode_query(query, clauses, pool_clauses=True)
    assert pooled.shape == (1 + len(clauses), 384)
    # The query row is the query alone; clause rows are near their own pass, not equal (context).
    np.testing.assert_allclose(pooled[0], embedder.encode([query])[0], atol=1e-5)
    alone = embedder.encode(clauses)
    similarity = pooled[1:] @ alone.T
    # Each pooled clause is nearest its own clause's vector (the right span was pooled), and not
    # equal to it (the query's context changes it: why pooling cost recall on the dev split).
    assert (similarity.argmax(axis=1) == np.arange(len(clauses))).all()
    assert (np.diag(similarity) < 0.9999).all()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("what time is it in Tokyo right now", "timeweather___get_time"),
        ("will it rain tomorrow in Paris", "timeweather___get_weather"),
        ("open a bug report in my repository", "github___createIssue"),
        ("find github projects about vector databases", "github___search-repositories"),
        ("current price of AAPL shares", "finance___get_stock_price"),
        ("send a message to bob@example.com", "mail___send_email"),
        ("latitude and longitude of the Eiffel Tower", "maps___geocode_address"),
        ("how do I get from the station to the museum on foot", "maps___route_directions"),
        ("translate this sentence to Spanish", "lang___translate_text"),
        ("open notes.txt and read it to me", "files___read_file"),
        ("what is in the folder /tmp", "files___list_directory"),
    ],
)
def test_int8_queries_rank_the_right_tool_first(embedder: MiniLMEmbedder, query: str, expected: str) -> None:
    index = ToolIndex(embedder=embedder, params=SearchParams(query_int8=True))
    index.upsert(copy.deepcopy(TOOLS))
    results = index.search(query)
    assert results, query
    assert results[0]["name"] == expected


def test_int8_queries_keep_the_no_noise_cut(embedder: MiniLMEmbedder) -> None:
    index = ToolIndex(embedder=embedder, params=SearchParams(query_int8=True))
    index.upsert(copy.deepcopy(TOOLS))
    assert index.search("qwzx vbnm plokij") == []
    assert index.search("a recipe for chocolate cake") == []
    assert 0 < len(index.search("what time is it in Tokyo right now", k=10)) < 10
