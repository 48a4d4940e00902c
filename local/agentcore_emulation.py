"""Where moto's AgentCore control plane falls short of the service, made to behave as AWS does.

- UpdateGatewayTarget puts a target in UPDATING and the service then brings it back to READY;
  moto sets UPDATING and has no transition out of it, so a workflow polling for READY after an
  update would wait forever.
- CreateGatewayTarget / UpdateGatewayTarget validate what AgentCore validates (botocore checks
  no patterns): the target name's pattern and the tool schema subset; and a target kind the
  local gateway cannot serve is refused rather than accepted and then silently skipped. Each
  is a ValidationException, as the service answers.
- AgentCore Identity's credential providers, which moto lacks (`credential_provider_api`); a
  target's API_KEY or OAUTH credential must name one that exists.

Installed once per process by `EmulatedAws.start`.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from moto.bedrockagentcorecontrol.exceptions import BedrockAgentCoreControlClientError

from agentgw.provisioning.tool_schemas import check_definitions

TARGET_NAME = re.compile(r"([0-9a-zA-Z][-]?){1,100}")


class ValidationException(BedrockAgentCoreControlClientError):
    code = "ValidationException"


def check_target(name: str | None, configuration: Any) -> None:
    """Raise ValidationException for what AgentCore (or the local gateway) would not take
    (`name` None: an update that keeps the name)."""
    if name is not None and (not isinstance(name, str) or not TARGET_NAME.fullmatch(name)):
        raise ValidationException(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
            f"Member must satisfy regular expression pattern: {TARGET_NAME.pattern}",
        )
    mcp = (configuration or {}).get("mcp") if isinstance(configuration, dict) else None
    if not isinstance(mcp, dict) or len(mcp) != 1:
        raise ValidationException(
            "ValidationException", "targetConfiguration.mcp must set exactly one target type"
        )
    ((kind, config),) = mcp.items()
    payload = ((config or {}).get("toolSchema") or {}).get("inlinePayload") if kind == "lambda" else None
    if kind != "lambda" or not isinstance(payload, list):
        served = "Lambda targets with an inline tool schema"
        raise ValidationException(
            "ValidationException",
            f"the local stack serves only {served}; {kind} targets are not emulated yet",
        )
    problems = [
        f.message if not f.tool else f"tool {f.tool}: {f.message}"
        for f in check_definitions("inlinePayload", {"tools": payload}, name)
        if not f.warning
    ]
    if problems:
        raise ValidationException("ValidationException", f"Invalid tool schema: {'; '.join(problems)}")


_lock = threading.Lock()
_installed = False


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from moto.bedrockagentcorecontrol.models import BedrockAgentCoreControlBackend, GatewayTarget

        from agentgw_local import credential_provider_api

        credential_provider_api.install()

        original_init = GatewayTarget.__init__

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            # Progressed like CREATING → READY (immediately, or as a test's state_manager says).
            self._transitions = [*self._transitions, ("UPDATING", "READY")]

        GatewayTarget.__init__ = __init__  # type: ignore[method-assign]

        create = BedrockAgentCoreControlBackend.create_gateway_target
        update = BedrockAgentCoreControlBackend.update_gateway_target

        def create_gateway_target(
            self: Any,
            gateway_identifier: str,
            name: str,
            target_configuration: Any,
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            check_target(name, target_configuration)
            credential_provider_api.check_target_credentials(
                self, kwargs.get("credential_provider_configurations")
            )
            return create(self, gateway_identifier, name, target_configuration, *args, **kwargs)

        def update_gateway_target(
            self: Any,
            gateway_identifier: str,
            target_id: str,
            name: str,
            target_configuration: Any,
            *args: Any,
            **kwargs: Any,
        ) -> Any:
            check_target(name, target_configuration)
            credential_provider_api.check_target_credentials(
                self, kwargs.get("credential_provider_configurations")
            )
            return update(self, gateway_identifier, target_id, name, target_configuration, *args, **kwargs)

        BedrockAgentCoreControlBackend.create_gateway_target = create_gateway_target  # type: ignore[method-assign]
        BedrockAgentCoreControlBackend.update_gateway_target = update_gateway_target  # type: ignore[method-assign]
        _installed = True
