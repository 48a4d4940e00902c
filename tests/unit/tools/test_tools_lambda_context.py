"""agentgw.lambda_context: the context object in-process callers hand to handlers."""

from __future__ import annotations

import time

from agentgw.lambda_context import (
    GATEWAY_ID_KEY,
    MCP_MESSAGE_ID_KEY,
    MESSAGE_VERSION_KEY,
    TOOL_NAME_KEY,
    LambdaContext,
    agentcore_client_context,
)


def test_context_has_what_powertools_and_handlers_read() -> None:
    context = LambdaContext(function_name="fn", memory_limit_in_mb=512, timeout_s=30)
    assert context.invoked_function_arn.endswith(":function:fn")
    assert context.log_group_name == "/aws/lambda/fn"
    assert context.aws_request_id and context.aws_request_id != LambdaContext().aws_request_id
    assert context.client_context is None  # as in Lambda when the caller sends none
    assert 29_000 < context.get_remaining_time_in_millis() <= 30_000


def test_remaining_time_runs_out() -> None:
    context = LambdaContext(timeout_s=0.05)
    time.sleep(0.06)
    assert context.get_remaining_time_in_millis() == 0


def test_agentcore_client_context_keys() -> None:
    custom = agentcore_client_context("timeweather___get_time", gateway_id="gw", mcp_message_id=7).custom
    assert custom[TOOL_NAME_KEY] == "timeweather___get_time"
    assert custom[GATEWAY_ID_KEY] == "gw"
    assert custom[MCP_MESSAGE_ID_KEY] == "7"
    assert custom[MESSAGE_VERSION_KEY] == "1.0"
    assert len(custom) == 6
