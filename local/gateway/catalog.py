"""What each gateway serves, read from the emulated control plane (moto's backend, in-process).

A `GatewayView` is an immutable snapshot of one gateway: its authorizer and protocol
configuration and its tools (`{target}___{tool}`, with compiled argument validators and the
target that serves each; a target's kind, e.g. Lambda, says which tools it declares).
`Catalog.view(gateway_id)` rebuilds the snapshot only when the gateway or its targets changed
(their `updatedAt`, status or configuration object), so a tool added to the emulated control
plane shows up on the next request while a steady request stream costs a cheap fingerprint
per request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from jsonschema.protocols import Validator
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from agentgw_local.aws import ACCOUNT_ID
from agentgw_local.gateway.targets.kind import Target, TargetKind, UnservableTarget

log = logging.getLogger(__name__)

TOOL_NAME_SEPARATOR = "___"
SEARCH_TOOL_NAME = "x_amz_bedrock_agentcore_search"
SERVER_VERSION = "1.0.0"  # serverInfo.version
SEARCH_TOOL: dict[str, Any] = {
    "name": SEARCH_TOOL_NAME,
    "description": (
        "A special tool that returns a trimmed down list of tools given a context. Use this tool only "
        "when there are many tools available and you want to get a subset that matches the provided context."
    ),
    "inputSchema": {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "search query"}},
        "required": ["query"],
    },
}

# MCP revisions the gateway speaks: the handshake ones (AgentCore's, not 2024-11-05) open with
# `initialize` (and a session); the modern ones (2026-07-28) are stateless, every request stamped
# with its version (`server/discover` instead).
HANDSHAKE_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
MODERN_VERSIONS = MODERN_PROTOCOL_VERSIONS

# Statuses in which AgentCore serves a gateway / a target's tools.
SERVING_GATEWAY = frozenset({"READY", "UPDATING", "UPDATE_UNSUCCESSFUL"})
SERVING_TARGET = frozenset(
    {"READY", "UPDATING", "UPDATE_UNSUCCESSFUL", "SYNCHRONIZING", "SYNCHRONIZE_UNSUCCESSFUL"}
)


@dataclass(frozen=True)
class Tool:
    name: str  # prefixed: {target}___{tool}
    definition: dict[str, Any]  # what tools/list shows
    target: Target
    validator: Validator


@dataclass(frozen=True)
class GatewayView:
    gateway_id: str
    name: str
    status: str
    authorizer_type: str
    authorizer: dict[str, Any]  # customJWTAuthorizer
    protocol: dict[str, Any]  # protocolConfiguration.mcp
    exception_level: str | None
    tools: tuple[Tool, ...]
    by_name: Mapping[str, Tool]
    listing: tuple[dict[str, Any], ...]  # tools/list order, search tool first when enabled
    handshake_versions: tuple[str, ...]  # what `initialize` may negotiate; empty: 2026-07-28 only
    modern_versions: tuple[str, ...]  # stateless revisions this gateway accepts (opt-in)
    fingerprint: tuple[Any, ...] = field(repr=False)

    @property
    def serving(self) -> bool:
        return self.status in SERVING_GATEWAY

    @property
    def search_enabled(self) -> bool:
        return self.protocol.get("searchType") == "SEMANTIC"

    @property
    def debug(self) -> bool:
        return self.exception_level == "DEBUG"

    @property
    def supported_versions(self) -> list[str]:
        return list(self.protocol.get("supportedVersions") or [])

    @property
    def server_info(self) -> dict[str, str]:
        return {"name": self.name, "version": SERVER_VERSION}


class Catalog:
    """Snapshots of the gateways in moto's bedrock-agentcore-control backend."""

    def __init__(
        self,
        *,
        region: str,
        kinds: Iterable[TargetKind],
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.kinds = {kind.config_key: kind for kind in kinds}
        self._views: dict[str, GatewayView] = {}
        self._backend_obj: Any = None

    def _backend(self) -> Any:
        # moto's BackendDict lookups cost more than the rest of a request; its reset() re-inits the
        # backend object in place, so the object can be kept.
        if self._backend_obj is None:
            from moto.bedrockagentcorecontrol.models import bedrockagentcorecontrol_backends

            self._backend_obj = bedrockagentcorecontrol_backends[self.account_id][self.region]
        return self._backend_obj

    def view(self, gateway_id: str) -> GatewayView | None:
        """The gateway's current snapshot, or None when the control plane has no such gateway."""
        backend = self._backend()
        gateway = backend.gateways.get(gateway_id)
        if gateway is None:
            self._views.pop(gateway_id, None)
            return None
        targets = [t for (gid, _), t in list(backend.gateway_targets.items()) if gid == gateway_id]
        fingerprint = (
            gateway.updated_at,
            gateway.status,
            id(gateway.protocol_configuration),
            id(gateway.authorizer_configuration),
            gateway.exception_level,
            *((t.target_id, t.updated_at, t.status, id(t.target_configuration)) for t in targets),
        )
        cached = self._views.get(gateway_id)
        if cached is not None and cached.fingerprint == fingerprint:
            return cached
        view = _build_view(gateway, targets, self.kinds, fingerprint)
        self._views[gateway_id] = view
        return view


def _build_view(
    gateway: Any, targets: list[Any], kinds: Mapping[str, TargetKind], fingerprint: tuple[Any, ...]
) -> GatewayView:
    protocol = dict((gateway.protocol_configuration or {}).get("mcp") or {})
    authorizer = dict((gateway.authorizer_configuration or {}).get("customJWTAuthorizer") or {})
    tools: list[Tool] = []
    for target in targets:
        if target.status not in SERVING_TARGET:
            continue
        tools.extend(_target_tools(target, kinds))
    by_name = {tool.name: tool for tool in tools}
    handshake_versions, modern_versions = _versions(protocol.get("supportedVersions") or [])
    listing = [tool.definition for tool in tools]
    if protocol.get("searchType") == "SEMANTIC":
        listing.insert(0, SEARCH_TOOL)
    return GatewayView(
        gateway_id=gateway.gateway_id,
        name=gateway.name,
        status=str(gateway.status),
        authorizer_type=gateway.authorizer_type,
        authorizer=authorizer,
        protocol=protocol,
        exception_level=gateway.exception_level,
        tools=tuple(tools),
        by_name=by_name,
        listing=tuple(listing),
        handshake_versions=handshake_versions,
        modern_versions=modern_versions,
        fingerprint=fingerprint,
    )


def _versions(configured: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(handshake, modern) revisions served for a `supportedVersions` list.

    The gateway accepts only what the list names. An empty list (or one naming no revision we
    know) keeps the handshake revisions, as before 2026-07-28 existed; the stateless revision is
    served only when listed, as AgentCore enables it with UpdateGateway.
    """
    handshake = tuple(v for v in configured if v in HANDSHAKE_VERSIONS)  # in the list's order
    modern = tuple(v for v in configured if v in MODERN_VERSIONS)
    if not handshake and not modern:
        handshake = HANDSHAKE_VERSIONS
    return handshake, modern


def _target_tools(record: Any, kinds: Mapping[str, TargetKind]) -> list[Tool]:
    configuration = (record.target_configuration or {}).get("mcp") or {}
    key = next((key for key in configuration if key in kinds), None)
    if key is None:
        served = ", ".join(kinds) or "no"
        log.warning("target %s: only %s targets are served locally; skipped", record.name, served)
        return []
    target = Target(target_id=record.target_id, name=record.name, kind=kinds[key], config=configuration[key])
    try:
        definitions = target.kind.tools(target.name, target.config)
    except UnservableTarget as exc:
        log.warning("target %s: %s; skipped", record.name, exc)
        return []
    tools = []
    for definition in definitions:
        name = f"{target.name}{TOOL_NAME_SEPARATOR}{definition['name']}"
        shown: dict[str, Any] = {
            "name": name,
            "description": definition.get("description", ""),
            "inputSchema": definition.get("inputSchema") or {"type": "object"},
        }
        if definition.get("outputSchema"):
            shown["outputSchema"] = definition["outputSchema"]
        validator_cls = jsonschema.validators.validator_for(
            shown["inputSchema"], jsonschema.Draft202012Validator
        )
        tools.append(
            Tool(name=name, definition=shown, target=target, validator=validator_cls(shown["inputSchema"]))
        )
    return tools
