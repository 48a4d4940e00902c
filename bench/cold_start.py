"""Cold start: a fresh Python process to the agent handler ready, ours vs the baseline; the
first request; and sizes.

    python -m bench.cold_start [--runs 9] [--sam PATH | --no-sam] [--no-first-request] [--python PATH]

What Lambda runs is imitated as closely as this machine allows:

- The layer as Lambda sees it: the layer's pinned requirements (`layers/agentgw/requirements.txt`)
  and `agentgw`, installed with pip for the children's Python (`--python`; with a python3.13,
  the very wheels Lambda runs) into a temporary directory. Each child runs with `-S` (no
  site-packages), so only the function directory, that directory and the standard library are on
  `sys.path`: the development packages of the project's virtual environment (rich, pygments,
  requests, ...) cannot be imported by accident, as on Lambda.
  The baseline gets `requests` beside it (the tutorial's agent uses it).
- Lambda's environment variables, including `LAMBDA_TASK_ROOT` (the X-Ray SDK, under
  Powertools' Tracer, builds a sampler with an X-Ray client when it is missing: ~0.1 s of CPU
  that Lambda never spends).

Start-up: each run spawns a new interpreter (working directory: the function directory) that
imports the handler module, which runs its initialisation (Powertools logger/tracer/metrics,
the resolver, the agent service), and reports the moment it is ready on the system-wide
monotonic clock and the CPU time it used. Reported: time from spawn to ready and CPU seconds
(p50/min/max; ours and baseline alternating), with `.pyc` files for every layer module, and
"without .pyc": the same layer without bytecode (`-B`: nothing written either), so every
layer module is compiled from source, which is what happens on Lambda while the layer ships no
`.pyc` for the runtime's Python (the standard library keeps its own, as on Lambda).

First request (ours): a fresh process imports the handler, then answers one `POST /prompt`
(payload 2.0 event, Lambda-like context) against a local stack started by this benchmark: the
`offline` provider, so the request does everything a real one does (configuration, secret,
token, MCP session, tool listing and search, the agent loop, one tool call through the gateway,
the session save) except the language model. Reported: spawn to ready, spawn to the response,
and the request alone, with and without `.pyc`.

Sizes: the unzipped size of each function with its layers, from `sam build` (in a temporary
copy of the project) when the SAM CLI is available, otherwise from the layer's Makefile target
run directly (the `method` field says which). The layer carries .pyc files for python3.13 when
the build finds one (PYTHON313; see layers/agentgw/Makefile). Prints one JSON line.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, machine, percentile, quiet_stdout

LAYER_DIR = ROOT / "layers" / "agentgw"
LAYER_PYTHON = LAYER_DIR / "python"
LAYER_REQUIREMENTS = LAYER_DIR / "requirements.txt"
AGENTS = {
    "ours": (ROOT / "functions" / "agent", "app"),
    "baseline": (ROOT / "bench", "baseline_agent"),
}
# The baseline (the tutorial's agent) also imports requests, which the layer does not carry.
BASELINE_EXTRA = ("requests", "charset-normalizer")
# What Lambda sets, so Powertools and the X-Ray SDK initialise as they do there (no network at
# import time). LAMBDA_TASK_ROOT is set per agent to its code directory.
LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "agentgw-AgentFunction",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "POWERTOOLS_SERVICE_NAME": "agentgw",
    "POWERTOOLS_METRICS_NAMESPACE": "agentgw",
    "AGENTGW_CONFIG_PARAMETER": "/agentgw/bench/config",
}
CHILD = """
import json, resource, sys, time
sys.path[:0] = {paths!r}
import {module}
ready = time.monotonic()
usage = resource.getrusage(resource.RUSAGE_SELF)
out = {{"ready": ready, "cpu_ready": usage.ru_utime + usage.ru_stime, "modules_ready": len(sys.modules),
       "handler": callable({module}.lambda_handler)}}
{request}
print(json.dumps(out))
"""
# One POST /prompt through the handler (payload 2.0), as API Gateway would send it.
REQUEST = """
from agentgw.lambda_context import LambdaContext
context = LambdaContext(function_name="agentgw-AgentFunction", memory_limit_in_mb=1024, timeout_s=30.0)
result = {module}.lambda_handler(json.loads({event!r}), context)
usage = resource.getrusage(resource.RUSAGE_SELF)
out.update(done=time.monotonic(), cpu_done=usage.ru_utime + usage.ru_stime, modules_done=len(sys.modules),
           status=result["statusCode"], body=result["body"])
"""
PROMPT = "What time is it in Tokyo?"
TRACE_HEADER = "Root=1-6740f000-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1"


@dataclass(frozen=True)
class Layer:
    """The layer for one Python: with bytecode, without, and the baseline's extra packages."""

    python: str  # the interpreter the children run
    compiled: Path
    source: Path
    baseline_extra: Path

    def paths(self, agent: str, pyc: bool) -> list[str]:
        code_dir, _ = AGENTS[agent]
        layer = self.compiled if pyc else self.source
        extra = [str(self.baseline_extra)] if agent == "baseline" else []
        return [str(code_dir), str(layer), *extra]


def _pins(names: tuple[str, ...]) -> list[str]:
    """Versions from constraints.txt, so the baseline's extras match the virtual environment."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text("utf-8").splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[name.strip().lower()] = f"{name.strip()}=={version.strip()}"
    missing = [n for n in names if n not in pins]
    if missing:
        raise RuntimeError(f"constraints.txt does not pin {', '.join(missing)}")
    return [pins[n] for n in names]


def build_layer(work: Path, python: str) -> Layer:
    """pip-install the layer's requirements for `python` (with python3.13: the wheels Lambda runs)."""
    compiled = work / "layer-pyc" / "python"
    pip = [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--only-binary=:all:"]
    subprocess.run([*pip, "-r", str(LAYER_REQUIREMENTS), "-t", str(compiled)], check=True, timeout=900)
    shutil.copytree(
        LAYER_PYTHON / "agentgw", compiled / "agentgw", ignore=shutil.ignore_patterns("__pycache__")
    )
    source = work / "layer-source" / "python"
    shutil.copytree(compiled, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # As the layer Makefile writes them for python3.13: the source is never checked at import.
    compile_ = [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*compile_, str(compiled)], check=True, timeout=900)
    extra = work / "baseline-extra"
    subprocess.run([*pip, *_pins(BASELINE_EXTRA), "-t", str(extra)], check=True, timeout=900)
    subprocess.run([*compile_, str(extra)], check=True, timeout=900)
    return Layer(python=python, compiled=compiled, source=source, baseline_extra=extra)


def _child_env(agent: str, extra_env: dict[str, str]) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AGENTGW_", "POWERTOOLS_", "PYTHON"))
    }
    env.update(LAMBDA_ENV)
    env["LAMBDA_TASK_ROOT"] = str(AGENTS[agent][0])
    env.update(extra_env)
    return env


def _spawn(
    layer: Layer,
    agent: str,
    *,
    pyc: bool = True,
    args: tuple[str, ...] = (),
    event: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[dict[str, Any], str]:
    """One fresh interpreter: the result (times relative to the spawn) and its stderr."""
    code_dir, module = AGENTS[agent]
    request = REQUEST.format(module=module, event=json.dumps(event)) if event is not None else ""
    code = CHILD.format(paths=layer.paths(agent, pyc), module=module, request=request)
    started = time.monotonic()
    done = subprocess.run(
        [layer.python, "-S", "-B", *args, "-c", code],
        env=_child_env(agent, extra_env or {}),
        capture_output=True,
        text=True,
        timeout=180,
        cwd=code_dir,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{agent}: the handler failed: {done.stderr[-1200:]}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    if not data["handler"]:
        raise RuntimeError(f"{agent}: lambda_handler is not callable")
    data["ready_s"] = data["ready"] - started
    if "done" in data:
        data["first_response_s"] = data["done"] - started
        data["request_s"] = data["done"] - data["ready"]
    return data, done.stderr


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(percentile(values, 50), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
    }


def startup(layer: Layer, runs: int) -> dict[str, Any]:
    for agent in AGENTS:  # warm the page cache first
        _spawn(layer, agent)
        _spawn(layer, agent, pyc=False)
    wall: dict[tuple[str, bool], list[float]] = {(a, p): [] for a in AGENTS for p in (True, False)}
    cpu: dict[tuple[str, bool], list[float]] = {(a, p): [] for a in AGENTS for p in (True, False)}
    modules: dict[str, int] = {}
    plan = [True] * runs + [False] * max(3, runs // 3)
    for pyc in plan:
        for agent in AGENTS:
            data, _ = _spawn(layer, agent, pyc=pyc)
            wall[agent, pyc].append(data["ready_s"])
            cpu[agent, pyc].append(data["cpu_ready"])
            modules[agent] = data["modules_ready"]
    return {
        agent: {
            "ready": _stats(wall[agent, True]),
            "ready_cpu": _stats(cpu[agent, True]),
            "ready_without_pyc": _stats(wall[agent, False]),
            "ready_without_pyc_cpu": _stats(cpu[agent, False]),
            "modules_at_ready": modules[agent],
        }
        for agent in AGENTS
    }


def prompt_event() -> dict[str, Any]:
    """A payload-2.0 `POST /prompt` event, as the HTTP API sends it."""
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "POST /prompt",
        "rawPath": "/prompt",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "bench.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "bench",
            "http": {
                "method": "POST",
                "path": "/prompt",
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "bench",
            },
            "requestId": f"bench-{int(now * 1000)}",
            "routeKey": "POST /prompt",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": json.dumps({"prompt": PROMPT}),
        "isBase64Encoded": False,
    }


def first_request(layer: Layer, runs: int) -> dict[str, Any]:
    """Ours, fresh process to the first answer, against a local stack (offline provider)."""
    from agentgw_local.stack import LocalStack

    # quiet: the stack runs the tool function in this process, and it logs to stdout.
    with tempfile.TemporaryDirectory(prefix="agentgw-bench-sessions-") as sessions, quiet_stdout():
        stack = LocalStack(port=0, stack_name="agentgw-bench-cold").start()
        try:
            # What the stack gives the in-process agent function (endpoints, the published
            # configuration's parameter, emulator credentials), for the child processes; and
            # the trace header Lambda sets per invocation (Tracing: Active), so the X-Ray
            # subsegments are made and sent (UDP to the absent daemon) as there.
            stack_env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "AGENTGW_"))}
            stack_env.update(
                {
                    "AGENTGW_MODEL_PROVIDER": "offline",
                    "AGENTGW_SESSION_DIR": sessions,
                    "_X_AMZN_TRACE_ID": TRACE_HEADER,
                }
            )
            results: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
            _spawn(layer, "ours", event=prompt_event(), extra_env=stack_env)  # warm caches, server side too
            for pyc in [True] * runs + [False] * max(2, runs // 2):
                data, _ = _spawn(layer, "ours", pyc=pyc, event=prompt_event(), extra_env=stack_env)
                body = json.loads(data["body"])
                if data["status"] != 200 or not body.get("tool_calls") or body["tool_calls"][0]["is_error"]:
                    raise RuntimeError(
                        f"first request did not succeed: {data['status']} {data['body'][:500]}"
                    )
                results[pyc].append(data)
        finally:
            stack.stop()

    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "ready": _stats([r["ready_s"] for r in rows]),
            "first_response": _stats([r["first_response_s"] for r in rows]),
            "request": _stats([r["request_s"] for r in rows]),
            "cpu_at_ready": _stats([r["cpu_ready"] for r in rows]),
            "cpu_at_response": _stats([r["cpu_done"] for r in rows]),
            "modules_at_ready": rows[-1]["modules_ready"],
            "modules_after_request": rows[-1]["modules_done"],
        }

    return {
        "prompt": PROMPT,
        "provider": "offline",
        "with_pyc": summary(results[True]),
        "without_pyc": summary(results[False]),
    }


def top_imports(layer: Layer, agent: str, count: int = 12, runs: int = 3) -> list[dict[str, Any]]:
    """Where import time goes: `-X importtime` self times summed by top-level package (the
    lowest of `runs` start-ups per package: one run on a busy machine is noise)."""
    best: dict[str, int] = {}
    for _ in range(runs):
        _, stderr = _spawn(layer, agent, args=("-X", "importtime"))
        totals: dict[str, int] = {}
        for line in stderr.splitlines():
            match = re.match(r"import time:\s+(\d+)\s+\|\s+\d+\s+\|\s*(\S+)", line)
            if match:
                root = match.group(2).split(".")[0]
                totals[root] = totals.get(root, 0) + int(match.group(1))
        best = {k: min(v, best.get(k, v)) for k, v in totals.items()}
    ranked = sorted(best.items(), key=lambda kv: -kv[1])[:count]
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
    """The layer as its Makefile builds it (pip, manylinux wheels for python3.13; pruned botocore;
    .pyc when PYTHON313 is set or python3.13 is on PATH), without SAM."""
    with tempfile.TemporaryDirectory(prefix="agentgw-layer-") as tmp:
        subprocess.run(
            [
                "make",
                "-C",
                str(LAYER_DIR),
                "build-AgentgwLayer",
                f"ARTIFACTS_DIR={tmp}",
                f"PYTHON={sys.executable}",
            ],
            check=True,
            timeout=1800,
            stdout=sys.stderr,  # stdout carries the one JSON line
        )
        target = Path(tmp) / "python"
        layer = _tree_bytes(target)
        pycache = sum(_tree_bytes(p) for p in target.rglob("__pycache__"))
        functions = {
            path.parent.name: round((_tree_bytes(path.parent) + layer) / 1e6, 1)
            for path in (ROOT / "functions").glob("*/app.py")
        }
        return {
            "method": "make -C layers/agentgw build-AgentgwLayer (what sam build runs) + function code",
            "layers_mb": {"AgentgwLayer": round(layer / 1e6, 1)},
            "layer_pycache_mb": round(pycache / 1e6, 1),
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
    parser.add_argument("--no-first-request", action="store_true", help="skip the first-request measurement")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter the start-ups run (default: this one); a python3.13 runs Lambda's own layer",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory(prefix="agentgw-cold-") as work:
        layer = build_layer(Path(work), args.python)
        result: dict[str, Any] = {
            "benchmark": "cold_start",
            "startup": startup(layer, args.runs),
            "top_imports_ours": top_imports(layer, "ours"),
            "top_imports_baseline": top_imports(layer, "baseline"),
        }
        if not args.no_first_request:
            result["first_request_ours"] = first_request(layer, max(3, args.runs // 2))
    if not args.no_sizes:
        # sam build runs in a temporary copy of the project: a relative path must not follow it there.
        sam = str(Path(shutil.which(args.sam) or args.sam).resolve()) if args.sam else None
        result["sizes"] = sizes_with_sam(sam) if sam and not args.no_sam else sizes_with_pip()
    result["machine"] = machine()
    version = subprocess.run([args.python, "--version"], capture_output=True, text=True, check=True)
    result["machine"]["child_python"] = version.stdout.strip()
    emit(result)


if __name__ == "__main__":
    main()
