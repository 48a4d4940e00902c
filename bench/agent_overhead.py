"""Agent overhead: POST /prompt through the local stack, ours vs the tutorial-style baseline.

    python -m bench.agent_overhead [--requests 40] [--warmup 3]

Both agents run as Lambda handlers behind the local HTTP API (payload 2.0) on one local stack
(emulated AWS, Cognito token endpoint, gateway with JWT checks, the real tool Lambda). The
model is the integration tests' scripted Strands model: one `get_time` tool call, then a
text answer, so model time is ~0 and what is measured is the agent's own overhead (config,
token, MCP session, tool listing, agent construction, the tool call through the gateway).

Two agents: ours as deployed (one event loop per invocation: the MCP session opened and closed
inside it, the Strands agent on the same loop) and the baseline. Requests alternate between
them, one at a time. Counts are taken on the server side
(`EmulatedCognito.stats`, `LocalGateway.stats`) around each request: token requests,
`tools/list` calls, MCP sessions opened (`initialize`) and closed (`DELETE`), `server/discover`
probes, `tools/call`s. Besides wall-clock p50/p95, `cpu_ms_p50` is the process CPU time per
request (everything runs in this process), which moves less with other load on the machine.
The first request of each agent (cold caches) is reported apart from the warm ones. Prints one
JSON line.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from starlette.routing import Mount

from bench import baseline_agent
from bench.common import (
    ROOT,
    emit,
    machine,
    quiet_stdout,
    scripted_model_support,
    summary_ms,
)

GET_TIME = "timeweather___get_time"
BASELINE_FUNCTION = "agentgw-bench-BaselineAgent"
COUNTED = {
    "token_requests": ("cognito", "tokens_issued"),
    "tools_list_calls": ("gateway", "tools/list"),
    "mcp_sessions_opened": ("gateway", "sessions_opened"),
    "mcp_sessions_closed": ("gateway", "sessions_closed"),
    "server_discover_calls": ("gateway", "server/discover"),
    "tools_call_calls": ("gateway", "tools/call"),
}


def _counts(stack: Any) -> dict[str, int]:
    sources = {"cognito": stack.cognito.stats, "gateway": stack.gateway.stats}
    return {name: sources[src][key] for name, (src, key) in COUNTED.items()}


def _baseline_route(stack_ref: list[Any]) -> Mount:
    from agentgw_local.api import api_app

    def invoke(function: str, event: Any) -> Any:
        return stack_ref[0].aws.lambdas.invoke(function, event)

    return Mount("/baseline", app=api_app({("POST", "/prompt"): BASELINE_FUNCTION}, invoke))


def run(requests: int, warmup: int) -> dict[str, Any]:
    from agentgw_local.stack import LocalStack
    from agentgw_local.template import FunctionSpec

    support = scripted_model_support()
    sessions = tempfile.mkdtemp(prefix="agentgw-bench-sessions-")
    os.environ["AGENTGW_MODEL_PROVIDER"] = support.PROVIDER
    os.environ["AGENTGW_SESSION_DIR"] = sessions
    # The agent function's service as its handler composes it, with the scripted provider too.
    agent_app = support.agent_app()
    deployed_service = agent_app.service
    agent_app.service = agent_app.compose({support.PROVIDER: support._factory})
    baseline_agent.MODEL_FACTORY = lambda: support.ScriptedModel(support.SCRIPT)

    stack_ref: list[Any] = []
    stack = LocalStack(port=0, stack_name="agentgw-bench", extra_routes=[_baseline_route(stack_ref)])
    stack_ref.append(stack)
    stack.start()
    try:
        assert stack.aws is not None and stack.info is not None and stack.info.api_url
        spec = FunctionSpec(
            logical_id="BaselineAgent",
            code_uri=Path(ROOT / "bench"),
            handler="baseline_agent.lambda_handler",
            timeout_s=30,
            memory_mb=1024,
        )
        stack.aws.register_function(BASELINE_FUNCTION, spec, baseline_agent.lambda_handler)
        urls = {
            "ours": stack.info.api_url + "/prompt",
            "baseline": stack.base_url + "/baseline/prompt",
        }
        latencies: dict[str, list[float]] = {name: [] for name in urls}
        # CPU of the whole process (client, local API, handler, gateway, tool Lambda) per request:
        # less sensitive to other load on the machine than wall-clock time.
        cpu_times: dict[str, list[float]] = {name: [] for name in urls}
        per_request: dict[str, list[dict[str, int]]] = {name: [] for name in urls}
        first: dict[str, dict[str, Any]] = {}
        with httpx.Client(timeout=60) as http:
            for i in range(warmup + requests):
                for name, url in urls.items():
                    support.SCRIPT.play(
                        support.Turn(tool_uses=[(GET_TIME, {"timezone": "Asia/Tokyo"})]),
                        support.Turn(text="It is late in Tokyo."),
                    )
                    before = _counts(stack)
                    cpu_started = time.process_time()
                    started = time.perf_counter()
                    response = http.post(url, json={"prompt": "What time is it in Tokyo?"})
                    elapsed = time.perf_counter() - started
                    cpu = time.process_time() - cpu_started
                    after = _counts(stack)
                    if response.status_code != 200 or "Tokyo" not in response.text:
                        raise RuntimeError(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
                    delta = {k: after[k] - before[k] for k in after}
                    if i == 0:
                        first[name] = {"latency_ms": round(elapsed * 1000, 2), **delta}
                    elif i >= warmup:
                        latencies[name].append(elapsed)
                        cpu_times[name].append(cpu)
                        per_request[name].append(delta)
    finally:
        stack.stop()
        agent_app.service = deployed_service

    agents: dict[str, Any] = {}
    for name in urls:
        totals: Counter[str] = Counter()
        for delta in per_request[name]:
            totals.update(delta)
        n = len(per_request[name])
        agents[name] = {
            **summary_ms(latencies[name]),
            "cpu_ms_p50": summary_ms(cpu_times[name])["p50_ms"],
            "requests": n,
            "per_warm_request": {k: round(totals[k] / n, 3) for k in COUNTED},
            "max_per_warm_request": {k: max(d[k] for d in per_request[name]) for k in COUNTED},
            "first_request": first[name],
        }
    return {
        "benchmark": "agent_overhead",
        "machine": machine(),
        "model": "scripted (one get_time call, then text; ~0 model time)",
        "agents": agents,
        "speedup_p50": round(agents["baseline"]["p50_ms"] / agents["ours"]["p50_ms"], 2),
        "speedup_p95": round(agents["baseline"]["p95_ms"] / agents["ours"]["p95_ms"], 2),
        "cpu_ratio_p50": round(agents["baseline"]["cpu_ms_p50"] / agents["ours"]["cpu_ms_p50"], 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="measured requests per agent")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured requests per agent first")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 1:
        parser.error("--requests and --warmup must be at least 1")
    with quiet_stdout():  # the handlers log to stdout; ours is for the result line
        result = run(args.requests, args.warmup)
    emit(result)


if __name__ == "__main__":
    main()
