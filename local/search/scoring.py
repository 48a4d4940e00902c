"""Each indexed tool's best cosine over a query's vectors: the one product that reads every row.

At 10,000 tools the score matrix (17 MB of float32) is streamed once or twice per search, so this is
the part of a search that grows with the index. It runs in ONNX Runtime (already loaded for the
model) on one thread: NumPy's BLAS picks its own thread count, and with two busy cores its threads
wait on each other (measured: p50 2.6-16 ms per product at load 6 against 0.9 ms here).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from .bert_graph import IR_VERSION, OPSET

_session: Any = None
_lock = threading.Lock()


def _scorer() -> Any:
    """One process-wide session (ONNX Runtime sessions may run concurrently from several threads)."""
    global _session
    with _lock:
        if _session is None:
            import onnxruntime
            from onnx import TensorProto, helper

            graph = helper.make_graph(
                [
                    helper.make_node("MatMul", ["rows", "queries"], ["scores"]),
                    helper.make_node("ReduceMax", ["scores"], ["best"], axes=[1], keepdims=0),
                ],
                "best-scores",
                [
                    helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["rows", "dim"]),
                    helper.make_tensor_value_info("queries", TensorProto.FLOAT, ["dim", "queries"]),
                ],
                [helper.make_tensor_value_info("best", TensorProto.FLOAT, ["rows"])],
            )
            model = helper.make_model(
                graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION
            )
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            _session = onnxruntime.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        return _session


def best_scores(queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each row of ``rows`` (n, dim), its best dot product with the ``queries`` (q, dim): (n,) float32."""
    if len(rows) == 0:
        return np.zeros(0, dtype=np.float32)
    feeds = {
        "rows": np.ascontiguousarray(rows, dtype=np.float32),
        "queries": np.ascontiguousarray(np.asarray(queries, dtype=np.float32).T),
    }
    return _scorer().run(["best"], feeds)[0]
