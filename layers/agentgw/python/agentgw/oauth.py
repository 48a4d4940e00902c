"""OAuth 2.0 client_credentials tokens for the gateway (Cognito's token endpoint), cached.

`fetch_token` makes one token request; `TokenCache` keeps the token until shortly before it
expires so callers do not fetch one per request. The client secret is sent in the HTTP Basic
header (what Cognito expects for a confidential client) and never appears in an error message.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from agentgw.config import ClientCredentials

DEFAULT_TIMEOUT_S = 5.0
# Refresh this long before `expires_in` runs out, so a token never expires in flight.
REFRESH_MARGIN_S = 60.0


class TokenError(RuntimeError):
    """The token endpoint could not be reached or refused the client (says which)."""

    def __init__(self, message: str, *, status: int | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error  # the OAuth `error` code, e.g. invalid_client


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float  # time.monotonic() deadline
    token_type: str = "Bearer"

    def __repr__(self) -> str:  # never print the token
        return f"AccessToken(token_type={self.token_type!r}, value='***')"

    def fresh(self, margin_s: float = REFRESH_MARGIN_S) -> bool:
        return time.monotonic() < self.expires_at - margin_s


def fetch_token(
    token_url: str,
    credentials: ClientCredentials,
    scope: str | None = None,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> AccessToken:
    """Request an access token with the client_credentials grant."""
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    basic = base64.b64encode(f"{credentials.client_id}:{credentials.client_secret}".encode()).decode("ascii")
    request = urllib.request.Request(
        token_url,
        data=urllib.parse.urlencode(form).encode("ascii"),
        headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        method="POST",
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise _refused(token_url, exc) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TokenError(f"token endpoint {token_url} unreachable: {reason}") from None
    try:
        data = json.loads(body)
        value = data["access_token"]
        expires_in = float(data.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError):
        raise TokenError(f"token endpoint {token_url} returned no access_token") from None
    if not isinstance(value, str) or not value:
        raise TokenError(f"token endpoint {token_url} returned an empty access_token")
    return AccessToken(value, started + expires_in, str(data.get("token_type") or "Bearer"))


def _refused(token_url: str, exc: urllib.error.HTTPError) -> TokenError:
    error: str | None = None
    description = ""
    try:
        data = json.loads(exc.read() or b"{}")
        if isinstance(data, dict):
            error = str(data["error"]) if data.get("error") else None
            description = str(data.get("error_description") or "")
    except ValueError:
        pass
    detail = error or f"HTTP {exc.code}"
    if description:
        detail = f"{detail}: {description}"
    return TokenError(f"token endpoint refused the client ({detail})", status=exc.code, error=error)


class TokenCache:
    """One client's token, reused until shortly before expiry; thread-safe.

    `credentials` is a callable so a rotated secret is picked up on the next fetch.
    """

    def __init__(
        self,
        token_url: str,
        credentials: Callable[[], ClientCredentials],
        scope: str | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        refresh_margin_s: float = REFRESH_MARGIN_S,
    ) -> None:
        self.token_url = token_url
        self.scope = scope
        self._credentials = credentials
        self._timeout_s = timeout_s
        self._margin_s = refresh_margin_s
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def get(self, *, force_refresh: bool = False) -> str:
        """The cached token, fetching a new one when missing, near expiry or forced (after a 401)."""
        with self._lock:
            if force_refresh or self._token is None or not self._token.fresh(self._margin_s):
                self._token = fetch_token(
                    self.token_url, self._credentials(), self.scope, timeout_s=self._timeout_s
                )
            return self._token.value

    def invalidate(self) -> None:
        with self._lock:
            self._token = None
