"""Connection and request-head limits for the local stack's HTTP server (uvicorn + httptools).

httptools has no size limit of its own: it buffers a header of any size before telling
uvicorn about it, and uvicorn keeps a connection that never sends a request open for ever.
`limited_protocol(limits)` is uvicorn's httptools protocol with, per connection:

- **head size**: the request line and headers together at most `max_head_bytes`, counted as
  the bytes arrive (before httptools has buffered more than one read past the limit), else
  **431** and the connection is closed;
- **URL size**: at most `max_url_bytes`, else **414**;
- **head time**: a request head must be complete `head_timeout_s` after the connection opens
  (or after its first byte, on a kept-alive connection): an idle connection is closed, a slow
  one gets **408**; uvicorn's `timeout_keep_alive` closes connections idle between requests;
- **connection cap**: at most `max_connections` open; past it the longest-idle connection that
  has no request in progress is closed to make room, and when none is idle the new one gets
  **503** with `Retry-After` (the server is full, not the client wrong).

Refusals carry the local stack's JSON error body (host_guard's shape) and `Connection: close`;
no app code runs for them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from agentgw_local.host_guard import Refusal

LINGER_S = 2.0


@dataclass(frozen=True)
class HttpLimits:
    max_head_bytes: int = 16 * 1024  # h11's default: what uvicorn enforces with its other parser
    max_url_bytes: int = 8 * 1024
    head_timeout_s: float = 10.0
    max_connections: int = 1000


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `limits` applied (set by `limited_protocol`)."""

    limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_head = True  # the next bytes belong to a request head
        self._head_bytes = 0  # bytes received for the head so far (counted per read)
        self._parsed_head_bytes = 0  # the same, from the parser's callbacks
        self._heads = 0  # request heads completed on this connection
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._idle_since = time.monotonic()

    # -- connection ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._close_an_idle_connection():
            self._refuse(
                503,
                f"Too many open connections (the limit is {self.limits.max_connections}); retry shortly",
                retry_after=True,
            )
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def _idle(self) -> bool:
        return (
            self._awaiting_head
            and self._head_bytes == 0
            and not self._refused
            and (self.cycle is None or self.cycle.response_complete)
        )

    def _close_an_idle_connection(self) -> bool:
        idle = [
            c
            for c in self.connections
            if c is not self and isinstance(c, LimitedHttpToolsProtocol) and c._idle()
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c._idle_since)
        oldest.transport.close()
        return True

    # -- reading ---------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        awaiting, heads = self._awaiting_head, self._heads
        if awaiting and self._head_timer is None:
            self._arm_head_timer()  # the first byte of a request on a kept-alive connection
        super().data_received(data)
        if self._refused or self.transport.is_closing():
            return
        # Count only reads that are all head: a read that completed a head (and maybe started
        # the next one) is not counted, so the count is off by at most one read, never high.
        if awaiting and self._awaiting_head and heads == self._heads:
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_head_bytes:
                self._refuse_head_too_large()

    def _refuse_head_too_large(self) -> None:
        self._refuse(
            431,
            f"Request header fields too large: the request line and headers may take "
            f"at most {self.limits.max_head_bytes} bytes",
        )

    def on_url(self, url: bytes) -> None:
        if self._refused:
            return
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            self._refuse(
                414, f"URI too long: the request target may take at most {self.limits.max_url_bytes} bytes"
            )

    def on_message_begin(self) -> None:
        self._parsed_head_bytes = 0
        super().on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._refused:
            self._parsed_head_bytes += len(name) + len(value) + 4  # "name: value\r\n"
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return  # no request cycle, no app
        # A head that arrived in one read is measured here, from what the parser saw.
        if len(self.url) + self._parsed_head_bytes > self.limits.max_head_bytes:
            self._refuse_head_too_large()
            return
        self._cancel_head_timer()
        self._awaiting_head = False
        self._head_bytes = 0
        self._heads += 1
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._awaiting_head = True
        self._idle_since = time.monotonic()
        super().on_message_complete()

    # -- head timeout ----------------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._refused or self.transport.is_closing() or not self._awaiting_head:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm_head_timer()  # a response is still being made; the next head may wait
            return
        if self._head_bytes == 0:
            self.transport.close()  # no byte of a request arrived: nothing to answer
            return
        within = self.limits.head_timeout_s
        self._refuse(408, f"Request timeout: the request line and headers must arrive within {within:g} s")

    # -- refusing --------------------------------------------------------------------------
    def _refuse(self, status: int, message: str, *, retry_after: bool = False) -> None:
        self._refused = True
        self._cancel_head_timer()
        refusal = Refusal(status, message)
        body = refusal.body()
        head = [f"HTTP/1.1 {status} {_REASONS[status]}", *(f"{k}: {v}" for k, v in refusal.headers())]
        head.append("connection: close")
        if retry_after:
            head.append("retry-after: 1")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        if retry_after:  # the connection cap: nothing was read, so nothing is lost by closing now
            self.transport.close()
            return
        # Lingering close: closing with unread input would send a reset that can destroy the
        # answer before the client reads it. So stop sending, discard what still arrives
        # (data_received ignores it), and close after a short while.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


_REASONS = {
    408: "Request Timeout",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


def limited_protocol(limits: HttpLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class to give uvicorn's `Config(http=…)` for these limits."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})
