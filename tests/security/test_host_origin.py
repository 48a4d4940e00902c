"""Requests not addressed to the local stack are refused before any endpoint runs.

A web page in the user's browser reaches loopback too: by DNS rebinding (its own name
re-resolved to 127.0.0.1, so the request carries `Host: evil.example.com`) or directly
cross-site (a `text/plain` POST needs no CORS preflight; it carries a foreign `Origin`).
Every HTTP endpoint of the stack — the agent API, the gateway, the Cognito endpoints, the
emulated AWS — must answer those with a 4xx and do nothing; command-line and SDK clients
(no Origin, Host = the address they dialled) must be unaffected.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import pytest
from integration.agent_support import Script, Turn, scripted
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from agentgw_local.aws import EmulatedAws, GuardedMotoServer
from agentgw_local.host_guard import HostGuard, _run_sync, check, security_settings
from agentgw_local.sockets import PortInUse
from agentgw_local.stack import LocalStack

__all__ = ["scripted"]  # the fixture, imported for pytest

GET_TIME = "timeweather___get_time"
EVIL_HOST = "evil.example.com"
EVIL_ORIGIN = "http://evil.example.com"
PROMPT = json.dumps({"prompt": "What time is it in Tokyo?"})
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


def _info(stack: LocalStack) -> Any:
    assert stack.info is not None and stack.info.api_url
    return stack.info


def _port(stack: LocalStack) -> int:
    assert stack.http is not None
    return stack.http.port


def _tool_calls(stack: LocalStack) -> int:
    assert stack.gateway is not None
    return stack.gateway.stats["tools/call"]


def _script_one_tool_call(script: Script) -> None:
    script.play(Turn(tool_uses=[(GET_TIME, {"timezone": "Asia/Tokyo"})]), Turn(text="It is late in Tokyo."))


def _browser_post(url: str, *, host: str | None = None, origin: str | None = None) -> httpx.Response:
    """What a page's `fetch(url, {method: "POST", body})` sends: text/plain, no preflight."""
    headers = {"Content-Type": "text/plain;charset=UTF-8"}
    if host is not None:
        headers["Host"] = host
    if origin is not None:
        headers["Origin"] = origin
    return httpx.post(url, content=PROMPT, headers=headers, timeout=60)


def _assert_refused(response: httpx.Response, status: int, names: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["code"] == -32000
    assert names in body["error"]["message"]


# -- the agent API (no authentication of its own) ------------------------------------------------


def test_dns_rebinding_prompt_is_refused_and_no_tool_runs(local_stack: LocalStack, scripted: Script) -> None:
    _script_one_tool_call(scripted)
    calls_before = _tool_calls(local_stack)

    response = _browser_post(f"{_info(local_stack).api_url}/prompt", host=EVIL_HOST, origin=EVIL_ORIGIN)

    _assert_refused(response, 421, "Invalid Host header 'evil.example.com'")
    assert scripted.seen == []  # the agent function never ran: no model call...
    assert _tool_calls(local_stack) == calls_before  # ...and no tool call


def test_foreign_origin_with_the_right_host_is_refused(local_stack: LocalStack, scripted: Script) -> None:
    _script_one_tool_call(scripted)
    calls_before = _tool_calls(local_stack)

    # httpx sends the Host of the URL: the stack's own address.
    response = _browser_post(f"{_info(local_stack).api_url}/prompt", origin=EVIL_ORIGIN)

    _assert_refused(response, 403, "Invalid Origin header 'http://evil.example.com'")
    assert scripted.seen == []
    assert _tool_calls(local_stack) == calls_before


@pytest.mark.parametrize("origin", ["null", "http://127.0.0.1:1", "https://127.0.0.1:{port}"])
def test_other_origins_on_loopback_are_refused(local_stack: LocalStack, origin: str) -> None:
    # A sandboxed or file:// page ("null"), another local server's page, another scheme.
    response = _browser_post(
        f"{_info(local_stack).api_url}/prompt", origin=origin.format(port=_port(local_stack))
    )
    _assert_refused(response, 403, "Invalid Origin header")


def test_own_origin_is_allowed_and_the_tool_runs(local_stack: LocalStack, scripted: Script) -> None:
    _script_one_tool_call(scripted)
    calls_before = _tool_calls(local_stack)

    response = _browser_post(
        f"{_info(local_stack).api_url}/prompt", origin=f"http://127.0.0.1:{_port(local_stack)}"
    )

    assert response.status_code == 200, response.text
    assert [c["name"] for c in response.json()["tool_calls"]] == [GET_TIME]
    assert _tool_calls(local_stack) == calls_before + 1


@pytest.mark.parametrize("alias", ["localhost", "LocalHost", "[::1]", "127.0.0.1"])
def test_loopback_aliases_are_allowed(local_stack: LocalStack, scripted: Script, alias: str) -> None:
    _script_one_tool_call(scripted)
    host = f"{alias}:{_port(local_stack)}"

    response = _browser_post(f"{_info(local_stack).api_url}/prompt", host=host, origin=f"http://{host}")

    assert response.status_code == 200, response.text
    assert len(scripted.seen) == 2  # the tool call, then the answer


@pytest.mark.parametrize("host", ["127.0.0.1:1", "localhost", "127.0.0.1", "127.0.0.1.nip.io:{port}"])
def test_the_wrong_port_or_a_look_alike_name_is_refused(local_stack: LocalStack, host: str) -> None:
    response = _browser_post(
        f"{_info(local_stack).api_url}/prompt", host=host.format(port=_port(local_stack))
    )
    _assert_refused(response, 421, "Invalid Host header")


def test_a_request_without_a_host_header_is_refused(local_stack: LocalStack) -> None:
    # HTTP/1.0 allows leaving Host out; the stack cannot tell who it was meant for.
    with socket.create_connection(("127.0.0.1", _port(local_stack)), timeout=10) as conn:
        conn.sendall(b"GET /api/prompt HTTP/1.0\r\n\r\n")
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 421 "), reply[:200]
    assert b"Invalid Host header" in reply


# -- the gateway and the Cognito endpoints -------------------------------------------------------


def _token(stack: LocalStack) -> str:
    info = _info(stack)
    response = httpx.post(
        info.token_url,
        data={"grant_type": "client_credentials", "scope": info.scope},
        auth=(info.client_id, info.client_secret),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


@pytest.mark.parametrize(("host", "origin", "status"), [(EVIL_HOST, None, 421), (None, EVIL_ORIGIN, 403)])
def test_gateway_refuses_foreign_requests_even_with_a_valid_token(
    local_stack: LocalStack, host: str | None, origin: str | None, status: int
) -> None:
    assert local_stack.gateway is not None
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {_token(local_stack)}"}
    headers |= {"Host": host} if host else {}
    headers |= {"Origin": origin} if origin else {}
    before = Counter(local_stack.gateway.stats)

    response = httpx.post(_info(local_stack).gateway_url, json=INITIALIZE, headers=headers)

    _assert_refused(response, status, "Invalid Host header" if host else "Invalid Origin header")
    assert "mcp-session-id" not in response.headers
    assert Counter(local_stack.gateway.stats) == before  # not even counted: the gateway never saw it


def test_gateway_answers_its_own_origin(local_stack: LocalStack) -> None:
    headers = {
        **MCP_HEADERS,
        "Authorization": f"Bearer {_token(local_stack)}",
        "Origin": f"http://localhost:{_port(local_stack)}",
    }
    response = httpx.post(_info(local_stack).gateway_url, json=INITIALIZE, headers=headers)
    assert response.status_code == 200, response.text
    httpx.delete(
        _info(local_stack).gateway_url,
        headers={**headers, "Mcp-Session-Id": response.headers["mcp-session-id"]},
    )


@pytest.mark.parametrize(("host", "origin", "status"), [(EVIL_HOST, None, 421), (None, EVIL_ORIGIN, 403)])
def test_cognito_token_endpoint_refuses_foreign_requests(
    local_stack: LocalStack, host: str | None, origin: str | None, status: int
) -> None:
    assert local_stack.cognito is not None
    info = _info(local_stack)
    headers = ({"Host": host} if host else {}) | ({"Origin": origin} if origin else {})
    before = Counter(local_stack.cognito.stats)

    response = httpx.post(
        info.token_url,
        data={"grant_type": "client_credentials", "scope": info.scope},
        auth=(info.client_id, info.client_secret),
        headers=headers,
    )

    _assert_refused(response, status, "Invalid Host header" if host else "Invalid Origin header")
    assert "access_token" not in response.text
    assert Counter(local_stack.cognito.stats) == before  # no token issued, none refused by Cognito


def test_published_urls_pass_the_check(local_stack: LocalStack) -> None:
    # Every URL the stack publishes (and OAuth clients follow) names an allowed host.
    info = _info(local_stack)
    discovery = httpx.get(info.discovery_url)
    assert discovery.status_code == 200, discovery.text
    assert httpx.get(discovery.json()["jwks_uri"]).status_code == 200
    challenge = httpx.post(info.gateway_url, json=INITIALIZE, headers=MCP_HEADERS)
    assert challenge.status_code == 401
    metadata_url = challenge.headers["www-authenticate"].split('resource_metadata="')[1].split('"')[0]
    for url in (info.gateway_url, info.token_url, info.discovery_url, metadata_url):
        assert urlsplit(url).netloc == f"127.0.0.1:{_port(local_stack)}"
    assert httpx.get(metadata_url).status_code == 200


# -- the emulated AWS (moto) ---------------------------------------------------------------------


def _aws(stack: LocalStack) -> EmulatedAws:
    assert stack.aws is not None
    return stack.aws


def test_emulated_aws_listens_on_loopback_only(local_stack: LocalStack) -> None:
    aws = _aws(local_stack)
    assert aws.listening_address == ("127.0.0.1", aws.port)
    # An address meant for the stack's HTTP front is not one the emulator takes.
    assert EmulatedAws(host="0.0.0.0").host == "127.0.0.1"
    assert EmulatedAws(host="192.168.1.20").host == "127.0.0.1"


def _non_loopback_address() -> str | None:
    """One of this machine's own non-loopback IPv4 addresses, if it has any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))  # UDP: picks the outbound interface, sends nothing
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_emulated_aws_is_unreachable_on_a_non_loopback_address(local_stack: LocalStack) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    with pytest.raises(OSError), socket.create_connection((address, _aws(local_stack).port), timeout=2):
        pass


@pytest.mark.parametrize(("host", "origin", "status"), [(EVIL_HOST, None, 421), (None, EVIL_ORIGIN, 403)])
def test_emulated_aws_refuses_foreign_requests(
    local_stack: LocalStack, host: str | None, origin: str | None, status: int
) -> None:
    # Secrets Manager's ListSecrets with moto's dummy credentials: what a page would ask for.
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.ListSecrets"}
    headers |= ({"Host": host} if host else {}) | ({"Origin": origin} if origin else {})
    response = httpx.post(_aws(local_stack).endpoint_url, content="{}", headers=headers)
    _assert_refused(response, status, "Invalid Host header" if host else "Invalid Origin header")
    assert "SecretList" not in response.text


def test_emulated_aws_answers_boto3_and_moto_itself(local_stack: LocalStack) -> None:
    aws = _aws(local_stack)
    assert "SecretList" in aws.client("secretsmanager").list_secrets()
    # moto's Step Functions interpreter calls Lambda as localhost:$MOTO_PORT.
    as_localhost = boto3.client(
        "lambda",
        region_name=aws.region,
        endpoint_url=f"http://localhost:{aws.port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert "Functions" in as_localhost.list_functions()


# -- the middleware on its own: names given to --host, the default port ---------------------------


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def _guarded(host_names: tuple[str, ...] = ()) -> HostGuard:
    return HostGuard(Starlette(routes=[Route("/", _hello)]), host_names=host_names)


async def _status(app: HostGuard, server: tuple[str, int], host: str) -> int:
    """Call the app as a server would for a GET / that arrived on `server` with this Host."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", host.encode("latin-1"))],
        "server": server,
        "client": ("127.0.0.1", 50000),
    }
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


@pytest.mark.parametrize(
    ("server", "host_names", "host", "status"),
    [
        (("192.168.1.20", 8080), (), "192.168.1.20:8080", 200),  # bound to all: the address dialled
        (("192.168.1.20", 8080), (), "localhost:8080", 200),
        (("192.168.1.20", 8080), (), "mybox.lan:8080", 421),
        (("192.168.1.20", 8080), ("mybox.lan",), "mybox.lan:8080", 200),  # --host mybox.lan
        (("192.168.1.20", 8080), ("mybox.lan",), "mybox.lan:8081", 421),
        (("127.0.0.1", 8080), ("0.0.0.0",), "0.0.0.0:8080", 200),  # --host 0.0.0.0: its URLs
        (("127.0.0.1", 8080), (), "0.0.0.0:8080", 421),
        (("127.0.0.1", 80), (), "localhost", 200),  # the default port is left out of Host
        (("127.0.0.1", 80), (), "localhost:80", 200),
        (("127.0.0.1", 8080), (), "localhost", 421),
    ],
)
def test_guard_allows_the_servers_own_names(
    server: tuple[str, int], host_names: tuple[str, ...], host: str, status: int
) -> None:
    assert asyncio.run(_status(_guarded(host_names), server, host)) == status


def test_the_wsgi_guard_runs_the_check_with_or_without_an_event_loop() -> None:
    # moto's server threads have no event loop: the SDK's check (which awaits nothing) runs in
    # one step, and a check that needs a loop still gets one.
    settings = security_settings("127.0.0.1", 5000)
    assert _run_sync(lambda: check(settings, "localhost:5000", None)) is None
    refused = _run_sync(lambda: check(settings, "evil.example.com:5000", None))
    assert refused is not None and refused.status == 421

    async def needs_a_loop() -> str:
        await asyncio.sleep(0)
        return "ran"

    assert _run_sync(needs_a_loop) == "ran"


def test_a_busy_emulator_port_is_a_clear_error() -> None:
    # werkzeug, left to bind by itself, prints and exits the process instead.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is busy"):
            GuardedMotoServer("127.0.0.1", port)
