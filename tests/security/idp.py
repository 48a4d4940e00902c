"""A loopback OpenID provider the test controls: discovery + JWKS with keys it can rotate,
request counters, and an outage switch (503s) or a real stop (connection refused)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from agentgw_local.cognito import SigningKey


def new_key() -> SigningKey:
    return SigningKey(uuid.uuid4().hex, rsa.generate_private_key(public_exponent=65537, key_size=2048))


class LoopbackIdp:
    def __init__(self) -> None:
        self.keys: list[SigningKey] = [new_key()]
        self.down = False
        self.hits: dict[str, int] = {"discovery": 0, "jwks": 0}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- what the authorizer is configured with -------------------------------------------
    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def issuer(self) -> str:
        return self.base

    @property
    def discovery_url(self) -> str:
        return f"{self.base}/.well-known/openid-configuration"

    def token(self, *, key: SigningKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "sub": "client-1",
            "client_id": "client-1",
            "iss": self.issuer,
            "iat": now,
            "exp": now + 600,
            "token_use": "access",
            "scope": "api/invoke",
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}  # None drops a claim
        key = key or self.keys[0]
        return jwt.encode(body, key.private_key, algorithm="RS256", headers={"kid": key.kid})

    def rotate(self) -> SigningKey:
        """Publish a new key alongside the old one (as IdPs do during a rotation)."""
        key = new_key()
        with self._lock:
            self.keys.append(key)
        return key

    def fetches(self) -> dict[str, int]:
        with self._lock:
            return dict(self.hits)

    # -- serving ------------------------------------------------------------------------
    def start(self) -> LoopbackIdp:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                kind = {
                    "/.well-known/openid-configuration": "discovery",
                    "/.well-known/jwks.json": "jwks",
                }.get(path)
                if kind is None:
                    self._reply(404, {"message": "not found"})
                    return
                with idp._lock:
                    idp.hits[kind] += 1
                    keys = [k.public_jwk() for k in idp.keys]
                if idp.down:
                    self._reply(503, {"message": "unavailable"})
                elif kind == "discovery":
                    self._reply(200, {"issuer": idp.issuer, "jwks_uri": f"{idp.base}/.well-known/jwks.json"})
                else:
                    self._reply(200, {"keys": keys})

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="loopback-idp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
