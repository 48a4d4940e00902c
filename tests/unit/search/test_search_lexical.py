"""The lexical side: tokenising tool text, incremental BM25, and ToolIndex without a model."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
from search_toolset import TOOLS, tool

from agentgw_local.search import ToolIndex, tool_text
from agentgw_local.search.bm25 import IncrementalBM25
from agentgw_local.search.text import lexical_tokens, split_identifier, split_query


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("timeweather___get_time", ["timeweather", "get", "time"]),
        ("MCP-Yahoo-Finance___getStockPrice", ["mcp", "yahoo", "finance", "get", "stock", "price"]),
        ("fs.read/file", ["fs", "read", "file"]),
        ("parseHTTPResponse", ["parse", "http", "response"]),
        ("listPDFs", ["list", "pdfs"]),
    ],
)
def test_names_split_into_words(name: str, words: list[str]) -> None:
    assert split_identifier(name) == words


def test_tool_text_has_name_description_and_parameters() -> None:
    text = tool_text(
        {
            "name": "files___write_file",
            "description": "Write text to a file.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "filePath": {"type": "string", "description": "Where to write"},
                    "options": {"type": "object", "properties": {"appendMode": {"type": "boolean"}}},
                },
            },
        }
    )
    for part in ("files write file", "Write text to a file", "file path", "Where to write", "append mode"):
        assert part in text


def test_lexical_tokens_drop_stopwords_and_stem() -> None:
    assert lexical_tokens("Please convert the images to PDFs") == ["convert", "image", "pdf"]
    assert "搜" in lexical_tokens("使用必应搜索")  # CJK text still yields tokens


def test_split_query_separates_the_steps_of_a_task() -> None:
    parts = split_query("Find the latest papers on arXiv about MCP, then save a summary to /root/notes.md.")
    assert len(parts) == 2
    assert parts[0].startswith("Find the latest papers")
    assert split_query("what time is it in Tokyo") == []


def test_incremental_bm25_matches_a_rebuilt_index() -> None:
    rng = random.Random(7)
    vocabulary = [f"w{i}" for i in range(40)]
    docs = {slot: [rng.choice(vocabulary) for _ in range(rng.randint(1, 12))] for slot in range(60)}
    incremental = IncrementalBM25()
    for slot, tokens in docs.items():
        incremental.add(slot, tokens)
    for slot in rng.sample(sorted(docs), 25):
        incremental.remove(slot)
        del docs[slot]
    for slot in range(60, 75):
        docs[slot] = [rng.choice(vocabulary) for _ in range(rng.randint(1, 12))]
        incremental.add(slot, docs[slot])
    docs[3] = ["w1", "w2", "w2"]
    incremental.add(3, docs[3])  # replaces, or adds if 3 was removed

    rebuilt = IncrementalBM25()
    for slot, tokens in docs.items():
        rebuilt.add(slot, tokens)
    assert len(incremental) == len(rebuilt) == len(docs)
    for query in (["w1"], ["w2", "w5", "w39"], ["w0", "nothing"], vocabulary):
        np.testing.assert_allclose(incremental.scores(query, 75), rebuilt.scores(query, 75), rtol=1e-5)
    assert incremental.scores(["nothing"], 75).max() == 0.0


def test_bm25_prefers_the_document_with_the_rare_term() -> None:
    bm25 = IncrementalBM25()
    bm25.add(0, ["weather", "forecast", "city"])
    bm25.add(1, ["time", "zone", "city"])
    bm25.add(2, ["file", "read", "city"])
    scores = bm25.scores(["forecast", "city"], 3)
    assert scores.argmax() == 0
    assert scores[1] == pytest.approx(scores[2])


def test_lexical_only_index_ranks_and_survives_churn() -> None:
    index = ToolIndex(embedder=None)
    index.upsert(copy.deepcopy(TOOLS))
    assert index.search("geocode an address")[0]["name"] == "maps___geocode_address"
    # Many targets come and go (enough to trigger compaction); results stay right.
    for round_number in range(3):
        filler = [
            tool(f"bulk{round_number}___tool_{i}", f"Bulk helper number {i} for widgets.") for i in range(400)
        ]
        index.upsert(filler)
        assert len(index) == len(TOOLS) + 400
        index.remove([t["name"] for t in filler])
    assert len(index) == len(TOOLS)
    assert len(index._tools) < 400 + 2 * len(TOOLS)  # dead rows were compacted away
    assert index.search("send an email")[0]["name"] == "mail___send_email"
    assert index.search("widgets") == []
    assert index.search("zzzz unknown words") == []
