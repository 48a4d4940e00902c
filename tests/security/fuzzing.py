"""Shared pieces of the fuzz tests: JSON strategies and a keep-alive HTTP client that counts.

Requests go over a real loopback socket to the running local stack (uvicorn + the ASGI app),
through one keep-alive connection per test, so ten thousand requests take seconds, not minutes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Requests sent by every fuzz test in this process (docs/reliability.md reports these figures).
SENT: Counter[str] = Counter()
SECONDS: Counter[str] = Counter()  # time spent waiting for answers
_lock = threading.Lock()

FUZZ = settings(
    deadline=None,
    database=None,  # nothing written to the checkout; a failure prints its reproducing example
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,  # the agent tests skip the (rare) valid requests
    ],
)

# Text that stresses decoders: astral planes, lone-surrogate-free controls, RTL, combining marks.
unicode_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
    max_size=24,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    unicode_text,
)
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(unicode_text, children, max_size=6),
    ),
    max_leaves=12,
)


def nested(depth: int, kind: str = "list") -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


class Wire:
    """One keep-alive connection to the stack; counts what it sends under `name`."""

    def __init__(self, base_url: str, name: str, timeout_s: float = 60.0) -> None:
        self.name = name
        self.client = httpx.Client(
            base_url=base_url, timeout=timeout_s, limits=httpx.Limits(max_keepalive_connections=1)
        )

    def post(self, url: str, content: bytes, headers: dict[str, str | bytes]) -> httpx.Response:
        started = time.perf_counter()
        try:
            return self.client.post(url, content=content, headers=headers)
        finally:
            with _lock:
                SENT[self.name] += 1
                SECONDS[self.name] += time.perf_counter() - started

    def close(self) -> None:
        self.client.close()
