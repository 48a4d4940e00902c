"""Tool-retrieval benchmark: the gateway's own ToolIndex on a tool set + labelled queries.

    python -m bench.retrieval --tools FILE --queries FILE [--k 10] [--mode hybrid|dense|lexical]

Input format: shared/data/tool-retrieval/README.md (a JSON array of ``{name, description,
inputSchema}``; JSON lines ``{"query": str, "relevant": [name, ...]}``).

Prints one JSON line. The headline metrics are on the held-out ``test`` split: a query is ``dev``
when sha256(query text) mod 3 == 0 (about a third; used to choose the retrieval parameters) and
``test`` otherwise, so the split is fixed and deterministic. ``dev`` and ``all`` (both parts) are
reported alongside, labelled. Latencies are per ``search`` call, over every query run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from agentgw_local.search import SearchParams, ToolIndex


def split_of(query: str) -> str:
    """'dev' or 'test', fixed by the query text alone."""
    return "dev" if int(hashlib.sha256(query.encode("utf-8")).hexdigest(), 16) % 3 == 0 else "test"


def load_tools(path: Path) -> list[dict[str, Any]]:
    tools = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(tools, list) or not all(isinstance(t, dict) and "name" in t for t in tools):
        raise SystemExit(f"{path}: expected a JSON array of tool definitions with 'name'")
    return tools


def load_queries(path: Path, known: set[str]) -> list[dict[str, Any]]:
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        if not isinstance(item.get("query"), str) or not isinstance(item.get("relevant"), list):
            raise SystemExit(f"{path}:{number}: expected {{'query': str, 'relevant': [str, ...]}}")
        unknown = [r for r in item["relevant"] if r not in known]
        if unknown:
            raise SystemExit(f"{path}:{number}: relevant tools not in the tool set: {unknown}")
        queries.append(item)
    return queries


def params_for(mode: str, overrides: list[str]) -> SearchParams:
    params = SearchParams()
    if mode == "dense":
        # Plain cosine ranking: the MiniLM baseline through the same code.
        params = replace(
            params,
            lexical_weight=0.0,
            prf_depth=0,
            target_boost=0.0,
            split_queries=False,
            name_weight=0.0,
            query_adapter=False,
        )
    types = {f.name: f.type for f in fields(SearchParams)}
    for item in overrides:
        key, _, value = item.partition("=")
        if key not in types:
            raise SystemExit(f"unknown parameter {key!r}; known: {sorted(types)}")
        kind = {"int": int, "float": float, "bool": lambda v: v.lower() in ("1", "true", "yes")}
        params = replace(params, **{key: kind[str(types[key])](value)})
    return params


def metrics(ranked: list[list[str]], relevant: list[list[str]]) -> dict[str, float]:
    def recall(k: int) -> float:
        return float(
            np.mean([len(set(r[:k]) & set(rel)) / len(rel) for r, rel in zip(ranked, relevant, strict=True)])
        )

    ndcg = []
    for r, rel in zip(ranked, relevant, strict=True):
        rel_set = set(rel)
        dcg = sum(1.0 / math.log2(i + 2) for i, name in enumerate(r[:10]) if name in rel_set)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(rel_set), 10)))
        ndcg.append(dcg / ideal)
    return {
        "R@1": round(100 * recall(1), 1),
        "R@5": round(100 * recall(5), 1),
        "R@10": round(100 * recall(10), 1),
        "NDCG@10": round(100 * float(np.mean(ndcg)), 1),
        "queries": len(ranked),
    }


def run(
    tools: list[dict[str, Any]], queries: list[dict[str, Any]], *, k: int, mode: str, params: SearchParams
) -> dict[str, Any]:
    index = ToolIndex(embedder=None, params=params) if mode == "lexical" else ToolIndex(params=params)
    if index._embedder is not None:
        load_start = time.perf_counter()
        index._embedder.encode(["warm up"])  # model load is start-up cost, not index build
        load_s = time.perf_counter() - load_start
    else:
        load_s = 0.0
    start = time.perf_counter()
    index.upsert(tools)
    build_s = time.perf_counter() - start
    ranked: list[list[str]] = []
    latencies: list[float] = []
    for item in queries:
        t0 = time.perf_counter()
        found = index.search(item["query"], k)
        latencies.append(1000 * (time.perf_counter() - t0))
        ranked.append([t["name"] for t in found])
    by_split: dict[str, list[int]] = {"dev": [], "test": []}
    for i, item in enumerate(queries):
        by_split[split_of(item["query"])].append(i)
    relevant = [q["relevant"] for q in queries]
    result: dict[str, Any] = {}
    test = by_split["test"]
    result.update(metrics([ranked[i] for i in test], [relevant[i] for i in test]) if test else {})
    result.update(
        {
            "split": "test (sha256(query) % 3 != 0); tuned on dev",
            "p50_ms": round(float(np.percentile(latencies, 50)), 2),
            "p95_ms": round(float(np.percentile(latencies, 95)), 2),
            "build_s": round(build_s, 2),
            "model_load_s": round(load_s, 2),
            "tools": len(index),
            "k": k,
            "mode": mode,
            "returned_mean": round(float(np.mean([len(r) for r in ranked])), 2),
        }
    )
    for part in ("dev",):
        ids = by_split[part]
        if ids:
            result[part] = metrics([ranked[i] for i in ids], [relevant[i] for i in ids])
    result["all"] = metrics(ranked, relevant)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.retrieval", description=__doc__.split("\n")[0])
    parser.add_argument("--tools", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    parser.add_argument("--split", choices=("all", "dev", "test"), default="all", help="which queries to run")
    parser.add_argument("--limit", type=int, default=0, help="run only every n-th query (0: all)")
    parser.add_argument(
        "--param", action="append", default=[], help="override a SearchParams field: key=value"
    )
    args = parser.parse_args(argv)
    tools = load_tools(args.tools)
    queries = load_queries(args.queries, {t["name"] for t in tools})
    if args.split != "all":
        queries = [q for q in queries if split_of(q["query"]) == args.split]
    if args.limit > 1:
        queries = queries[:: args.limit]
    if not queries:
        raise SystemExit("no queries to run")
    result = run(tools, queries, k=args.k, mode=args.mode, params=params_for(args.mode, args.param))
    result["params"] = {
        f.name: getattr(params_for(args.mode, args.param), f.name) for f in fields(SearchParams)
    }
    print(json.dumps(result), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
