"""Tool search for the local gateway's ``x_amz_bedrock_agentcore_search``.

``ToolIndex`` is the whole interface the gateway needs: ``upsert`` / ``remove`` tool definitions
as targets come and go, ``search(query, k)`` for the ranked definitions. See ``index.py`` for how
retrieval works and ``docs/benchmarks.md`` for how well.
"""

from .embedder import Embedder, MiniLMEmbedder, model_dir
from .index import DEFAULT_EMBEDDER, SEARCH_TOOL_NAME, SearchParams, ToolIndex, default_embedder
from .text import tool_text

__all__ = [
    "DEFAULT_EMBEDDER",
    "SEARCH_TOOL_NAME",
    "Embedder",
    "MiniLMEmbedder",
    "SearchParams",
    "ToolIndex",
    "default_embedder",
    "model_dir",
    "tool_text",
]
