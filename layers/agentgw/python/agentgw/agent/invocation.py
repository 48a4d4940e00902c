"""One invocation under one deadline: credentials, then the MCP session and the agent run.

Everything runs in one worker thread. The worker first reads the gateway configuration,
secret and token (blocking calls that cannot be cancelled: `start` waits for them until the
deadline only; their clients have short timeouts of their own, and whatever they fetch still
fills the caches). Then everything asynchronous runs as one task on one loop (`asyncio.run`):
the MCP session with the gateway (opened and closed here) and the work given (`AgentRun`: the
tool list and the search, the Strands agent loop and its tool calls). The deadline cancels
that task; the session is then closed within `CANCEL_GRACE_S`, and `asyncio.run` ends the
loop, so nothing of the invocation is left running. `outcome` waits for the worker until the
deadline plus that grace, in case blocking work (a session save to S3) holds the loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx2

from agentgw.agent.gateway_session import (
    GatewaySession,
    GatewayTimeout,
    Handshake,
    ToolLoadingError,
    TtlCache,
    open_gateway_session,
)
from agentgw.config import GatewayConfig

# How long a cancelled invocation gets to stop and close its MCP session before we answer anyway.
CANCEL_GRACE_S = 2.0

_log = logging.getLogger(__name__)

Authenticate = Callable[[], tuple[GatewayConfig, httpx2.Auth]]


class Work(Protocol):
    """What runs inside the MCP session (`agentgw.agent.agent_run.AgentRun`)."""

    async def __call__(self, gateway: GatewaySession, config: GatewayConfig) -> None: ...

    def usage(self) -> dict[str, int]: ...

    def answer(self) -> str: ...

    def cancelled(self) -> bool: ...


@dataclass(frozen=True)
class SessionOptions:
    """How the invocation opens the gateway's MCP session."""

    startup_timeout_s: float
    handshake_ttl_s: float
    handshakes: TtlCache[Handshake]
    traced: bool = False


@dataclass
class Outcome:
    answer: str
    usage: dict[str, int]
    timed_out: bool
    error: BaseException | None = None


class PastDeadline(Exception):
    """Reading the gateway configuration, secret and token did not finish before the deadline."""


class Invocation:
    """Runs `work` with the gateway under `deadline` (a `time.monotonic()` value); see the module."""

    def __init__(
        self, work: Work, authenticate: Authenticate, session: SessionOptions, *, deadline: float
    ) -> None:
        self._work = work
        self._authenticate = authenticate
        self._session = session
        self._deadline = deadline
        self._timed_out = False
        self._error: BaseException | None = None
        self._authenticated = threading.Event()
        self._credentials: tuple[GatewayConfig, httpx2.Auth] | None = None
        self._credentials_error: BaseException | None = None
        self._worker = threading.Thread(target=self._run, name="agentgw-agent", daemon=True)

    def start(self) -> None:
        """Start the worker; return once it has the credentials, raise if it failed or is late."""
        self._worker.start()
        if not self._authenticated.wait(max(0.0, self._deadline - time.monotonic())):
            raise PastDeadline("agentgw-credentials")
        if self._credentials_error is not None:
            raise self._credentials_error

    def _run(self) -> None:
        try:
            self._credentials = self._authenticate()
        except BaseException as exc:
            self._credentials_error = exc
        self._authenticated.set()
        if self._credentials_error is not None:
            return
        if time.monotonic() >= self._deadline:
            # Late credentials (the caller has answered already) or no time left: go no further.
            self._timed_out = True
            return
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc

    def outcome(self) -> Outcome:
        self._worker.join(max(0.0, self._deadline - time.monotonic()) + CANCEL_GRACE_S)
        if self._worker.is_alive():
            _log.warning("the invocation did not stop within %.1f s of its deadline", CANCEL_GRACE_S)
            self._timed_out = True
        usage = self._work.usage()
        error = _unwrap(self._error) if self._error is not None else None
        if isinstance(error, GatewayTimeout) or (error is not None and not self._timed_out):
            return Outcome("", usage, False, error)
        if self._timed_out or self._work.cancelled():
            return Outcome("", usage, True)
        return Outcome(self._work.answer(), usage, False)

    async def _main(self) -> None:
        assert self._credentials is not None
        config, auth = self._credentials
        options = self._session
        loop = asyncio.get_running_loop()
        closing = False
        bound: asyncio.Timeout | None = None
        try:
            # Everything, closing the session included, ends by deadline + grace at the latest.
            async with asyncio.timeout(self._deadline + CANCEL_GRACE_S - time.monotonic()) as bound:
                remaining = max(0.05, self._deadline - time.monotonic())
                async with open_gateway_session(
                    config.gateway_url,
                    auth,
                    startup_timeout_s=min(options.startup_timeout_s, remaining),
                    handshake_ttl_s=options.handshake_ttl_s,
                    handshakes=options.handshakes,
                    traced=options.traced,
                ) as gateway:
                    deadline = asyncio.timeout(self._deadline - time.monotonic())
                    try:
                        async with deadline:
                            await self._work(gateway, config)
                    except TimeoutError:
                        if not deadline.expired():
                            raise  # a model's or library's own timeout: an error, not the deadline
                        self._timed_out = True  # cancelled at the deadline; the session closes next
                    finally:
                        # Closing (`DELETE`) gets at most the grace: an answer that is ready
                        # does not wait on a gateway that is slow to end the session.
                        closing = True
                        bound.reschedule(min(bound.when() or math.inf, loop.time() + CANCEL_GRACE_S))
        except TimeoutError:
            if bound is None or not bound.expired():
                raise
            if not closing:
                self._timed_out = True
                return
            _log.warning("closing the MCP session did not finish within %.1f s", CANCEL_GRACE_S)


def _unwrap(exc: BaseException) -> BaseException:
    """The error that ended the invocation, out of the exception groups of the session's task groups.

    A gateway error (`ToolLoadingError`) is preferred to what it caused in sibling tasks.
    """
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves: list[BaseException] = []

    def collect(group: BaseExceptionGroup[BaseException]) -> None:
        for inner in group.exceptions:
            if isinstance(inner, BaseExceptionGroup):
                collect(inner)
            else:
                leaves.append(inner)

    collect(exc)
    return next((e for e in leaves if isinstance(e, ToolLoadingError)), leaves[0] if leaves else exc)
