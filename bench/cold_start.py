"""Cold start: a fresh Python process to the agent handler ready, ours vs the baseline; and sizes.

    python -m bench.cold_start [--runs 9] [--sam PATH | --no-sam]

Start-up: each run spawns a new interpreter that imports the handler module the way Lambda
does (function directory and layer on `sys.path`, `import app`), which runs its
initialisation (Powertools logger/tracer/metrics, the resolver, the agent service), and reports
the moment it is ready on the system-wide monotonic clock. Reported: time from spawn to ready
(p50/min/max over runs, ours and baseline alternating), the same with an empty bytecode cache
(Python compiles every module from source, as on Lambda when the layer ships no .pyc for its
Python), and the biggest imports of ours (`-X importtime`).

Sizes: the unzipped size of each function with its layers, from `sam build` (in a temporary
copy of the project) when the SAM CLI is available, otherwise from `pip install` of the layer's
requirements for manylinux/python3.13 into a temporary directory (the `method` field says
which). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, machine, percentile

LAYER_PYTHON = ROOT / "layers" / "agentgw" / "python"
AGENTS = {
    "ours": (ROOT / "functions" / "agent", "app"),
    "baseline": (ROOT / "bench", "baseline_agent"),
}
# What Lambda sets, so Powertools initialises as it does there (no network at import time).
LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "agentgw-AgentFunction",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "POWERTOOLS_SERVICE_NAME": "agentgw",
    "POWERTOOLS_METRICS_NAMESPACE": "agentgw",
    "AGENTGW_CONFIG_PARAMETER": "/agentgw/bench/config",
}
CHILD = """
import sys, time, json
sys.path[:0] = [{code_dir!r}, {layer!r}]
import {module}
print(json.dumps({{"ready": time.monotonic(), "handler": callable({module}.lambda_handler)}}))
"""


def _spawn(agent: str, extra_env: dict[str, str], args: tuple[str, ...] = ()) -> tuple[float, str]:
    code_dir, module = AGENTS[agent]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AGENTGW_", "POWERTOOLS_"))}
    env.update(LAMBDA_ENV)
    env.update(extra_env)
    code = CHILD.format(code_dir=str(code_dir), layer=str(LAYER_PYTHON), module=module)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *args, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"{agent}: the handler did not import: {done.stderr[-800:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    if not data["handler"]:
        raise RuntimeError(f"{agent}: lambda_handler is not callable")
    return data["ready"] - started, done.stderr


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(percentile(values, 50), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
    }


def startup(runs: int) -> dict[str, Any]:
    for agent in AGENTS:  # warm the page cache and the .pyc files first
        _spawn(agent, {})
    warm: dict[str, list[float]] = {a: [] for a in AGENTS}
    cold_bytecode: dict[str, list[float]] = {a: [] for a in AGENTS}
    for _ in range(runs):
        for agent in AGENTS:
            warm[agent].append(_spawn(agent, {})[0])
    for _ in range(max(3, runs // 3)):
        for agent in AGENTS:
            with tempfile.TemporaryDirectory() as empty:
                # -B + an empty cache prefix: every module compiled from source, nothing written.
                cold_bytecode[agent].append(_spawn(agent, {"PYTHONPYCACHEPREFIX": empty}, ("-B",))[0])
    return {
        agent: {"ready": _stats(warm[agent]), "ready_without_pyc": _stats(cold_bytecode[agent])}
        for agent in AGENTS
    }


def top_imports(agent: str, count: int = 12) -> list[dict[str, Any]]:
    """Where import time goes: `-X importtime` self times summed by top-level package."""
    _, stderr = _spawn(agent, {}, ("-X", "importtime"))
    totals: dict[str, int] = {}
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+\d+\s+\|\s*(\S+)", line)
        if match:
            root = match.group(2).split(".")[0]
            totals[root] = totals.get(root, 0) + int(match.group(1))
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:count]
    return [{"package": name, "self_ms": round(us / 1000, 1)} for name, us in ranked]


# -- sizes -------------------------------------------------------------------------------------


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _largest(path: Path, count: int = 8) -> list[dict[str, Any]]:
    sizes = [
        (child.name, _tree_bytes(child) if child.is_dir() else child.stat().st_size)
        for child in path.iterdir()
    ]
    sizes.sort(key=lambda kv: -kv[1])
    return [{"name": name, "mb": round(size / 1e6, 1)} for name, size in sizes[:count]]


def sizes_with_sam(sam: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="agentgw-sam-") as tmp:
        work = Path(tmp)
        for name in ("template.yaml", "functions", "layers", "statemachine"):
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, work / name, ignore=shutil.ignore_patterns("__pycache__", "build"))
            elif source.exists():
                shutil.copy2(source, work / name)
        env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
        done = subprocess.run([sam, "build"], cwd=work, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"sam build failed: {(done.stdout + done.stderr)[-1500:]}")
        build = work / ".aws-sam" / "build"
        built = json.loads(
            subprocess.run(
                [sys.executable, "-c", _TEMPLATE_TO_JSON, str(build / "template.yaml")],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        layers = {name: _tree_bytes(build / name) for name in built["layers"]}
        functions = {}
        for name, layer_refs in built["functions"].items():
            code = _tree_bytes(build / name)
            total = code + sum(layers.get(ref, 0) for ref in layer_refs)
            functions[name] = {"code_mb": round(code / 1e6, 3), "with_layers_mb": round(total / 1e6, 1)}
        pycache = sum(_tree_bytes(p) for name in built["layers"] for p in (build / name).rglob("__pycache__"))
        return {
            "method": f"sam build ({_sam_version(sam)})",
            "layers_mb": {name: round(size / 1e6, 1) for name, size in layers.items()},
            "layer_pycache_mb": round(pycache / 1e6, 1),
            "largest_in_layer": {name: _largest(build / name / "python") for name in built["layers"]},
            "functions": functions,
            "max_function_with_layers_mb": max(f["with_layers_mb"] for f in functions.values()),
        }


# Reads the built template (CloudFormation YAML with intrinsics) with cfn-lint's decoder.
_TEMPLATE_TO_JSON = """
import json, sys
from cfnlint.decode import cfn_yaml
t = cfn_yaml.load(sys.argv[1])
res = t["Resources"]
glob = ((t.get("Globals") or {}).get("Function") or {}).get("Layers") or []
layers = [k for k, v in res.items() if v["Type"] == "AWS::Serverless::LayerVersion"]
def refs(items):
    return [i["Ref"] for i in items if isinstance(i, dict) and "Ref" in i]
functions = {k: refs(glob) + refs(v["Properties"].get("Layers") or [])
             for k, v in res.items() if v["Type"] == "AWS::Serverless::Function"}
print(json.dumps({"layers": layers, "functions": functions}))
"""


def _sam_version(sam: str) -> str:
    out = subprocess.run([sam, "--version"], capture_output=True, text=True, timeout=60).stdout
    return out.strip()


def sizes_with_pip() -> dict[str, Any]:
    """The layer as its Makefile builds it (pip, manylinux wheels for python3.13), without SAM."""
    requirements = ROOT / "layers" / "agentgw" / "requirements.txt"
    with tempfile.TemporaryDirectory(prefix="agentgw-layer-") as tmp:
        target = Path(tmp) / "python"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                "manylinux2014_x86_64",
                "--platform",
                "manylinux_2_28_x86_64",
                "--python-version",
                "3.13",
                "--implementation",
                "cp",
                "--no-compile",
                "-r",
                str(requirements),
                "-t",
                str(target),
            ],
            check=True,
            timeout=900,
        )
        shutil.copytree(
            LAYER_PYTHON / "agentgw", target / "agentgw", ignore=shutil.ignore_patterns("__pycache__")
        )
        layer = _tree_bytes(target)
        functions = {
            path.parent.name: round((_tree_bytes(path.parent) + layer) / 1e6, 1)
            for path in (ROOT / "functions").glob("*/app.py")
        }
        return {
            "method": "pip install --target (manylinux, python3.13), as the layer Makefile; not sam build",
            "layers_mb": {"AgentgwLayer": round(layer / 1e6, 1)},
            "largest_in_layer": {"AgentgwLayer": _largest(target)},
            "functions": {name: {"with_layers_mb": mb} for name, mb in functions.items()},
            "max_function_with_layers_mb": max(functions.values()),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="start-ups per agent")
    local_sam = ROOT / ".venv-sam" / "bin" / "sam"  # what `make build` installs
    default_sam = str(local_sam) if local_sam.exists() else shutil.which("sam")
    parser.add_argument("--sam", default=default_sam, help="the SAM CLI (default: .venv-sam, then PATH)")
    parser.add_argument("--no-sam", action="store_true", help="measure sizes with pip instead of sam build")
    parser.add_argument("--no-sizes", action="store_true", help="skip the size measurement")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    result: dict[str, Any] = {
        "benchmark": "cold_start",
        "machine": machine(),
        "startup": startup(args.runs),
        "top_imports_ours": top_imports("ours"),
        "top_imports_baseline": top_imports("baseline"),
    }
    if not args.no_sizes:
        result["sizes"] = sizes_with_sam(args.sam) if args.sam and not args.no_sam else sizes_with_pip()
    emit(result)


if __name__ == "__main__":
    main()
