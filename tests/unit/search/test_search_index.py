"""ToolIndex with the real all-MiniLM-L6-v2 model on a small fixed tool set."""

from __future__ import annotations

import copy

import pytest
from search_toolset import TOOLS, CountingEmbedder, tool

from agentgw_local.search import SEARCH_TOOL_NAME, MiniLMEmbedder, SearchParams, ToolIndex


@pytest.fixture
def index(embedder: MiniLMEmbedder) -> ToolIndex:
    built = ToolIndex(embedder=embedder)
    built.upsert(copy.deepcopy(TOOLS))
    return built


def names(results: list[dict]) -> list[str]:
    return [t["name"] for t in results]


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
def test_clear_queries_rank_the_right_tool_first(index: ToolIndex, query: str, expected: str) -> None:
    results = index.search(query)
    assert results, query
    assert results[0]["name"] == expected


def test_results_are_full_definitions_at_most_k(index: ToolIndex) -> None:
    results = index.search("files on disk: read, write, list", k=2)
    assert len(results) == 2
    by_name = {t["name"]: t for t in TOOLS}
    for found in results:
        assert set(found) == {"name", "description", "inputSchema"}
        assert found == by_name[found["name"]]
    # Callers get copies: changing a result does not change the index.
    results[0]["description"] = "changed"
    assert index.search("files on disk: read, write, list", k=2)[0]["description"] != "changed"


def test_search_tool_is_never_indexed_or_returned(embedder: MiniLMEmbedder) -> None:
    index = ToolIndex(embedder=embedder)
    search_tool = tool(SEARCH_TOOL_NAME, "Returns a trimmed-down list of tools for a context.", query="Q")
    prefixed = tool(f"target___{SEARCH_TOOL_NAME}", "Search for tools by query.", query="Query")
    index.upsert([search_tool, prefixed, *copy.deepcopy(TOOLS)])
    assert len(index) == len(TOOLS)
    assert SEARCH_TOOL_NAME not in index
    for query in (SEARCH_TOOL_NAME, "trimmed-down list of tools for a context", "search for tools"):
        assert all("x_amz_bedrock_agentcore_search" not in t["name"] for t in index.search(query, k=100))


def test_nonsense_returns_nothing_and_vague_queries_return_few(index: ToolIndex) -> None:
    assert index.search("qwzx vbnm plokij") == []
    assert index.search("a recipe for chocolate cake") == []
    assert index.search("   ") == []
    assert len(index.search("what time is it in Tokyo right now", k=10)) < 10


def test_upsert_adds_a_target_without_reembedding_the_others(embedder: MiniLMEmbedder) -> None:
    counting = CountingEmbedder(embedder)
    index = ToolIndex(embedder=counting)
    index.upsert(copy.deepcopy(TOOLS))
    assert len(index) == len(TOOLS)
    counting.texts.clear()
    calendar = [
        tool("calendar___create_event", "Create a calendar event at a date and time.", title="Title"),
        tool("calendar___list_events", "List upcoming calendar events.", days="How many days ahead"),
    ]
    index.upsert(calendar)
    # Three texts per new tool (full text, description alone, name words): nothing already indexed
    # was re-embedded.
    assert len(counting.texts) == 6
    assert all("calendar" in t.lower() for t in counting.texts)
    assert len(index) == len(TOOLS) + 2
    assert names(index.search("schedule a meeting next Tuesday at 10am"))[0] == "calendar___create_event"
    assert names(index.search("what time is it in Tokyo right now"))[0] == "timeweather___get_time"

    counting.texts.clear()
    index.upsert(copy.deepcopy(TOOLS))  # unchanged definitions: no work at all
    assert counting.texts == []
    assert len(index) == len(TOOLS) + 2


def test_re_upsert_replaces_and_remove_forgets(index: ToolIndex) -> None:
    changed = tool("finance___get_stock_price", "Convert an amount between two currencies.", amount="Amount")
    index.upsert([changed])
    assert len(index) == len(TOOLS)
    found = index.search("convert 100 euros to dollars")
    assert names(found)[0] == "finance___get_stock_price"
    assert found[0]["description"] == changed["description"]

    index.remove(["timeweather___get_time", "timeweather___get_weather", "no___such_tool"])
    assert len(index) == len(TOOLS) - 2
    assert "timeweather___get_time" not in index
    for query in ("what time is it in Tokyo right now", "will it rain tomorrow in Paris"):
        assert not any(n.startswith("timeweather___") for n in names(index.search(query, k=100)))


def test_removing_everything_then_adding_back(index: ToolIndex) -> None:
    index.remove([t["name"] for t in TOOLS])
    assert len(index) == 0
    assert index.search("what time is it in Tokyo right now") == []
    index.upsert(copy.deepcopy(TOOLS[:1]))
    assert names(index.search("what time is it in Tokyo right now")) == ["timeweather___get_time"]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ([{"description": "no name"}], ValueError),
        ([{"name": ""}], ValueError),
        ([{"name": "a___b", "description": 3}], ValueError),
        ([{"name": "a___b", "inputSchema": "not an object"}], ValueError),
        (["not a dict"], TypeError),
    ],
)
def test_malformed_tools_are_rejected_whole(index: ToolIndex, bad: list, error: type[Exception]) -> None:
    good = tool("extra___ok_tool", "A fine tool.")
    with pytest.raises(error):
        index.upsert([good, *bad])
    assert "extra___ok_tool" not in index


def test_bad_search_arguments(index: ToolIndex) -> None:
    with pytest.raises(TypeError):
        index.search(None)  # type: ignore[arg-type]
    for k in (0, -1, 101, True):
        with pytest.raises(ValueError):
            index.search("time", k=k)
    with pytest.raises(TypeError):
        index.remove("timeweather___get_time")
    with pytest.raises(TypeError):
        index.upsert(TOOLS[0])  # type: ignore[arg-type]


def test_a_word_only_the_lexical_side_knows_ranks_its_tool_first(index: ToolIndex) -> None:
    # "zorblat" means nothing to the language model; BM25 matches it exactly.
    index.upsert([tool("acme___zorblat_sync", "Synchronise the zorblat ledgers.", ledger="Ledger id")])
    for query in ("zorblat", "sync my zorblat"):
        assert names(index.search(query))[0] == "acme___zorblat_sync"


def test_a_multi_step_query_is_embedded_clause_by_clause_only(embedder: MiniLMEmbedder) -> None:
    """Each step of a task finds its own tool; the model embeds the clauses, not the whole query
    again (its vector is the clauses' mean), unless query_from_clauses is off."""
    query = "translate this sentence to Spanish, then send a message to bob@example.com"
    clauses = ["translate this sentence to Spanish", "send a message to bob@example.com"]
    for from_clauses, embedded in ((True, clauses), (False, [query, *clauses])):
        counting = CountingEmbedder(embedder)
        index = ToolIndex(embedder=counting, params=SearchParams(query_from_clauses=from_clauses))
        index.upsert(copy.deepcopy(TOOLS))
        counting.texts.clear()
        found = names(index.search(query, 3))
        assert counting.texts == embedded
        assert {"lang___translate_text", "mail___send_email"} <= set(found), found
    one_step = "what time is it in Tokyo right now"
    counting.texts.clear()
    index.search(one_step)
    assert counting.texts == [one_step]
