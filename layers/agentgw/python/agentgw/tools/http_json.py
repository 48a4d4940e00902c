"""GET a JSON document from an upstream service with a timeout, bounded retries and a deadline.

Standard library only (urllib), to keep the Lambda layer small. Every failure becomes an
`UpstreamError` whose message names the service and says what went wrong (timeout, HTTP
status, unreachable) in words an agent can relay; nothing here can block past the deadline
by more than one socket timeout.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentgw import __version__
from agentgw.tools.errors import UpstreamError

USER_AGENT = f"agentgw/{__version__} (AgentCore Gateway example tool)"
MAX_BODY_BYTES = 2 * 1024 * 1024  # Open-Meteo answers are a few kB; anything bigger is wrong.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class HttpSettings:
    timeout_s: float = 3.0  # per attempt, applied to connect and to each read
    retries: int = 1  # extra attempts after the first, for timeouts, 429 and 5xx
    backoff_s: float = 0.2  # first retry waits about this long, doubling after


class _Attempt(Exception):
    """One failed attempt: what to tell the caller, and whether another try may help."""

    def __init__(
        self, detail: str, *, retryable: bool, timed_out: bool = False, unreachable: bool = False
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retryable = retryable
        self.timed_out = timed_out
        self.unreachable = unreachable
        self.waited_s = 0.0  # the attempt's timeout, set by get_json


def get_json(
    url: str,
    params: Mapping[str, str | int | float],
    *,
    service: str,
    settings: HttpSettings,
    deadline: float | None = None,
) -> Any:
    """GET `url?params` and return the decoded JSON body.

    `service` names the upstream in error messages ("Open-Meteo geocoding").
    `deadline` is a `time.monotonic()` value no attempt or back-off may run past (the
    Lambda's remaining time); without it, only the per-attempt timeout bounds a call.
    """
    full_url = f"{url}?{urllib.parse.urlencode(params)}" if params else url
    attempts = 0
    last: _Attempt | None = None
    for attempt in range(settings.retries + 1):
        timeout = settings.timeout_s
        if deadline is not None:
            timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0.05:
                break
        attempts += 1
        try:
            return _attempt(full_url, timeout)
        except _Attempt as failure:
            failure.waited_s = timeout
            last = failure
            if not failure.retryable or attempt == settings.retries:
                break
            # Exponential back-off with jitter, never past the deadline.
            pause = settings.backoff_s * (2**attempt) * random.uniform(0.5, 1.0)
            if deadline is not None and time.monotonic() + pause >= deadline:
                break
            time.sleep(pause)
    raise UpstreamError(_message(service, last, attempts))


def _message(service: str, last: _Attempt | None, attempts: int) -> str:
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if last is None:
        return f"{service} was not called: the tool ran out of time before it could. Try again."
    if last.timed_out:
        return (
            f"{service} did not answer within {last.waited_s:.2g} s ({tries}); it is slow or unreachable "
            "right now. Try again in a minute."
        )
    if last.unreachable:
        return (
            f"{service} failed: {last.detail} ({tries}); the service or the network to it is down. "
            "Try again later."
        )
    if last.retryable:
        return f"{service} failed: {last.detail} ({tries}). The service has a problem; try again later."
    return f"{service} failed: {last.detail}."


def _attempt(url: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept": "application/json"})
    ends = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = _read_bounded(response, ends)
    except urllib.error.HTTPError as exc:
        reason = _error_reason(exc)
        detail = f"HTTP {exc.code}" + (f" ({reason})" if reason else "")
        raise _Attempt(detail, retryable=exc.code in RETRYABLE_STATUS) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise _Attempt("timed out", retryable=True, timed_out=True) from None
        detail = f"unreachable ({_describe_os_error(exc.reason)})"
        raise _Attempt(detail, retryable=True, unreachable=True) from None
    except TimeoutError:
        raise _Attempt("timed out", retryable=True, timed_out=True) from None
    except (http.client.HTTPException, ConnectionError) as exc:
        raise _Attempt(
            f"connection failed ({type(exc).__name__})", retryable=True, unreachable=True
        ) from None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Attempt("answered with something that is not JSON", retryable=False) from None


def _read_bounded(response: http.client.HTTPResponse, ends: float) -> bytes:
    """Read the body in chunks so a server that trickles bytes cannot outlast `ends`."""
    chunks: list[bytes] = []
    size = 0
    # read1 returns whatever has arrived (read(n) would keep waiting for all n bytes).
    while chunk := response.read1(65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _Attempt("answered with an oversized response", retryable=False)
        if time.monotonic() > ends:
            raise _Attempt("timed out", retryable=True, timed_out=True)
        chunks.append(chunk)
    return b"".join(chunks)


def _error_reason(exc: urllib.error.HTTPError) -> str:
    """Open-Meteo explains 4xx answers as `{"error": true, "reason": "..."}`."""
    try:
        data = json.loads(exc.read(65536) or b"{}")
    except (OSError, ValueError, http.client.HTTPException):
        return ""
    reason = data.get("reason") if isinstance(data, dict) else None
    return str(reason)[:300] if reason else ""


def _describe_os_error(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason)[:200] or type(reason).__name__
