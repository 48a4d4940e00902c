"""Support for the agent API tests: a scripted Strands model and an isolated gateway.

`ScriptedModel` is the only double in these tests: a `strands.models.Model` that replays
scripted assistant turns (tool uses, then text) instead of calling a language model, and
records what the agent loop gave it (messages, offered tool specs). Everything else is real:
the HTTP API, the Lambda handler, the MCP session, the gateway, Cognito, the tool Lambdas.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import traceback
import uuid
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx
import pytest
from strands.models.model import Model
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from agentgw.agent.offline import turn_events
from agentgw.agent.service import AgentService
from agentgw.agent.settings import Settings
from agentgw.agent.tool_selection import ToolSelection
from agentgw.config import ClientCredentials, GatewayConfig

PROVIDER = "scripted"


@dataclass
class Turn:
    """One scripted assistant turn: tool uses (model-facing name or a chooser, arguments), or text.

    `text` may be a callable of the messages so far (to echo a tool result back).
    `slow` streams the text in many small chunks with pauses (for the deadline test).
    `raises`: the model fails with this error instead of answering.
    """

    tool_uses: list[tuple[str | Callable[[list[ToolSpec]], str], dict[str, Any]]] = field(
        default_factory=list
    )
    text: str | Callable[[Messages], str] | None = None
    input_tokens: int = 10
    output_tokens: int = 5
    slow: bool = False
    raises: BaseException | None = None


@dataclass
class Seen:
    messages: Messages
    tool_names: list[str]
    tool_specs: list[ToolSpec]


class Script:
    """The turns the next requests replay, and what the model saw."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.seen: list[Seen] = []
        self.selections: list[ToolSelection] = []
        self.stream_closed = threading.Event()
        self._lock = threading.Lock()

    def play(self, *turns: Turn) -> None:
        with self._lock:
            self.turns = list(turns)
            self.seen = []
            self.selections = []
            self.stream_closed.clear()

    def next_turn(self) -> Turn:
        with self._lock:
            if not self.turns:
                raise AssertionError("the scripted model ran out of turns")
            return self.turns.pop(0)


class ScriptedModel(Model):
    def __init__(self, script: Script) -> None:
        self.script = script
        self.config: dict[str, Any] = {"model_id": PROVIDER}

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    def structured_output(
        self, output_model: Any, prompt: Messages, system_prompt: str | None = None, **kw: Any
    ):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        specs = list(tool_specs or [])
        self.script.seen.append(
            Seen(json.loads(json.dumps(messages, default=str)), [s["name"] for s in specs], specs)
        )
        turn = self.script.next_turn()
        uses = [
            (f"tooluse-{uuid.uuid4().hex[:8]}", name(specs) if callable(name) else name, args)
            for name, args in turn.tool_uses
        ]
        text = turn.text(messages) if callable(turn.text) else turn.text
        try:
            if turn.raises is not None:
                raise turn.raises
            if turn.slow:
                yield {"messageStart": {"role": "assistant"}}
                yield {"contentBlockStart": {"contentBlockIndex": 0, "start": {}}}
                for _ in range(2000):  # ~100 s unless cancelled between chunks
                    await asyncio.sleep(0.05)
                    yield {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "."}}}
                raise AssertionError("the slow turn was never cancelled")
            for event in turn_events(
                text=text, tool_uses=uses, input_tokens=turn.input_tokens, output_tokens=turn.output_tokens
            ):
                yield event
        finally:
            self.script.stream_closed.set()


SCRIPT = Script()


def _factory(settings: Settings, selection: ToolSelection) -> tuple[Model, str]:
    SCRIPT.selections.append(selection)
    return ScriptedModel(SCRIPT), PROVIDER


def agent_app() -> ModuleType:
    """The agent function's handler module, as the local stack imports it (once per process)."""
    from agentgw_local.template import Template

    return Template().functions()["AgentFunction"].handler_module()


def agent_service() -> AgentService:
    """The service the agent function answers with now."""
    service: AgentService = agent_app().service
    return service


def use_scripted_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The agent function's service, composed as the handler does, with the scripted provider too."""
    app = agent_app()
    monkeypatch.setattr(app, "service", app.compose({PROVIDER: _factory}))
    monkeypatch.setenv("AGENTGW_MODEL_PROVIDER", PROVIDER)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Script]:
    """The agent function answers with the scripted model for this test (sessions in tmp_path)."""
    use_scripted_model(monkeypatch)
    monkeypatch.setenv("AGENTGW_SESSION_DIR", str(tmp_path / "sessions"))
    SCRIPT.play()
    yield SCRIPT


def tool_result_text(messages: Messages) -> str:
    """The text of the tool results in the last (user) message."""
    texts = []
    for block in messages[-1]["content"]:
        if "toolResult" in block:
            texts.extend(item.get("text", "") for item in block["toolResult"]["content"])
    return " ".join(texts)


def prompt(api_url: str, body: Any, *, raw: bytes | str | None = None, timeout: float = 60) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body)
    return httpx.post(
        f"{api_url}/prompt", content=content, headers={"Content-Type": "application/json"}, timeout=timeout
    )


@dataclass
class IsolatedGateway:
    """A gateway of its own, published like provisioning does, so tests may change it freely."""

    gateway_id: str
    parameter_name: str
    config: GatewayConfig


def publish_gateway(
    kit: Any, *, with_timeweather: bool = True, search: bool = True, versions: list[str] | None = None
) -> IsolatedGateway:
    """A new gateway + Cognito client, its config in SSM and its secret in Secrets Manager.

    `versions`: the gateway's MCP `supportedVersions` (default: the kit's).
    """
    from agentgw import endpoints
    from agentgw.tools import target_name, tool_definitions

    authz = kit.cognito()
    gateway_id = kit.gateway(authz, search=search, versions=versions)
    if with_timeweather:
        kit.target(gateway_id, kit.tools_function(), tool_definitions(), name=target_name())
    secret_arn = kit.aws.client("secretsmanager").create_secret(
        Name=f"agentgw/tests/{gateway_id}",
        SecretString=ClientCredentials(authz.client_id, authz.client_secret).to_secret_string(),
    )["ARN"]
    config = GatewayConfig(
        gateway_id=gateway_id,
        gateway_url=endpoints.gateway_mcp_url(gateway_id),
        region=kit.aws.region,
        token_url=authz.token_url,
        discovery_url=authz.discovery_url,
        client_id=authz.client_id,
        scope=authz.scope,
        client_secret_arn=secret_arn,
        search_type="SEMANTIC" if search else "",
    )
    name = f"/agentgw/tests/{gateway_id}"
    kit.aws.client("ssm").put_parameter(Name=name, Value=config.to_json(), Type="String")
    return IsolatedGateway(gateway_id, name, config)


@contextmanager
def agent_uses(monkeypatch: pytest.MonkeyPatch, gateway: IsolatedGateway) -> Iterator[None]:
    """Point the agent function at `gateway` with fresh caches."""
    monkeypatch.setenv("AGENTGW_CONFIG_PARAMETER", gateway.parameter_name)
    service = agent_service()
    service.credentials.reset()
    service.caches.clear()
    try:
        yield
    finally:
        service.credentials.reset()
        service.caches.clear()


class TokenCounter:
    """Counts tokens the emulated Cognito issues (wraps the real grant, changes nothing)."""

    def __init__(self, cognito: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = cognito.issue_token

        def counting(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            self.count += 1
            return result

        monkeypatch.setattr(cognito, "issue_token", counting)


# Code an invocation runs; a thread whose stack is in it after the answer outlived the invocation.
INVOCATION_CODE = ("/strands/", "/mcp/", "/httpx2/", "/httpcore2/", "/agentgw/agent/")


def threads_running_invocation_code() -> list[str]:
    """Names of the threads (other than the caller's) that are running agent, Strands or MCP code now."""
    me = threading.get_ident()
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    found = []
    for ident, frame in sys._current_frames().items():
        if ident == me:
            continue
        stack = traceback.extract_stack(frame)
        if any(part in entry.filename for entry in stack for part in INVOCATION_CODE):
            found.append(names.get(ident, str(ident)))
    return found
