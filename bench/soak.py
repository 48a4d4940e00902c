"""Soak: the local stack under steady load for a bounded time, watched for errors, memory growth,
and leaked threads and MCP sessions.

    python -m bench.soak [--seconds 120] [--clients 32] [--agent-clients 4] [--warmup 20]

The stack (`LocalStack`: emulated AWS, Cognito, the gateway, the agent API, provisioned by the
real state machine) runs in a child process; this process drives it over loopback with
`--clients` closed-loop clients, each on its own keep-alive connection:

- gateway clients (`clients - agent_clients`): a token from the token endpoint (fetched again
  every 200 calls, as a client past expiry would), `initialize`, then `tools/call` get_time
  (nine in ten) and `tools/list`, and every 50 calls a `DELETE` of the session and a new
  `initialize` — so sessions are opened and closed all along;
- agent clients: `POST /api/prompt` "What time is it in <city>?" answered by the offline model
  through the gateway (each prompt opens and closes its own MCP session inside the function).

An error is any non-2xx answer, a JSON-RPC error, a tool result with `isError: true`, or a
transport failure. The child reports its RSS (/proc), thread count and open MCP sessions on a
stats route; memory growth and thread growth are measured from the end of the warm-up (by then
the worker pools have grown to the load's concurrency) to after the clients stop; open MCP
sessions after the clients stop must be back to the count before the load. Prints one JSON
line; exit status 1 if the run fails its bounds (errors > 0, memory growth >= 10 %, leaked
threads or sessions).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, emit, machine, summary_ms

STATS_PATH = "/_soak/stats"
ACCEPT = "application/json, text/event-stream"
CITIES = ["Tokyo", "Paris", "New York", "Sydney", "Berlin", "Nairobi"]
MAX_MEMORY_GROWTH = 0.10


# -- the server (child process) ------------------------------------------------------------------
def serve(info_path: Path) -> None:
    import logging
    import threading as th

    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from agentgw_local.stack import LocalStack

    logging.disable(logging.WARNING)  # the handlers' INFO logs are not what this measures
    holder: dict[str, LocalStack] = {}

    async def stats(request: Request) -> JSONResponse:
        stack = holder["stack"]
        assert stack.gateway is not None and stack.cognito is not None
        return JSONResponse(
            {
                "rss_kb": _rss_kb(),
                "threads": th.active_count(),
                "thread_names": sorted(Counter(_family(t.name) for t in th.enumerate()).items()),
                "mcp_sessions": stack.gateway.open_sessions,
                "gateway": dict(stack.gateway.stats),
                "cognito": dict(stack.cognito.stats),
            }
        )

    stack = LocalStack(port=0, stack_name="agentgw-soak", extra_routes=[Route(STATS_PATH, stats)])
    holder["stack"] = stack
    stack.start()
    try:
        assert stack.info is not None
        fd = os.open(info_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds the secret
        with os.fdopen(fd, "w") as f:
            json.dump({**json.loads(stack.info.to_json()), "base_url": stack.base_url}, f)
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        stack.stop()


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def _family(name: str) -> str:
    # "agentgw-gateway_3" and "Thread-12 (run)" → their family, so counts compare across runs.
    return name.rstrip("0123456789").rstrip("_-") if not name.startswith("Thread-") else "Thread"


# -- the load (this process) ---------------------------------------------------------------------
class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.samples: dict[str, list[float]] = {"gateway": [], "agent": []}
        self.error_examples: list[str] = []

    def record(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            if error is None:
                self.ok[kind] += 1
                if len(self.samples[kind]) < 200_000:
                    self.samples[kind].append(seconds)
            else:
                self.errors[kind] += 1
                if len(self.error_examples) < 10:
                    self.error_examples.append(f"{kind}: {error}"[:300])


def token(info: dict[str, Any], client: httpx.Client) -> str:
    response = client.post(
        info["token_url"],
        data={"grant_type": "client_credentials", "scope": info["scope"]},
        auth=(info["client_id"], info["client_secret"]),
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def gateway_client(info: dict[str, Any], stop: threading.Event, tally: Tally) -> None:
    ids = itertools.count(1)
    with httpx.Client(timeout=60) as client:
        bearer = token(info, client)
        session: str | None = None

        def rpc(method: str, params: dict[str, Any]) -> httpx.Response:
            headers = {"Accept": ACCEPT, "Authorization": f"Bearer {bearer}"}
            if session:
                headers["Mcp-Session-Id"] = session
            body = {"jsonrpc": "2.0", "id": next(ids), "method": method, "params": params}
            return client.post(info["gateway_url"], json=body, headers=headers)

        def open_session() -> str:
            reply = rpc(
                "initialize",
                {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "soak", "version": "0"},
                },
            )
            reply.raise_for_status()
            return reply.headers["mcp-session-id"]

        def close_session() -> None:
            if session:
                client.delete(
                    info["gateway_url"],
                    headers={"Authorization": f"Bearer {bearer}", "Mcp-Session-Id": session},
                ).raise_for_status()

        session = open_session()
        for n in itertools.count(1):
            if stop.is_set():
                break
            started = time.perf_counter()
            error: str | None = None
            try:
                if n % 200 == 0:
                    bearer = token(info, client)
                if n % 50 == 0:
                    close_session()
                    session = open_session()
                if n % 10 == 0:
                    reply = rpc("tools/list", {})
                else:
                    reply = rpc(
                        "tools/call", {"name": "timeweather___get_time", "arguments": {"timezone": "UTC"}}
                    )
                if reply.status_code != 200:
                    error = f"HTTP {reply.status_code}: {reply.text[:200]}"
                else:
                    body = reply.json()
                    if "error" in body:
                        error = f"JSON-RPC error {body['error']}"
                    elif body["result"].get("isError"):
                        error = f"isError: {body['result']['content'][0]['text'][:200]}"
            except Exception as exc:  # transport failures count as errors
                error = f"{type(exc).__name__}: {exc}"
            tally.record("gateway", time.perf_counter() - started, error)
        close_session()


def agent_client(info: dict[str, Any], stop: threading.Event, tally: Tally, offset: int) -> None:
    with httpx.Client(timeout=60) as client:
        for n in itertools.count(offset):
            if stop.is_set():
                break
            started = time.perf_counter()
            error: str | None = None
            try:
                prompt = {"prompt": f"What time is it in {CITIES[n % len(CITIES)]}?"}
                reply = client.post(f"{info['api_url']}/prompt", json=prompt)
                if reply.status_code != 200:
                    error = f"HTTP {reply.status_code}: {reply.text[:200]}"
                elif not reply.json().get("answer"):
                    error = f"no answer: {reply.text[:200]}"
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            tally.record("agent", time.perf_counter() - started, error)


def run(seconds: float, clients: int, agent_clients: int, warmup: float) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="agentgw-soak-"))  # 0700: the info file holds the secret
    info_path, log_path = workdir / "info.json", workdir / "server.log"
    env = {**os.environ, "AGENTGW_SESSION_DIR": str(workdir / "sessions")}
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.soak", "--serve", str(info_path)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            env=env,
        )
    try:
        deadline = time.monotonic() + 300
        while not info_path.exists() or not info_path.read_text().strip():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the soak server did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)
        time.sleep(0.5)
        info = json.loads(info_path.read_text())
        stats_url = info["base_url"] + STATS_PATH

        def stats() -> dict[str, Any]:
            return dict(httpx.get(stats_url, timeout=30).json())

        # Let the search index warm up so its one-off memory is in the baseline.
        time.sleep(5)
        before = stats()
        tally, stop = Tally(), threading.Event()
        workers = [
            threading.Thread(target=agent_client, args=(info, stop, tally, i), daemon=True)
            for i in range(agent_clients)
        ] + [
            threading.Thread(target=gateway_client, args=(info, stop, tally), daemon=True)
            for _ in range(clients - agent_clients)
        ]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        time.sleep(warmup)
        warm = stats()
        memory: list[int] = [warm["rss_kb"]]
        while time.monotonic() - started < seconds:
            time.sleep(5)
            memory.append(stats()["rss_kb"])
        stop.set()
        for worker in workers:
            worker.join(120)
        elapsed = time.monotonic() - started
        time.sleep(3)  # let the server finish closing what the last requests opened
        after = stats()
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(60)
        for path in (info_path,):
            path.unlink(missing_ok=True)

    growth = (after["rss_kb"] - warm["rss_kb"]) / warm["rss_kb"]
    result = {
        "benchmark": "soak",
        "seconds": round(elapsed, 1),
        "clients": clients,
        "agent_clients": agent_clients,
        "requests": {k: tally.ok[k] + tally.errors[k] for k in ("gateway", "agent")},
        "requests_per_s": round(sum(tally.ok.values()) / elapsed, 1),
        "errors": dict(tally.errors),
        "error_examples": tally.error_examples,
        "latency": {k: summary_ms(v) for k, v in tally.samples.items() if v},
        "memory_kb": {
            "before_load": before["rss_kb"],
            "after_warmup": warm["rss_kb"],
            "max": max(memory),
            "end": after["rss_kb"],
            "growth_after_warmup_pct": round(growth * 100, 2),
        },
        # Pools (the gateway's workers, the API's executor) grow to the load's concurrency during
        # the warm-up; a leak is growth after that.
        "threads": {
            "before_load": before["threads"],
            "after_warmup": warm["threads"],
            "after_load": after["threads"],
        },
        "thread_families_after": after["thread_names"],
        "mcp_sessions": {"before_load": before["mcp_sessions"], "after_load": after["mcp_sessions"]},
        "server_counters": {
            k: after["gateway"].get(k, 0) - before["gateway"].get(k, 0)
            for k in set(after["gateway"]) | set(before["gateway"])
        },
        "tokens_issued": after["cognito"].get("tokens_issued", 0) - before["cognito"].get("tokens_issued", 0),
        "machine": machine(),
    }
    result["passed"] = (
        sum(tally.errors.values()) == 0
        and growth < MAX_MEMORY_GROWTH
        and after["mcp_sessions"] <= before["mcp_sessions"]
        and after["threads"] <= warm["threads"]
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--agent-clients", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if not 0 <= args.agent_clients <= args.clients:
        parser.error("--agent-clients must be between 0 and --clients")
    result = run(args.seconds, args.clients, args.agent_clients, args.warmup)
    emit(result)
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
