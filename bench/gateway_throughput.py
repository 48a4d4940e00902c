"""Gateway throughput: `tools/call` of get_time through the local gateway (JWT checks on), beside
the same Lambda handler called directly and a bare mcp SDK server with one tool.

    python -m bench.gateway_throughput [--seconds 5] [--clients 1,8,32,64]

Processes and cores (2-core machine): each server runs in its own process pinned to CPU 0, the
load generator (this process: asyncio + aiohttp, one keep-alive connection per client, closed
loop) is pinned to CPU 1. Servers:

- `gateway`: the local stack (`LocalStack`: emulated AWS, Cognito, the gateway, provisioned by
  the real state machine); POST `/gateways/{id}/mcp` with a Cognito access token, so every
  request goes through the CUSTOM_JWT authorizer, the catalog, argument validation and the real
  ToolsFunction handler (in a worker thread, as the gateway runs it).
- `mcp_sdk`: mcp 2.1.1 `MCPServer` with one tool, `get_time`, whose body calls the same handler,
  as a stateless streamable-HTTP app with JSON responses under uvicorn (same loop/parser as the
  local stack); no auth.
- `direct`: the ToolsFunction handler called in-process with the gateway's client context
  (no HTTP), one call at a time.

Each level runs `--seconds` after a one-second warm-up. An error is a non-200 answer, a
JSON-RPC error, or a result with `isError: true`. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, emit, machine, quiet_stdout, summary_ms

SERVER_CPU = 0
CLIENT_CPU = 1
TOOL = "timeweather___get_time"
ARGUMENTS = {"timezone": "UTC"}
PROTOCOL_VERSION = "2025-06-18"


# -- the handler, as the gateway calls it ------------------------------------------------------


def tools_handler() -> Any:
    from agentgw_local.template import Template

    return Template().functions()["ToolsFunction"].load_handler()


def lambda_context(tool: str = TOOL) -> Any:
    from agentgw.lambda_context import ClientContext, LambdaContext

    return LambdaContext(
        function_name="agentgw-bench-ToolsFunction",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:agentgw-bench-ToolsFunction",
        memory_limit_in_mb=256,
        timeout_s=30,
        client_context=ClientContext(
            custom={
                "bedrockAgentCoreToolName": tool,
                "bedrockAgentCoreGatewayId": "bench",
                "bedrockAgentCoreTargetId": "bench",
                "bedrockAgentCoreMessageVersion": "1.0",
                "bedrockAgentCoreAwsRequestId": "bench",
                "bedrockAgentCoreMcpMessageId": "1",
            },
            env={},
            client=None,
        ),
    )


# -- servers (child processes) -----------------------------------------------------------------


def _quiet_stdio(log: str) -> Any:
    """Handlers log to stdout: send fd 1 and 2 to `log`, return a stream on the real stdout."""
    ready = os.fdopen(os.dup(1), "w")
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    return ready


def serve_stack(log: str) -> None:
    out = _quiet_stdio(log)
    from agentgw.config import ClientCredentials
    from agentgw.oauth import fetch_token
    from agentgw_local.stack import LocalStack

    stack = LocalStack(port=0, stack_name="agentgw-bench").start()
    try:
        info = stack.info
        assert info is not None
        token = fetch_token(info.token_url, ClientCredentials(info.client_id, info.client_secret), info.scope)
        out.write(json.dumps({"url": info.gateway_url, "token": token.value}) + "\n")
        out.flush()
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        stack.stop()


def serve_mcp_sdk(log: str) -> None:
    out = _quiet_stdio(log)
    import socket

    import uvicorn
    from mcp.server.mcpserver import MCPServer

    handler = tools_handler()
    server = MCPServer("bench-bare")

    @server.tool()
    def get_time(timezone: str) -> str:
        """Current time in an IANA time zone or a well-known city."""
        return json.dumps(handler({"timezone": timezone}, lambda_context()))

    app = server.streamable_http_app(stateless_http=True, json_response=True)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    userver = uvicorn.Server(config)

    def report_then_wait() -> None:
        while not userver.started:
            time.sleep(0.01)
        out.write(json.dumps({"url": f"http://127.0.0.1:{port}/mcp", "token": None}) + "\n")
        out.flush()
        sys.stdin.read()  # until the parent closes our stdin
        userver.should_exit = True

    threading.Thread(target=report_then_wait, daemon=True).start()
    userver.run(sockets=[sock])  # uvicorn picks uvloop + httptools, as the local stack does


class Server:
    """A server child process pinned to SERVER_CPU; `url`/`token` from its first stdout line."""

    def __init__(self, kind: str, log: str, timeout_s: float = 600) -> None:
        self.proc = subprocess.Popen(
            [
                "taskset",
                "-c",
                str(SERVER_CPU),
                sys.executable,
                "-m",
                "bench.gateway_throughput",
                "--serve",
                kind,
                "--log",
                log,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = ""
        while not line and time.monotonic() < deadline and self.proc.poll() is None:
            line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"the {kind} server did not start (log: {log})")
        data = json.loads(line)
        self.url: str = data["url"]
        self.token: str | None = data["token"]

    def cpu_s(self) -> float:
        """CPU time (user + system) the server process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- load generator ----------------------------------------------------------------------------


def _is_ok(status: int, body: bytes) -> bool:
    if status != 200:
        return False
    try:
        reply = json.loads(body)
    except ValueError:
        return False
    result = reply.get("result") if isinstance(reply, dict) else None
    return isinstance(result, dict) and result.get("isError") is False


async def load(url: str, token: str | None, tool: str, clients: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": PROTOCOL_VERSION,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    latencies: list[float] = []
    errors = 0
    error_sample: str | None = None
    measuring = False
    stop_at = float("inf")
    total = 0  # warm-up included

    async def client(session: aiohttp.ClientSession, number: int) -> None:
        nonlocal errors, error_sample, total
        request_id = 0
        while time.perf_counter() < stop_at:
            request_id += 1
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": request_id,
                    "method": "tools/call",
                    "params": {"name": tool, "arguments": ARGUMENTS},
                }
            )
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                    ok = _is_ok(response.status, payload)
            except (aiohttp.ClientError, TimeoutError) as exc:
                ok, payload = False, repr(exc).encode()
            elapsed = time.perf_counter() - started
            total += 1
            if measuring:
                latencies.append(elapsed)
                if not ok:
                    errors += 1
                    error_sample = error_sample or payload[:300].decode("utf-8", "replace")

    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        stop_at = time.perf_counter() + 1.0 + seconds
        tasks = [asyncio.create_task(client(session, n)) for n in range(clients)]
        await asyncio.sleep(1.0)  # warm-up: connections open, caches filled
        measuring = True
        measured_from = time.perf_counter()
        await asyncio.gather(*tasks)
        measured_s = time.perf_counter() - measured_from
    result: dict[str, Any] = {
        "clients": clients,
        "requests": len(latencies),
        "requests_total": total,
        "calls_per_s": round(len(latencies) / measured_s, 1),
        "errors": errors,
        **{k: v for k, v in summary_ms(latencies).items() if k in ("p50_ms", "p99_ms")},
    }
    if error_sample:
        result["error_sample"] = error_sample
    return result


def direct(seconds: float) -> dict[str, Any]:
    handler = tools_handler()
    for _ in range(50):
        handler(dict(ARGUMENTS), lambda_context())
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        handler(dict(ARGUMENTS), lambda_context())
        latencies.append(time.perf_counter() - started)
    return {
        "clients": 1,
        "requests": len(latencies),
        "calls_per_s": round(len(latencies) / seconds, 1),
        "errors": 0,
        **{k: v for k, v in summary_ms(latencies).items() if k in ("p50_ms", "p99_ms")},
    }


def run(seconds: float, levels: list[int]) -> dict[str, Any]:
    os.sched_setaffinity(0, {CLIENT_CPU})
    logdir = Path(tempfile.mkdtemp(prefix="agentgw-bench-"))
    results: dict[str, Any] = {}
    with quiet_stdout():  # the handler logs to stdout; ours is for the result line
        results["direct"] = [direct(seconds)]
    for kind, serve, tool in (("gateway", "stack", TOOL), ("mcp_sdk", "mcp_sdk", "get_time")):
        server = Server(serve, str(logdir / f"{kind}.log"))
        try:
            results[kind] = []
            for clients in levels:
                cpu_before = server.cpu_s()
                level = asyncio.run(load(server.url, server.token, tool, clients, seconds))
                # Server CPU per call (warm-up included in both): less sensitive than calls/s to
                # other load on the machine; 1000 / it is what one free core could carry.
                cpu_ms = (server.cpu_s() - cpu_before) * 1000
                level["server_cpu_ms_per_call"] = round(cpu_ms / max(1, level["requests_total"]), 3)
                results[kind].append(level)
        finally:
            server.stop()
    gateway_1 = next((r for r in results["gateway"] if r["clients"] == 1), None)
    summary: dict[str, Any] = {}
    if gateway_1 is not None:
        summary["gateway_overhead_p50_ms"] = round(gateway_1["p50_ms"] - results["direct"][0]["p50_ms"], 2)
    at_32 = next((r for r in results["gateway"] if r["clients"] == 32), None)
    if at_32 is not None:
        summary["gateway_at_32"] = {k: at_32[k] for k in ("calls_per_s", "p99_ms", "errors")}
    return {
        "benchmark": "gateway_throughput",
        "machine": machine(),
        "cores": {"servers": SERVER_CPU, "load_generator": CLIENT_CPU},
        "seconds_per_level": seconds,
        "results": results,
        "summary": summary,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per level")
    parser.add_argument("--clients", default="1,8,32,64", help="concurrency levels, comma-separated")
    parser.add_argument("--serve", choices=("stack", "mcp_sdk"), help=argparse.SUPPRESS)
    parser.add_argument("--log", default=os.devnull, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "stack":
        serve_stack(args.log)
        return
    if args.serve == "mcp_sdk":
        serve_mcp_sdk(args.log)
        return
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    if not levels or min(levels) < 1 or not 0 < args.seconds <= 60:
        parser.error("--clients must be positive integers and --seconds in (0, 60]")
    emit(run(args.seconds, levels))


if __name__ == "__main__":
    main()
