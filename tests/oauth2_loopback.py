"""A loopback third-party API with its own OAuth 2.0 authorization server, for outbound-auth tests.

One `ThreadingHTTPServer` on 127.0.0.1 serves:

- `GET /.well-known/openid-configuration`: discovery (issuer, token_endpoint, the auth methods
  in `auth_methods`);
- `POST /token`: client credentials (RFC 6749 §4.4): the client must authenticate with
  `client_id`/`client_secret` as `auth_methods` allow (Basic or form fields), else 401
  `invalid_client`; answers a new token `tok-<n>` with `expires_in`. `token_failure` makes it
  answer that (status, JSON body) instead; `token_delay_s` makes it slow;
- anything else: the API. With `require_token` it answers 401 unless the bearer token is one the
  server issued and has not `revoke`d; it answers 200 with what it saw (headers, query).

Every request is kept (`seen`: method, path, query, headers, form) for the test to inspect.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up on a slow reply (the timeout tests) is expected


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]]
    target: str = ""  # the request target as sent: path and query
    body: bytes = b""


@dataclass
class Loopback:
    client_id: str = "loop-client"
    client_secret: str = "loop-secret-5f8e2a"
    auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")
    expires_in: Any = 3600
    require_token: bool = False
    token_failure: tuple[int, dict[str, Any]] | None = None
    token_delay_s: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                owner._handle(self)

            def do_POST(self) -> None:
                owner._handle(self)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def discovery_url(self) -> str:
        return f"{self.base}/.well-known/openid-configuration"

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def revoke_all(self) -> None:
        self.revoked.update(self.issued)

    # -- serving -----------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        urlencoded = handler.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        form = parse_qs(raw.decode()) if urlencoded else {}
        headers = dict(handler.headers.items())
        seen = Seen(handler.command, url.path, parse_qs(url.query), headers, form, handler.path, raw)
        with self._lock:
            self.seen.append(seen)
        if url.path == "/.well-known/openid-configuration":
            self._reply(handler, 200, self._discovery())
        elif url.path == "/token":
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            self._reply(handler, *self._token(seen))
        elif self.require_token and not self._authorized(seen):
            self._reply(handler, 401, {"message": "Unauthorized"})
        else:
            self._reply(handler, 200, {"headers": seen.headers, "query": seen.query})

    def _discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.base,
            "authorization_endpoint": f"{self.base}/authorize",
            "token_endpoint": f"{self.base}/token",
            "token_endpoint_auth_methods_supported": list(self.auth_methods),
        }

    def _token(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        if self.token_failure is not None:
            return self.token_failure
        if seen.form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type"}
        if not self._client_ok(seen):
            return 401, {"error": "invalid_client"}
        with self._lock:
            token = f"tok-{len(self.issued) + 1}"
            self.issued.append(token)
        reply: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            reply["expires_in"] = self.expires_in
        return 200, reply

    def _client_ok(self, seen: Seen) -> bool:
        basic = seen.headers.get("Authorization", "")
        if basic.startswith("Basic ") and "client_secret_basic" in self.auth_methods:
            pair = base64.b64decode(basic[6:]).decode()
            client_id, _, secret = pair.partition(":")
            return (unquote_plus(client_id), unquote_plus(secret)) == (self.client_id, self.client_secret)
        if "client_secret_post" in self.auth_methods and not basic:
            return seen.form.get("client_id") == [self.client_id] and seen.form.get("client_secret") == [
                self.client_secret
            ]
        return False

    def _authorized(self, seen: Seen) -> bool:
        header = seen.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        return token in self.issued and token not in self.revoked

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
