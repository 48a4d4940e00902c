"""HTTP limits of the local stack's server, over raw sockets on loopback: oversized heads and
URLs are refused before any app code runs, idle and slow connections are closed, the number of
connections is capped, and the agent API refuses an oversized body without reading it all.

The size tests run against the shared stack (the real gateway and its probe tool); the time and
connection-cap tests against an `HttpServer` of their own with small limits (the same server
class the stack uses), so nothing waits for the stack's 10 s head timeout.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from integration.stackkit import ACCEPT, Authz, Kit
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentgw_local.http_limits import HttpLimits
from agentgw_local.server import HttpServer, bind
from agentgw_local.stack import LocalStack
from security.support import Guarded, guarded_gateway

WAIT_S = 20.0  # a bound on any single wait, never a measured time


def connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=WAIT_S)
    sock.settimeout(WAIT_S)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response (status, headers, body), read until its content-length is complete."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without a response: {data[:200]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def refusal(status: int, headers: dict[str, str], body: bytes) -> str:
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    error = json.loads(body)["error"]
    assert error["code"] == -32000
    return str(error["message"])


# -- sizes, against the stack's real gateway ------------------------------------------------------


@pytest.fixture(scope="module")
def authz(kit: Kit) -> Authz:
    return kit.cognito()


@pytest.fixture(scope="module")
def guarded(kit: Kit, authz: Authz) -> Guarded:
    return guarded_gateway(kit, authz, "sec-probe-limits")


def gateway_request(g: Guarded, authorization: bytes, *, target: bytes | None = None) -> bytes:
    url = urlsplit(g.url)
    body = json.dumps(g.call_body()).encode()
    return b"".join(
        [
            b"POST " + (target or url.path.encode()) + b" HTTP/1.1\r\n",
            f"Host: {url.netloc}\r\nAccept: {ACCEPT}\r\nContent-Type: application/json\r\n".encode(),
            b"Authorization: " + authorization + b"\r\n",
            f"Content-Length: {len(body)}\r\n\r\n".encode(),
            body,
        ]
    )


def address_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def test_a_normal_request_passes(guarded: Guarded) -> None:
    before = guarded.probe.count()
    with connect(address_of(guarded.url)) as sock:
        sock.sendall(gateway_request(guarded, b"Bearer " + guarded.authz.token().encode()))
        status, _, body = read_response(sock)
    assert status == 200, body
    assert guarded.probe.count() == before + 1


@pytest.mark.parametrize("size", [17 * 1024, 64 * 1024, 1024 * 1024])
def test_an_oversized_header_is_431_before_the_gateway(
    local_stack: LocalStack, guarded: Guarded, size: int
) -> None:
    assert local_stack.gateway is not None
    auth_errors = local_stack.gateway.stats["auth_errors"]
    before = guarded.probe.count()
    padded = b"Bearer " + guarded.authz.token().encode() + b"x" * size
    with connect(address_of(guarded.url)) as sock:
        sock.sendall(gateway_request(guarded, padded))  # one write: the head arrives whole
        status, headers, body = read_response(sock)
        assert closed_by_server(sock)
    assert status == 431
    assert "at most 16384 bytes" in refusal(status, headers, body)
    assert guarded.probe.count() == before
    assert local_stack.gateway.stats["auth_errors"] == auth_errors  # the JWT code never saw it


def test_a_header_that_never_ends_is_refused_after_the_limit(
    local_stack: LocalStack, guarded: Guarded
) -> None:
    # A 128 MB header, sent in pieces: the answer comes once the limit is passed, not at the end.
    url = urlsplit(guarded.url)
    with connect(address_of(guarded.url)) as sock:
        sock.sendall(f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer ".encode())
        sent = 0
        sock.setblocking(False)
        try:
            while sent < 128 * 1024 * 1024:
                try:
                    sent += sock.send(b"A" * 65536)
                except BlockingIOError:
                    break  # the server stopped reading as fast: stop and look for its answer
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.setblocking(True)
        sock.settimeout(WAIT_S)
        status, headers, body = read_response(sock)
    assert status == 431, body
    refusal(status, headers, body)


def test_an_oversized_url_is_414(guarded: Guarded) -> None:
    before = guarded.probe.count()
    target = urlsplit(guarded.url).path.encode() + b"?q=" + b"a" * (9 * 1024)
    with connect(address_of(guarded.url)) as sock:
        sock.sendall(gateway_request(guarded, b"Bearer " + guarded.authz.token().encode(), target=target))
        status, headers, body = read_response(sock)
    assert status == 414
    assert "at most 8192 bytes" in refusal(status, headers, body)
    assert guarded.probe.count() == before


def test_the_stack_still_serves_after_the_refusals(guarded: Guarded) -> None:
    test_a_normal_request_passes(guarded)


# -- the agent API's body limit -------------------------------------------------------------------


def api_head(local_stack: LocalStack, extra: str) -> bytes:
    assert local_stack.info is not None and local_stack.info.api_url
    url = urlsplit(local_stack.info.api_url)
    head = f"POST {url.path}/prompt HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
    return (head + extra + "\r\n").encode()


def test_agent_api_refuses_a_declared_oversized_body_without_reading_it(local_stack: LocalStack) -> None:
    # 50 MB declared, 1 KB sent: the answer must not wait for the other 49.99 MB.
    assert local_stack.info is not None and local_stack.info.api_url
    with connect(address_of(local_stack.info.api_url)) as sock:
        sock.sendall(api_head(local_stack, f"Content-Length: {50 * 1024 * 1024}\r\n") + b"{" * 1024)
        status, _, body = read_response(sock)
    assert status == 413
    assert json.loads(body) == {"message": "Request Entity Too Large"}


def test_agent_api_refuses_a_chunked_body_once_it_passes_the_limit(local_stack: LocalStack) -> None:
    # No length declared: 10 MB + 64 KB in chunks and no final chunk; the 413 comes anyway.
    assert local_stack.info is not None and local_stack.info.api_url
    with connect(address_of(local_stack.info.api_url)) as sock:
        sock.sendall(api_head(local_stack, "Transfer-Encoding: chunked\r\n"))
        piece = b"a" * 65536
        for _ in range(10 * 16 + 1):
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        status, _, body = read_response(sock)
    assert status == 413
    assert json.loads(body) == {"message": "Request Entity Too Large"}


# -- time and connection limits, on a server of their own --------------------------------------


@pytest.fixture
def small_server() -> Iterator[HttpServer]:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"bytes": len(await request.body())})

    server = HttpServer(bind("127.0.0.1", 0), HttpLimits(head_timeout_s=0.5, max_connections=8))
    server.start(Starlette(routes=[Route("/echo", echo, methods=["GET", "POST"])]))
    try:
        yield server
    finally:
        server.stop()


def get(server: HttpServer) -> bytes:
    return f"GET /echo HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n\r\n".encode()


def test_a_connection_that_never_sends_is_closed(small_server: HttpServer) -> None:
    with connect((small_server.host, small_server.port)) as sock:
        assert closed_by_server(sock)  # within the head timeout; recv would otherwise wait WAIT_S


def test_a_slow_head_is_408(small_server: HttpServer) -> None:
    with connect((small_server.host, small_server.port)) as sock:
        sock.sendall(get(small_server)[:20])  # and then nothing
        status, headers, body = read_response(sock)
        assert closed_by_server(sock)
    assert status == 408
    assert "must arrive within 0.5 s" in refusal(status, headers, body)


def test_a_kept_alive_connection_serves_again_and_a_late_head_is_408(small_server: HttpServer) -> None:
    with connect((small_server.host, small_server.port)) as sock:
        for _ in range(3):
            sock.sendall(get(small_server))
            assert read_response(sock)[0] == 200
        sock.sendall(b"GET /ec")
        assert read_response(sock)[0] == 408


def test_connection_cap_closes_idle_connections_first(small_server: HttpServer) -> None:
    address = (small_server.host, small_server.port)
    idle = [connect(address) for _ in range(small_server.limits.max_connections)]
    try:
        with connect(address) as sock:  # over the cap: the longest-idle one makes room
            sock.sendall(get(small_server))
            assert read_response(sock)[0] == 200
        assert closed_by_server(idle[0])
    finally:
        for sock in idle:
            sock.close()


def test_connection_cap_refuses_with_503_when_nothing_is_idle(small_server: HttpServer) -> None:
    address = (small_server.host, small_server.port)
    busy: list[socket.socket] = []
    try:
        for _ in range(small_server.limits.max_connections):
            sock = connect(address)
            sock.sendall(b"GET /echo HTTP/1.1\r\n")  # a head in progress: not idle
            busy.append(sock)
        with connect(address) as sock:
            status, headers, body = read_response(sock)
        assert status == 503 and headers["retry-after"] == "1"
        assert "the limit is 8" in refusal(status, headers, body)
    finally:
        for sock in busy:
            sock.close()
    # Once they are gone (the server learns it asynchronously), it serves again.
    for _ in range(100):
        with connect(address) as sock:
            sock.sendall(get(small_server))
            if read_response(sock)[0] == 200:
                break
        time.sleep(0.05)
    else:
        pytest.fail("still refusing after the busy connections closed")


def test_connection_cap_stays_under_the_open_file_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    server = HttpServer(bind("127.0.0.1", 0), HttpLimits(max_connections=10**9))
    try:
        assert server.limits.max_connections <= max(32, soft // 2)
    finally:
        server.sock.close()
