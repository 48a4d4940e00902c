"""The model's ONNX graph, written once to a cache file and loaded from there afterwards.

Building the graph (`bert_graph.build_model`) imports onnx and serialises the 90 MB of weights in
memory: ~1.5 s of CPU and ~300 MB of resident memory that the process keeps. ONNX Runtime loading
the same graph from a file takes ~0.1 s and ~100 MB. So the first load writes the graph to
`$AGENTGW_CACHE_DIR` (default `$XDG_CACHE_HOME/agentgw`, i.e. `~/.cache/agentgw`), and later loads
read it. The file is derived from the installed package's weights and nothing else; its name
carries a key of those weights and of the graph builder's source, so a change to either builds a
new one. A cache that cannot be written (read-only
home, full disk) or read (a damaged file) is not an error: the graph is built in memory, as
without a cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from . import bert_graph

log = logging.getLogger(__name__)

PREFIX = "minilm-"
_EDGE = 1 << 20


def cache_dir() -> Path:
    configured = os.environ.get("AGENTGW_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agentgw"


def cache_key(model_dir: Path) -> str:
    """What the graph file is made from: the weights, and the builder's code.

    The weights are known by their size and their first and last MiB (the safetensors header
    names every tensor and its offsets): reading 90 MB at every start would cost more than the
    cache saves, and the same weights installed in two environments share one file.
    """
    weights = model_dir / "model.safetensors"
    digest = hashlib.sha256()
    size = weights.stat().st_size
    digest.update(str(size).encode())
    with weights.open("rb") as f:
        digest.update(f.read(_EDGE))
        f.seek(max(0, size - _EDGE))
        digest.update(f.read(_EDGE))
    digest.update(Path(bert_graph.__file__).read_bytes())
    return digest.hexdigest()[:24]


def cached_graph(model_dir: Path, build: Callable[[], bytes]) -> Path | bytes:
    """The graph's cache file when there is (or can now be) one, else the graph itself in memory."""
    folder = cache_dir()
    path = folder / f"{PREFIX}{cache_key(model_dir)}.onnx"
    if path.is_file():
        return path
    graph = build()
    tmp_name: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Written whole under a temporary name, then renamed: a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".tmp-", delete=False) as tmp:
            tmp_name = tmp.name
            tmp.write(graph)
        os.replace(tmp_name, path)
    except OSError as exc:
        if tmp_name is not None:
            Path(tmp_name).unlink(missing_ok=True)
        log.info("tool-search model cache not written (%s); building it in memory each start", exc)
        return graph
    for stale in folder.glob(f"{PREFIX}*.onnx"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return path


def forget(path: Path) -> None:
    """Drop a cache file that could not be loaded, so the next start builds it again."""
    path.unlink(missing_ok=True)
