"""The whole local stack in one object: emulated AWS, the HTTP front, provisioning.

`LocalStack.start()` binds the HTTP port (failing fast when busy), starts moto on loopback,
points the endpoint URLs (`agentgw.endpoints`) at the HTTP front, starts serving, then
runs the real provisioning state machine and reads back what it published. `stop()` undoes
all of it. `agentgw local up` and the integration tests' session fixture both use it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from starlette.routing import BaseRoute

from agentgw.config import ClientCredentials, GatewayConfig
from agentgw_local.agent_model import AgentModel
from agentgw_local.api import API_PREFIX, agent_api_route, agent_environment
from agentgw_local.aws import EmulatedAws
from agentgw_local.cognito import EmulatedCognito
from agentgw_local.environment import EnvOverlay
from agentgw_local.gateway import LocalGateway
from agentgw_local.locate import StackInfo
from agentgw_local.server import HttpServer, bind, build_app
from agentgw_local.settings import (
    DEFAULT_HOST,
    DEFAULT_PAGE_SIZE,
    DEFAULT_PORT,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    local_stack_urls,
)
from agentgw_local.template import Template

log = logging.getLogger(__name__)


class LocalStack:
    """Emulated AWS + Cognito + gateway (+ extra routes) on loopback, provisioned for real."""

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        aws_port: int = 0,
        region: str = DEFAULT_REGION,
        stack_name: str = DEFAULT_STACK_NAME,
        page_size: int = DEFAULT_PAGE_SIZE,
        provision: bool = True,
        on_state: Callable[[Any], None] | None = None,
        extra_routes: Sequence[BaseRoute] = (),
        aws: EmulatedAws | None = None,
        model: AgentModel | None = None,
        template: Template | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.aws_port = aws_port
        self.region = region
        self.stack_name = stack_name
        self.page_size = page_size
        self.should_provision = provision
        self.on_state = on_state
        self.extra_routes = list(extra_routes)
        # An emulator already running in this process (moto allows one) is used, not stopped.
        self.aws: EmulatedAws | None = aws
        self._owns_aws = aws is None
        # The agent's model (agentgw_local.agent_model); None: AGENTGW_MODEL_PROVIDER or offline.
        self.model = model
        # The SAM template to provision from; None: this checkout's template.yaml.
        self.template = template
        self.http: HttpServer | None = None
        self.cognito: EmulatedCognito | None = None
        self.gateway: LocalGateway | None = None
        self.provision_result: Any = None
        self.info: StackInfo | None = None
        self._env = EnvOverlay()

    @property
    def base_url(self) -> str:
        assert self.http is not None, "stack not started"
        return self.http.base_url

    def start(self) -> LocalStack:
        sock = bind(self.host, self.port)  # first: a busy port must fail before anything starts
        self.http = HttpServer(sock)
        try:
            if self.aws is None:
                self.aws = EmulatedAws(host=self.host, port=self.aws_port, region=self.region).start()
            self.region = self.aws.region
            base = self.http.base_url
            self._env.set(local_stack_urls(base))
            self.cognito = EmulatedCognito(region=self.region)
            self.gateway = LocalGateway(
                base_url=base, region=self.region, lambdas=self.aws.lambdas, page_size=self.page_size
            )
            # The agent API (/api/prompt → AgentFunction, as API Gateway would call it).
            api = agent_api_route(self)
            # `--host` NAME is an address the stack answers to (its published URLs use it).
            app = build_app(self.cognito, self.gateway, [*self.extra_routes, api], host_names=[self.host])
            self.http.start(app)
            if self.should_provision:
                self.info = self._provision()
                self._attach_agent_api()
                self._warm_search(self.info.gateway_id)
        except BaseException:
            self.stop()
            raise
        return self

    def _warm_search(self, gateway_id: str) -> None:
        """Load the search model and index the tools before reporting ready: the first search is
        then fast, and nothing is left loading in a thread when Ctrl-C comes."""
        assert self.gateway is not None
        if self.on_state is not None:
            self.on_state("search: loading the model and indexing the tools")
        try:
            self.gateway.warm_search(gateway_id)
        except Exception as exc:  # the search itself will report the problem, with the reason
            log.warning("warming the tool search index failed: %s", exc)

    def _provision(self) -> StackInfo:
        from agentgw_local.provision import provision

        assert self.aws is not None
        kwargs: dict[str, Any] = {"stack_name": self.stack_name, "wait_seconds": 0, "template": self.template}
        if self.on_state is not None:
            kwargs["on_state"] = self.on_state
        result = provision(self.aws, **kwargs)
        self.provision_result = result
        if getattr(result, "status", None) != "SUCCEEDED":
            reason = getattr(result, "error", None) or "no reason given"
            raise RuntimeError(
                f"provisioning {self.stack_name} ended {getattr(result, 'status', result)}: {reason}"
            )
        config: GatewayConfig = result.config
        secret = self.aws.client("secretsmanager").get_secret_value(SecretId=config.client_secret_arn)
        credentials = ClientCredentials.from_secret_string(secret["SecretString"])
        return StackInfo(
            gateway_id=config.gateway_id,
            gateway_url=config.gateway_url,
            token_url=config.token_url,
            discovery_url=config.discovery_url,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            scope=config.scope,
            region=config.region,
            aws_endpoint_url=self.aws.endpoint_url,
        )

    def _attach_agent_api(self) -> None:
        """Give the in-process agent function its template environment (no secrets) and record the URL."""
        assert self.aws is not None
        environment: dict[str, str | None] = {
            **agent_environment(self.provision_result.parameter_name, os.environ)
        }
        if self.model is not None:
            environment.update(self.model.start(self.aws, self.stack_name))
            if self.on_state is not None:
                self.on_state(f"agent model: {self.model.describe()}")
        self._env.set(environment)
        self.with_api_url(self.base_url + API_PREFIX)

    def with_api_url(self, api_url: str) -> StackInfo:
        """Record the agent API's URL once it is mounted (the agent engineer's hook)."""
        assert self.info is not None
        self.info = StackInfo(**{**asdict(self.info), "api_url": api_url})
        return self.info

    def stop(self) -> None:
        if self.http is not None:
            self.http.stop()
            self.http = None
        if self.model is not None:
            self.model.stop()
        if self.aws is not None and self._owns_aws:
            self.aws.stop()
            self.aws = None
        self._env.restore()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
