"""The model's ONNX graph is built once, cached as a file, and loaded from there afterwards; a cache
that cannot be written or read never stops the search from loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agentgw_local.search import MiniLMEmbedder, embedder
from agentgw_local.search.graph_cache import PREFIX

TEXTS = ["What time is it in Tokyo?", "get_weather: current weather for a place"]


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("AGENTGW_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _cached(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{PREFIX}*.onnx"))


def _count_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    builds: list[int] = []
    real = embedder.build_model

    def counted(weights: object) -> bytes:
        builds.append(1)
        return real(weights)  # type: ignore[arg-type]

    monkeypatch.setattr(embedder, "build_model", counted)
    return builds


def test_the_second_load_reads_the_graph_the_first_wrote(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = _count_builds(monkeypatch)
    first = MiniLMEmbedder().encode(TEXTS)
    assert len(builds) == 1
    assert len(_cached(cache)) == 1

    second = MiniLMEmbedder().encode(TEXTS)
    assert len(builds) == 1  # loaded from the file, not built again
    np.testing.assert_array_equal(first, second)


def test_a_damaged_cache_file_is_built_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = MiniLMEmbedder().encode(TEXTS)
    (damaged,) = _cached(cache)
    damaged.write_bytes(b"not an onnx model")
    builds = _count_builds(monkeypatch)

    np.testing.assert_array_equal(MiniLMEmbedder().encode(TEXTS), expected)
    assert len(builds) == 1
    assert not damaged.exists()  # the next start builds and caches it afresh


def test_an_unwritable_cache_builds_the_graph_in_memory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("AGENTGW_CACHE_DIR", str(blocker / "cache"))  # under a file: cannot be made
    vectors = MiniLMEmbedder().encode(TEXTS)
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
