"""A Lambda context object to call handlers outside Lambda, and the AgentCore client context.

Powertools ships `LambdaContext` only as a type hint (its attributes are never set), so
anything that calls a handler in-process -- the local gateway, tests, benchmarks -- builds
one of these. AgentCore Gateway invokes a Lambda target with the tool's arguments as the
event and these keys in `context.client_context.custom` (`agentcore_client_context`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

# The keys AgentCore Gateway puts in `context.client_context.custom` for a Lambda target.
TOOL_NAME_KEY = "bedrockAgentCoreToolName"  # prefixed: "{target}___{tool}"
GATEWAY_ID_KEY = "bedrockAgentCoreGatewayId"
TARGET_ID_KEY = "bedrockAgentCoreTargetId"
MESSAGE_VERSION_KEY = "bedrockAgentCoreMessageVersion"
AWS_REQUEST_ID_KEY = "bedrockAgentCoreAwsRequestId"
MCP_MESSAGE_ID_KEY = "bedrockAgentCoreMcpMessageId"
MESSAGE_VERSION = "1.0"


@dataclass
class ClientContext:
    """`context.client_context`, as Lambda decodes it from the invoke's ClientContext."""

    custom: dict[str, Any] = field(default_factory=dict)
    env: dict[str, Any] = field(default_factory=dict)
    client: Any = None


@dataclass
class LambdaContext:
    """The attributes and the one method of Lambda's Python context object."""

    function_name: str = "local-function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    memory_limit_in_mb: int = 128
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    client_context: ClientContext | None = None
    identity: Any = None
    tenant_id: str | None = None
    timeout_s: float = 30.0
    _deadline: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.invoked_function_arn:
            self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self.log_stream_name = self.log_stream_name or f"local/[{self.function_version}]{self.aws_request_id}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def agentcore_client_context(
    tool_name: str,
    *,
    gateway_id: str = "local-gateway",
    target_id: str = "local-target",
    mcp_message_id: str | int = 1,
    aws_request_id: str | None = None,
) -> ClientContext:
    """The client context AgentCore Gateway sends with a tool call; `tool_name` is prefixed."""
    return ClientContext(
        custom={
            TOOL_NAME_KEY: tool_name,
            GATEWAY_ID_KEY: gateway_id,
            TARGET_ID_KEY: target_id,
            MESSAGE_VERSION_KEY: MESSAGE_VERSION,
            AWS_REQUEST_ID_KEY: aws_request_id or str(uuid.uuid4()),
            MCP_MESSAGE_ID_KEY: str(mcp_message_id),
        }
    )
