"""The baseline for the agent benchmarks: an agent handler written the tutorial's way.

Per request it does what the AgentCore Gateway tutorial's agent does: request a new OAuth
token (client_credentials), open a new MCP session with that token in a header, list every
`tools/list` page, build a new Strands `Agent` with all the tools, answer, close. Its imports
are eager, at module level, as the tutorial writes them (including the Bedrock model class).

Two deliberate differences from the tutorial, neither of which makes it slower:
- The configuration (SSM) and the client secret (Secrets Manager) are read once per process,
  where the tutorial reads a JSON file / environment variable once; never per request.
- `callback_handler=None`: the default handler prints every token to stdout.

It is a Lambda handler for API Gateway payload-2.0 events (`POST /prompt {"prompt": ...}`),
so the benchmark can serve it beside ours on the local stack. `MODEL_FACTORY` picks the model
(Bedrock by default, as in the tutorial; the benchmark sets a scripted model).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import boto3
import requests
from strands import Agent
from strands.models import BedrockModel
from strands.models.model import Model
from strands.tools.mcp import MCPClient

CONFIG_PARAMETER_ENV = "AGENTGW_CONFIG_PARAMETER"


def _bedrock() -> Model:
    return BedrockModel(model_id="us.anthropic.claude-sonnet-4-5-20250929-v1:0")


MODEL_FACTORY: Callable[[], Model] = _bedrock

_config: dict[str, Any] | None = None
_credentials: tuple[str, str] | None = None


def _load_config() -> tuple[dict[str, Any], tuple[str, str]]:
    """Config + client credentials, once per process (the tutorial reads them from a file)."""
    global _config, _credentials
    if _config is None or _credentials is None:
        ssm = boto3.client("ssm")
        config = json.loads(ssm.get_parameter(Name=os.environ[CONFIG_PARAMETER_ENV])["Parameter"]["Value"])
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=config["client_secret_arn"])
        data = json.loads(secret["SecretString"])
        _config, _credentials = config, (data["client_id"], data["client_secret"])
    return _config, _credentials


def reset() -> None:
    """Forget the configuration (the benchmark points the baseline at another stack)."""
    global _config, _credentials
    _config, _credentials = None, None


def fetch_access_token(token_url: str, client_id: str, client_secret: str, scope: str) -> str:
    """A new token on every call, as the tutorial's `get_token` does."""
    response = requests.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        },
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def get_full_tools_list(client: MCPClient) -> list[Any]:
    """Every page of tools/list (the tutorial's helper)."""
    tools: list[Any] = []
    pagination_token: str | None = None
    while True:
        page = client.list_tools_sync(pagination_token=pagination_token)
        tools.extend(page)
        if page.pagination_token is None:
            return tools
        pagination_token = page.pagination_token


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.monotonic()
    prompt = json.loads(event.get("body") or "{}")["prompt"]
    config, (client_id, client_secret) = _load_config()
    token = fetch_access_token(config["token_url"], client_id, client_secret, config["scope"])
    client = MCPClient(url=config["gateway_url"], headers={"Authorization": f"Bearer {token}"})
    with client:
        tools = get_full_tools_list(client)
        agent = Agent(model=MODEL_FACTORY(), tools=tools, callback_handler=None)
        result = agent(prompt)
    answer = "".join(block.get("text", "") for block in result.message.get("content", []))
    body = {"answer": answer, "latency_ms": round((time.monotonic() - started) * 1000)}
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}
