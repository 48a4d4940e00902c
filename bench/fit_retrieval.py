"""Fit the tool search's learned parts on the DEV split only, with the search code itself.

    python -m bench.fit_retrieval [--data ../shared/data/tool-retrieval] [--skip-adapter]

1. The query adapter (``local/search/query_adapter.py``): a rank-32 map ``q + (q @ U) @ V`` fitted
   on the MetaTool *dev* queries alone (LiveMCPBench stays a tool set it never saw). Objective:
   softmax cross-entropy of the labelled tool among all 199 tools, cosine to the tool's full-text +
   description vector, temperature 0.05, weight decay ``--weight-decay`` on ``U @ V`` (a pull
   towards the identity), 300 full-batch Adam steps, seed 0 (NumPy, gradients by hand). Written to
   ``local/search/query_adapter.json``. The weight decay was chosen by two cross-validations
   within dev (``--cv``): fitted on the queries of 100 of the 199 tools, scored on the queries of
   the other 99 (does it generalise to tools it never saw?), and fitted on half the queries,
   scored on the other half.
2. ``SearchParams.name_weight`` (the second-stage name-cosine weight): a grid over the dev queries
   of BOTH sets through ``ToolIndex.search`` (the adapter in place), maximising the mean of the two
   sets' dev R@10. Printed; the default in ``SearchParams`` is set to it by hand.

Prints JSON lines. Query and tool embeddings are memoised in-process (the grid re-ranks the same
queries), so the whole run takes a few minutes on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from agentgw_local.search import MiniLMEmbedder, SearchParams, ToolIndex
from agentgw_local.search.query_adapter import ADAPTER_FILE, QueryAdapter
from bench.retrieval import load_queries, load_tools, metrics, split_of

SETS = ("livemcpbench", "metatool")
NAME_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


class MemoEmbedder(MiniLMEmbedder):
    """MiniLM with an in-process memo: each distinct text is embedded once per run."""

    def __init__(self) -> None:
        super().__init__()
        self._memo: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            for text, vector in zip(missing, super().encode(missing), strict=True):
                self._memo[text] = vector
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = self._memo[text]
        return out


def fit_adapter(
    queries: np.ndarray, targets: np.ndarray, labels: np.ndarray, *, weight_decay: float, rank: int = 32
) -> QueryAdapter:
    """Full-batch Adam (lr 1e-2, betas 0.9/0.999) on the objective above; gradients by hand (NumPy)."""
    q, t = queries.astype(np.float64), targets.astype(np.float64)
    n, dim = q.shape
    onehot = np.zeros((n, len(t)))
    onehot[np.arange(n), labels] = 1.0
    rng = np.random.default_rng(0)
    params = [0.01 * rng.standard_normal((dim, rank)), np.zeros((rank, dim))]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    temperature, lr, beta1, beta2, eps = 0.05, 1e-2, 0.9, 0.999, 1e-8
    for step in range(1, 301):
        u, v = params
        delta = u @ v
        moved = q + q @ delta
        norms = np.maximum(np.linalg.norm(moved, axis=1, keepdims=True), 1e-12)
        unit = moved / norms
        logits = unit @ t.T / temperature
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        # Backward: cross-entropy (mean), the logits, the normalisation, then q @ (U @ V) + decay.
        d_unit = ((probs - onehot) / n) @ t / temperature
        d_moved = (d_unit - unit * (d_unit * unit).sum(axis=1, keepdims=True)) / norms
        d_delta = q.T @ d_moved + 2 * weight_decay * delta
        grads = [d_delta @ v.T, u.T @ d_delta]
        for i, (param, grad) in enumerate(zip(params, grads, strict=True)):
            m, s2 = moments[i]
            m = beta1 * m + (1 - beta1) * grad
            s2 = beta2 * s2 + (1 - beta2) * grad**2
            moments[i] = (m, s2)
            param -= lr * (m / (1 - beta1**step)) / (np.sqrt(s2 / (1 - beta2**step)) + eps)
    return QueryAdapter(params[0].astype(np.float32), params[1].astype(np.float32))


def dev_recall(index: ToolIndex, queries: list[dict[str, Any]]) -> float:
    ranked = [[t["name"] for t in index.search(q["query"], 10)] for q in queries]
    return metrics(ranked, [q["relevant"] for q in queries])["R@10"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fit_retrieval", description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/tool-retrieval"))
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--cv", action="store_true", help="also run the two dev cross-validations")
    parser.add_argument("--skip-adapter", action="store_true", help="keep the shipped adapter")
    parser.add_argument("--out", type=Path, default=ADAPTER_FILE)
    args = parser.parse_args(argv)
    embedder = MemoEmbedder()
    data: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for name in SETS:
        tools = load_tools(args.data / f"{name}.tools.json")
        queries = load_queries(args.data / f"{name}.queries.jsonl", {t["name"] for t in tools})
        data[name] = tools, [q for q in queries if split_of(q["query"]) == "dev"]

    if not args.skip_adapter:
        tools, dev = data["metatool"]
        plain = ToolIndex(embedder=embedder, params=replace(SearchParams(), query_adapter=False))
        plain.upsert(tools)
        slot = {n: plain._slot_of[n] for n in plain.names()}
        both = plain._full[: len(plain._tools)] + plain._desc[: len(plain._tools)]
        targets = (both / np.linalg.norm(both, axis=1, keepdims=True)).astype(np.float32)
        vectors = embedder.encode([q["query"] for q in dev])
        labels = np.array([slot[q["relevant"][0]] for q in dev], dtype=np.int64)
        if args.cv:
            cross_validate(embedder, tools, dev, vectors, targets, labels, args.weight_decay)
        adapter = fit_adapter(vectors, targets, labels, weight_decay=args.weight_decay)
        about = {
            "fitted_by": "python -m bench.fit_retrieval",
            "data": "MetaTool dev split only (sha256(query) % 3 == 0): "
            f"{len(dev)} queries, {len(tools)} tools",
            "weight_decay": args.weight_decay,
            "rank": 32,
        }
        adapter.save(args.out, about)
        print(json.dumps({"adapter": str(args.out), **about}), flush=True)

    grid: dict[float, dict[str, float]] = {}
    for weight in NAME_WEIGHTS:
        grid[weight] = {}
        for name, (tools, dev) in data.items():
            index = ToolIndex(embedder=embedder, params=replace(SearchParams(), name_weight=weight))
            if args.out != ADAPTER_FILE and index._adapter is not None:
                index._adapter = QueryAdapter.load(args.out)
            index.upsert(tools)
            grid[weight][name] = dev_recall(index, dev)
        print(json.dumps({"name_weight": weight, "dev_R@10": grid[weight]}), flush=True)
    best = max(NAME_WEIGHTS, key=lambda w: (float(np.mean(list(grid[w].values()))), -w))
    print(json.dumps({"chosen_name_weight": best, "dev_R@10": grid[best]}), flush=True)
    return 0


def cross_validate(
    embedder: MemoEmbedder,
    tools: list[dict[str, Any]],
    dev: list[dict[str, Any]],
    vectors: np.ndarray,
    targets: np.ndarray,
    labels: np.ndarray,
    weight_decay: float,
) -> None:
    """R@10 on held-out dev queries, without and with an adapter fitted on the rest of dev."""
    rng = np.random.default_rng(0)
    seen_tools = rng.permutation(len(tools))[: len(tools) // 2 + 1]
    by_tool = np.isin(labels, seen_tools)
    by_query = np.zeros(len(dev), dtype=bool)
    by_query[rng.permutation(len(dev))[: len(dev) // 2]] = True
    for split_name, fit_on in (("unseen tools", by_tool), ("unseen queries", by_query)):
        held_out = [q for q, fitted in zip(dev, fit_on, strict=True) if not fitted]
        adapter = fit_adapter(vectors[fit_on], targets, labels[fit_on], weight_decay=weight_decay)
        scores = {}
        for label, chosen in (("without", None), ("with", adapter)):
            index = ToolIndex(embedder=embedder, params=replace(SearchParams(), query_adapter=False))
            index._adapter = chosen
            index.upsert(tools)
            scores[label] = dev_recall(index, held_out)
        print(json.dumps({"cv": split_name, "weight_decay": weight_decay, "dev_R@10": scores}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
