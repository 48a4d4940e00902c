"""Emulated AWS for the local stack: moto in server mode on loopback, in this process.

boto3 reaches it through `AWS_ENDPOINT_URL`, so the real handlers and the real state
machine definition run unchanged. Two moto settings make that work: Step Functions
executes state machines (moto's ASL interpreter), and Lambda uses its docker-less backend,
whose `Invoke` we route to the real handlers through `LambdaRuntime`. moto's interpreter
calls Lambda at `localhost:$MOTO_PORT`, so `MOTO_PORT` is set to the port really bound.

The emulator holds the stack's secrets (Secrets Manager) and answers any caller with moto's
dummy credentials, so it listens on loopback only, whatever address the stack's HTTP front
is given, and behind the same Host/Origin check (`WsgiHostGuard`): moto's own server would
otherwise answer any Host and, with its global CORS, let any web page read its replies.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

from agentgw_local import agentcore_emulation
from agentgw_local.environment import EnvOverlay
from agentgw_local.host_guard import WsgiHostGuard
from agentgw_local.lambda_runtime import (
    FunctionNotFound,
    LambdaRuntime,
    TooManyRequests,
    decode_client_context,
)
from agentgw_local.settings import DEFAULT_REGION
from agentgw_local.sockets import listen
from agentgw_local.template import FunctionSpec, Handler

ACCOUNT_ID = "123456789012"  # moto's default account
LOOPBACK = "127.0.0.1"
LAMBDA_ROLE_NAME = "agentgw-local-lambda"

# Fake, well-known credentials for the emulator: not secrets, and never real ones.
_EMULATOR_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def _is_ipv4_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.version == 4 and address.is_loopback


class GuardedMotoServer:
    """moto's server app behind `WsgiHostGuard`, in a background thread (what moto's
    ThreadedMotoServer does, which offers no way to wrap the app)."""

    def __init__(self, host: str, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = WsgiHostGuard(DomainDispatcherApplication(create_backend_app))
        sock = listen(host, port, backlog=128, option="--aws-port")
        try:
            # werkzeug serves a duplicate of the socket's descriptor.
            self._server = make_server(
                host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=sock.fileno()
            )
        finally:
            sock.close()
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="agentgw-moto", daemon=True)

    @property
    def listening_address(self) -> tuple[str, int]:
        """The address the listening socket is bound to (what the OS will accept connections on)."""
        host, port = self._server.socket.getsockname()[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()


# moto keeps its backends in module globals, so one emulator per process is active at a time;
# the patched Lambda backend looks it up here.
_active: EmulatedAws | None = None
_patch_lock = threading.Lock()
_patched = False


def _install_lambda_patch() -> None:
    global _patched
    with _patch_lock:
        if _patched:
            return
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.core.exceptions import JsonRESTError

        class TooManyRequestsException(JsonRESTError):
            """Lambda's 429, with the body botocore's model gives it (Type, message, Reason)."""

            code = 429

            def __init__(self, message: str, reason: str) -> None:
                super().__init__("TooManyRequestsException", message)
                self.description = json.dumps({"Type": "User", "message": message, "Reason": reason})

        def invoke(
            self: Any,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes:
            emulator = _active
            if emulator is None:
                raise RuntimeError("no emulated AWS is running")
            fn = self.get_function(function_name, qualifier)  # moto's ResourceNotFound if absent
            try:
                event = _decode_event(body)
                client_context = decode_client_context(headers.get("X-Amz-Client-Context"))
                result = emulator.lambdas.invoke(fn.function_name, event, client_context=client_context)
            except FunctionNotFound as exc:
                raise RuntimeError(f"{fn.function_name} exists in moto but has no local handler") from exc
            except TooManyRequests as exc:
                raise TooManyRequestsException(str(exc), exc.reason) from exc
            if result.function_error:
                response_headers["x-amz-function-error"] = result.function_error
            return result.payload_bytes()

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
        _patched = True


def _decode_event(body: Any) -> Any:
    if body in (None, b"", ""):
        return {}
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    return json.loads(body)


class EmulatedAws:
    """moto server on loopback with the real handlers behind Lambda. Use as a context manager."""

    def __init__(self, *, host: str = LOOPBACK, port: int = 0, region: str = DEFAULT_REGION) -> None:
        # Loopback only: an address meant for the stack's HTTP front (`--host 0.0.0.0`) is not
        # one the emulator may listen on.
        self.host = host if _is_ipv4_loopback(host) else LOOPBACK
        self.port = port
        self.region = region
        self.lambdas = LambdaRuntime()
        self._server: GuardedMotoServer | None = None
        self._env = EnvOverlay()
        self._client_config = Config(retries={"max_attempts": 2, "mode": "standard"})

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> EmulatedAws:
        global _active
        if _active is not None:
            raise RuntimeError("an emulated AWS is already running in this process")
        from moto.moto_api._internal.models import moto_api_backend

        _install_lambda_patch()
        agentcore_emulation.install()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        moto_api_backend.set_config(
            {"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}
        )
        self._server = GuardedMotoServer(self.host, self.port)
        self._server.start()
        self.port = self._server.port
        self._env.set(
            {
                **_EMULATOR_ENV,
                "AWS_ENDPOINT_URL": self.endpoint_url,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_REGION": self.region,
                "MOTO_PORT": str(self.port),
            }
        )
        _active = self
        self._ensure_lambda_role()
        return self

    def stop(self) -> None:
        global _active
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.reset()
        self._env.restore()
        if _active is self:
            _active = None

    def __enter__(self) -> EmulatedAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def reset() -> None:
        """Forget every emulated resource (moto's backends are process-wide)."""
        from moto.moto_api._internal.models import moto_api_backend

        moto_api_backend.reset()

    # -- access ----------------------------------------------------------------------------
    @property
    def listening_address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the emulated AWS is not running")
        return self._server.listening_address

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=self._client_config,
            **{k.lower(): v for k, v in _EMULATOR_ENV.items()},
        )

    def arn(self, service: str, resource: str) -> str:
        region = "" if service == "iam" else self.region  # IAM ARNs are global
        return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"

    # -- Lambda ----------------------------------------------------------------------------
    def _ensure_lambda_role(self) -> str:
        iam = self.client("iam")
        try:
            return iam.get_role(RoleName=LAMBDA_ROLE_NAME)["Role"]["Arn"]
        except iam.exceptions.NoSuchEntityException:
            trust = (
                '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
            )
            return iam.create_role(RoleName=LAMBDA_ROLE_NAME, AssumeRolePolicyDocument=trust)["Role"]["Arn"]

    def register_function(self, name: str, spec: FunctionSpec, handler: Handler | None = None) -> str:
        """Create the function in emulated Lambda and bind it to its real handler; return its ARN."""
        lam = self.client("lambda")
        try:
            arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        except lam.exceptions.ResourceNotFoundException:
            arn = lam.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=self.arn("iam", f"role/{LAMBDA_ROLE_NAME}"),
                Handler=spec.handler,
                Code={"ZipFile": _placeholder_zip()},
                Timeout=spec.timeout_s,
                MemorySize=spec.memory_mb,
            )["FunctionArn"]
        self.lambdas.register(name, arn, spec, handler)
        return arn

    # -- fault injection (tests) -------------------------------------------------------------
    @contextmanager
    def inject_errors(
        self, backend: Any, method: str, error: Callable[[], Exception], times: int
    ) -> Iterator[list[int]]:
        """Make `backend.method` raise `error()` for its next `times` calls.

        `backend` is a moto backend *class*; the yielded list counts the raised errors.
        """
        original = getattr(backend, method)
        raised = [0]

        def failing(*args: Any, **kwargs: Any) -> Any:
            if raised[0] < times:
                raised[0] += 1
                raise error()
            return original(*args, **kwargs)

        setattr(backend, method, failing)
        try:
            yield raised
        finally:
            setattr(backend, method, original)


def _placeholder_zip() -> bytes:
    # moto requires a code package; the local runtime runs the handler from the source tree.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README", "code runs from the agentgw source tree\n")
    return buf.getvalue()
