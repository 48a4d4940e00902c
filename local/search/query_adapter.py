"""A learned low-rank linear map applied to query embeddings before they are compared with tools.

``q' = normalise(q + (q @ U) @ V)`` with ``U`` 384×r and ``V`` r×384 (r = 32): the query moves
in the embedding space towards where the tools that serve such queries sit. It is learned from
labelled queries — the offline analogue of learning from usage logs (which tool an agent actually
called after a search). The shipped weights were fitted by ``python -m bench.fit_retrieval`` on the
*dev* third of the MetaTool queries only (see ``about`` in ``query_adapter.json``), with a strong
pull towards the identity (weight decay) so that it generalises to tools it never saw: on MetaTool
dev, fitted on the queries of half the tools, it still helps the queries of the other half; on
LiveMCPBench (another tool set) it does not hurt. Numbers: docs/benchmarks.md, "Tool retrieval".

Only the ranking uses adapted vectors; the "about nothing indexed" thresholds use the model's own
cosines, so the adapter cannot make noise look relevant.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Final

import numpy as np

ADAPTER_FILE: Final = Path(__file__).with_name("query_adapter.json")


def _decode(blob: str, shape: tuple[int, int]) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(blob), dtype="<f4")
    if data.size != shape[0] * shape[1]:
        raise ValueError(f"query adapter: expected {shape[0]}×{shape[1]} values, got {data.size}")
    return data.reshape(shape).astype(np.float32)


def _encode(matrix: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(matrix, dtype="<f4").tobytes()).decode("ascii")


class QueryAdapter:
    """``q + (q @ u) @ v``, re-normalised to unit length."""

    def __init__(self, u: np.ndarray, v: np.ndarray) -> None:
        if u.ndim != 2 or v.ndim != 2 or u.shape[1] != v.shape[0] or u.shape[0] != v.shape[1]:
            raise ValueError(f"query adapter: incompatible shapes {u.shape} and {v.shape}")
        self.u = np.ascontiguousarray(u, dtype=np.float32)
        self.v = np.ascontiguousarray(v, dtype=np.float32)

    @property
    def dim(self) -> int:
        return int(self.u.shape[0])

    def __call__(self, vectors: np.ndarray) -> np.ndarray:
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"query adapter: expected (n, {self.dim}) vectors, got {vectors.shape}")
        moved = vectors + (vectors @ self.u) @ self.v
        norms = np.linalg.norm(moved, axis=1, keepdims=True)
        return (moved / np.maximum(norms, 1e-9)).astype(np.float32)

    @classmethod
    def load(cls, path: Path = ADAPTER_FILE) -> QueryAdapter:
        doc = json.loads(path.read_text(encoding="utf-8"))
        dim, rank = int(doc["dim"]), int(doc["rank"])
        return cls(_decode(doc["u"], (dim, rank)), _decode(doc["v"], (rank, dim)))

    def save(self, path: Path, about: dict[str, Any]) -> None:
        doc = {
            "about": about,
            "dim": self.dim,
            "rank": int(self.u.shape[1]),
            "u": _encode(self.u),
            "v": _encode(self.v),
        }
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
