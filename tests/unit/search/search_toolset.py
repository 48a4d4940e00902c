"""A small fixed tool set for the tool-search tests, and an embedder that counts its work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from agentgw_local.search import MiniLMEmbedder


def tool(name: str, description: str, **params: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "inputSchema": {
            "type": "object",
            "properties": {p: {"type": "string", "description": d} for p, d in params.items()},
            "required": list(params),
        },
    }


TOOLS: list[dict[str, Any]] = [
    tool("timeweather___get_time", "Current local time in an IANA timezone.", timezone="IANA timezone name"),
    tool(
        "timeweather___get_weather",
        "Weather forecast (temperature, precipitation, wind) for a city.",
        city="City name",
    ),
    tool("files___read_file", "Read the contents of a file on disk.", path="Path of the file"),
    tool("files___write_file", "Write text to a file, creating it if needed.", path="Path", content="Text"),
    tool("files___list_directory", "List the entries of a directory.", path="Directory path"),
    tool(
        "github___createIssue", "Open a new issue in a GitHub repository.", repo="owner/name", title="Title"
    ),
    tool("github___search-repositories", "Search GitHub repositories by keyword.", query="Search terms"),
    tool("finance___get_stock_price", "Latest share price for a stock ticker symbol.", symbol="Ticker"),
    tool(
        "maps___geocode_address", "Turn a street address or place name into coordinates.", address="Address"
    ),
    tool(
        "maps___route_directions",
        "Driving or walking directions between two places.",
        origin="Start",
        destination="End",
    ),
    tool("mail___send_email", "Send an email message to a recipient.", to="Recipient address", body="Body"),
    tool(
        "lang___translate_text", "Translate text into another language.", text="Text", target_language="Code"
    ),
]


class CountingEmbedder:
    """Wraps a real embedder and records every text it was asked to embed."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode(texts)
