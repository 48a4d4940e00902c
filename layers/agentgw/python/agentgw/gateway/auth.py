"""The gateway's Bearer auth, as the `httpx2.Auth` the MCP transport's HTTP client takes.

`BearerAuth` puts a token on every request. With a token source that can refresh (an OAuth
`TokenCache`), a 401 (token revoked, keys rotated) gets one fresh token and one retry of that
request per auth object; after that a 401 is the answer, so a client the gateway does not
accept never turns into a token-fetching loop. `BearerAuth.fixed` sends one token as is.

Nothing here logs or returns a token.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Protocol

import httpx2


class TokenSource(Protocol):
    """Where the tokens come from (`agentgw.oauth.TokenCache`)."""

    def get(self, *, force_refresh: bool = False) -> str: ...


class _FixedToken:
    def __init__(self, token: str) -> None:
        self._token = token

    def get(self, *, force_refresh: bool = False) -> str:
        return self._token


class BearerAuth(httpx2.Auth):
    """Bearer token on each request; on a 401, at most one fresh token and a retry (see module)."""

    def __init__(self, tokens: TokenSource, *, refresh_on_401: bool = True) -> None:
        self._tokens = tokens
        self._refresh_on_401 = refresh_on_401
        self._lock = threading.Lock()
        self.refreshes = 0

    @classmethod
    def fixed(cls, token: str) -> BearerAuth:
        """One token for every request; a 401 is the answer."""
        return cls(_FixedToken(token), refresh_on_401=False)

    def prime(self) -> None:
        """Fetch the token now, so the blocking token request does not run on the event loop."""
        self._tokens.get()

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response, None]:
        sent = self._tokens.get()
        request.headers["Authorization"] = f"Bearer {sent}"
        response = yield request
        if response.status_code != 401 or not self._refresh_on_401:
            return
        with self._lock:
            current = self._tokens.get()
            if current == sent:
                if self.refreshes:
                    return  # already refreshed once with this auth: the 401 stands
                self.refreshes += 1
                current = self._tokens.get(force_refresh=True)
        # Either our refresh or a concurrent request's: retry this request once with it.
        request.headers["Authorization"] = f"Bearer {current}"
        yield request

    def __repr__(self) -> str:  # never print the token
        return "BearerAuth(token='***')"
