"""Fixtures for the tool-search tests."""

from __future__ import annotations

import pytest

from agentgw_local.search import MiniLMEmbedder, default_embedder


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    """The process-wide MiniLM embedder, loaded once (the first load takes a second or two)."""
    shared = default_embedder()
    shared.load()
    return shared
