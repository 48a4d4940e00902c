"""`agentgw tools list|search QUERY|call NAME --args JSON [--json]`: the gateway from a terminal.

It talks to the gateway the way the agent does: a client_credentials token from the token
endpoint, then the library's gateway client (`agentgw.gateway`: the mcp SDK's streamable HTTP
client, every page of `tools/list`, the search answer). By default it targets the running local
stack (`.agentgw/local.json`, written by `agentgw local up`); `--stack NAME` targets a deployed
stack instead, reading the configuration provisioning published (SSM parameter) and the
client secret (Secrets Manager) with the caller's AWS credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx2
from mcp import ClientSession
from mcp.shared.exceptions import MCPError

from agentgw.config import ClientCredentials, ConfigError, GatewayConfig
from agentgw.gateway import SEARCH_TOOL_NAME
from agentgw.gateway import client as gateway_client
from agentgw.gateway.auth import BearerAuth
from agentgw.oauth import TokenError, fetch_token
from agentgw_local import arguments
from agentgw_local.locate import StackLookupError, add_stack_arguments, read_local_info, stack_region

TIMEOUT_S = 60.0

T = TypeVar("T")


EXIT_GATEWAY_ERROR = 1  # the gateway answered with an error (or the tool's result is an error)
EXIT_CANNOT_ASK = 2  # no stack, no configuration or token, an unreachable gateway, bad --args


class CliError(Exception):
    """The gateway answered with an error: reported in one line, exit status 1."""


class CannotAsk(CliError):
    """The gateway could not be asked at all: reported in one line, exit status 2 (as `invoke`
    and `health` do)."""


@dataclass(frozen=True)
class Target:
    gateway_url: str
    token_url: str
    scope: str
    credentials: ClientCredentials


# -- where the gateway is -----------------------------------------------------------------------
def local_target(path: Path | None = None) -> Target:
    info = read_local_info(path)
    return Target(
        info.gateway_url, info.token_url, info.scope, ClientCredentials(info.client_id, info.client_secret)
    )


def deployed_target(stack_name: str, parameter: str | None = None, region: str | None = None) -> Target:
    import boto3
    import botocore.exceptions

    from agentgw_local.health import config_parameter_for_stack

    name = parameter or config_parameter_for_stack(stack_name, region=region)
    try:
        session = boto3.session.Session(region_name=region)
        text = session.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        config = GatewayConfig.from_json(text)
        secret = session.client("secretsmanager").get_secret_value(SecretId=config.client_secret_arn)
        credentials = ClientCredentials.from_secret_string(secret["SecretString"])
    except botocore.exceptions.ClientError as exc:
        raise CannotAsk(f"cannot read the published configuration of {stack_name} ({name}): {exc}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise CannotAsk(f"AWS: {exc}") from None
    except ConfigError as exc:
        raise CannotAsk(str(exc)) from None
    return Target(config.gateway_url, config.token_url, config.scope, credentials)


# -- talking MCP --------------------------------------------------------------------------------
async def with_session(target: Target, work: Callable[[ClientSession], Awaitable[T]]) -> T:
    try:
        token = await anyio.to_thread.run_sync(
            lambda: fetch_token(target.token_url, target.credentials, target.scope or None)
        )
    except TokenError as exc:
        raise CannotAsk(str(exc)) from None
    async with gateway_client.connect(
        target.gateway_url, BearerAuth.fixed(token.value), timeout_s=TIMEOUT_S
    ) as session:
        await session.initialize()
        return await work(session)


async def list_tools(session: ClientSession) -> list[dict[str, Any]]:
    try:
        listed = await gateway_client.list_all_tools(session)
    except gateway_client.ListingError as exc:
        raise CliError(str(exc)) from None
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in listed.tools]


async def call_tool(session: ClientSession, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await session.call_tool(name, arguments)
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


def search_results(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The tools a search returned: `structuredContent` or the JSON in `content[0].text`."""
    texts = [item.get("text", "") for item in result.get("content", []) if item.get("type") == "text"]
    try:
        return gateway_client.parse_search_result(result.get("structuredContent"), texts)
    except gateway_client.SearchResultError as exc:
        if exc.not_json:
            raise CliError("the search tool returned no JSON tool list") from None
        raise CliError("the search tool returned no tool list") from None


def text_of(result: dict[str, Any]) -> str:
    return "\n".join(item.get("text", "") for item in result.get("content", []) if item.get("type") == "text")


# -- output -------------------------------------------------------------------------------------
def print_tools(tools: list[dict[str, Any]], out: Any) -> None:
    if not tools:
        print("(no tools)", file=out)
        return
    width = min(max(len(t["name"]) for t in tools), 60)
    for tool in tools:
        description = " ".join(str(tool.get("description", "")).split())
        if len(description) > 80:
            description = description[:77] + "..."
        print(f"{tool['name']:<{width}}  {description}", file=out)


def print_call(result: dict[str, Any], out: Any) -> None:
    text = text_of(result)
    with suppress(ValueError):
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    print(text, file=out)


# -- the command --------------------------------------------------------------------------------
def add_parser(subparsers: Any) -> None:
    """Register `tools` on the `agentgw` parser's subcommands."""
    tools = subparsers.add_parser("tools", help="list, search and call the gateway's tools")
    tools_sub = tools.add_subparsers(dest="tools_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print the raw JSON result")
        add_stack_arguments(p, stack_help="a deployed stack (default: the local stack)")
        p.add_argument(
            "--parameter", metavar="SSM_NAME", help="the published config parameter (with --stack)"
        )
        p.set_defaults(func=run)

    common(tools_sub.add_parser("list", help="list every tool (all pages)"))
    search = tools_sub.add_parser("search", help=f"semantic search ({SEARCH_TOOL_NAME})")
    search.add_argument("query", type=arguments.query, help="what the tool should do, in words")
    common(search)
    call = tools_sub.add_parser("call", help="call a tool")
    call.add_argument("name", help="the gateway tool name, e.g. timeweather___get_time")
    call.add_argument("--args", default="{}", metavar="JSON", help="the arguments as a JSON object")
    common(call)


def _leaf(exc: BaseException) -> BaseException:
    """The one real error inside anyio's task-group wrappers (the MCP client runs in task groups)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def run(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        try:
            return _run(args, out)
        except BaseExceptionGroup as group:
            raise _leaf(group) from None
    except (CannotAsk, StackLookupError) as exc:
        print(f"agentgw tools: {exc}", file=err)
        return EXIT_CANNOT_ASK
    except httpx2.HTTPError as exc:
        print(f"agentgw tools: cannot reach the gateway: {exc}", file=err)
        return EXIT_CANNOT_ASK
    except CliError as exc:
        print(f"agentgw tools: {exc}", file=err)
        return EXIT_GATEWAY_ERROR
    except MCPError as exc:
        print(f"agentgw tools: gateway error {exc.code}: {exc.message}", file=err)
        return EXIT_GATEWAY_ERROR


def _run(args: argparse.Namespace, out: Any) -> int:
    if args.stack:
        target = deployed_target(args.stack, args.parameter, stack_region(args.region))
    else:
        target = local_target(args.local_file)
    command = args.tools_command
    if command == "list":
        tools = anyio.run(with_session, target, list_tools)
        if args.json:
            print(json.dumps(tools, indent=2, ensure_ascii=False), file=out)
        else:
            print_tools(tools, out)
        return 0
    if command == "search":

        async def search(session: ClientSession) -> dict[str, Any]:
            return await call_tool(session, SEARCH_TOOL_NAME, {"query": args.query})

        result = anyio.run(with_session, target, search)
        if result.get("isError"):
            raise CliError(f"search failed: {text_of(result)}")
        found = search_results(result)
        if args.json:
            print(json.dumps(found, indent=2, ensure_ascii=False), file=out)
        else:
            print_tools(found, out)
        return 0
    try:
        arguments = json.loads(args.args)
    except ValueError as exc:
        raise CannotAsk(f"--args is not JSON: {exc}") from None
    if not isinstance(arguments, dict):
        raise CannotAsk("--args must be a JSON object")

    async def call(session: ClientSession) -> dict[str, Any]:
        return await call_tool(session, args.name, arguments)

    result = anyio.run(with_session, target, call)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
    else:
        print_call(result, out)
    return EXIT_GATEWAY_ERROR if result.get("isError") else 0
