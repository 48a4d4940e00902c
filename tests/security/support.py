"""Helpers for the security tests: a probe tool that counts its invocations and a gateway
(CUSTOM_JWT) serving it, built in the running stack's emulated control plane."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from integration.stackkit import Authz, Kit, Mcp

PROBE_TOOL = {
    "name": "echo",
    "description": "Echo the arguments back (security probe)",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
}


@dataclass
class Probe:
    """A Lambda target that records every invocation, so a test can prove none happened."""

    calls: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, event: Any, context: Any) -> dict[str, Any]:
        with self.lock:
            self.calls.append(event)
        return {"echo": event}

    def count(self) -> int:
        with self.lock:
            return len(self.calls)


@dataclass(frozen=True)
class Guarded:
    """A gateway (CUSTOM_JWT) with one probe tool `probe___echo`."""

    gateway_id: str
    url: str
    authz: Authz
    probe: Probe
    tool: str = "probe___echo"

    def call_body(self, text: str = "hi") -> dict[str, Any]:
        return {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": self.tool, "arguments": {"text": text}},
        }

    def client(self, token: str | None) -> Mcp:
        return Mcp(self.url, token)


def guarded_gateway(builder: Kit, authz: Authz, name: str, **authorizer: Any) -> Guarded:
    probe = Probe()
    gateway_id = builder.gateway(authz, authorizer=authorizer or None)
    arn = builder.function(name, probe.handler)
    builder.target(gateway_id, arn, [PROBE_TOOL], name="probe")
    return Guarded(gateway_id, builder.mcp_url(gateway_id), authz, probe)
