"""Prompt cost of tool definitions: every tool vs. the searched top k.

    python -m bench.retrieval_tokens --tools FILE --queries FILE [--k 10]

An agent that loads every tool puts all definitions in its prompt; one that searches first puts the
search tool plus the k definitions the search returned. Definitions are counted as the compact JSON
``{name, description, inputSchema}`` a client would pass on. Two approximate counts (the language
model's own tokenizer is not available offline): the all-MiniLM-L6-v2 WordPiece tokenizer (BERT
uncased, no truncation), and ``len(json) / 4``. Prints one JSON line; searched figures are means over
the queries.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from agentgw_local.gateway.catalog import SEARCH_TOOL  # the search tool as the gateway lists it
from agentgw_local.search import ToolIndex, model_dir


def as_json(tools: list[dict[str, Any]]) -> str:
    return json.dumps(
        [{k: t[k] for k in ("name", "description", "inputSchema") if k in t} for t in tools],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.retrieval_tokens", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tools", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)
    tools = json.loads(args.tools.read_text(encoding="utf-8"))
    queries = [
        json.loads(line)["query"] for line in args.queries.read_text(encoding="utf-8").splitlines() if line
    ]

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()

    def count(text: str) -> tuple[int, int]:
        return len(tokenizer.encode(text, add_special_tokens=False).ids), len(text) // 4

    all_wp, all_chars = count(as_json(tools))
    index = ToolIndex()
    index.upsert(tools)
    searched = [count(as_json([SEARCH_TOOL, *index.search(q, args.k)])) for q in queries]
    search_wp = float(np.mean([s[0] for s in searched]))
    search_chars = float(np.mean([s[1] for s in searched]))
    print(
        json.dumps(
            {
                "tools": len(tools),
                "queries": len(queries),
                "k": args.k,
                "all_tools_tokens_wordpiece": all_wp,
                "all_tools_tokens_chars_div_4": all_chars,
                "searched_tokens_wordpiece_mean": round(search_wp),
                "searched_tokens_chars_div_4_mean": round(search_chars),
                "reduction_x_wordpiece": round(all_wp / search_wp, 1),
                "tokenizer": "all-MiniLM-L6-v2 WordPiece (bert-base-uncased vocabulary); and len(json)/4",
            }
        ),
        file=sys.stdout,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
