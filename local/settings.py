"""The local stack's configuration in one place: its defaults and the names it gives things.

`agentgw local up`, `agentgw local provision`, the stack itself and the tests all take these
from here, so a default or a naming rule cannot drift between them.
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_STACK_NAME = "agentgw-local"
DEFAULT_REGION = "us-east-1"
DEFAULT_PAGE_SIZE = 30  # tools/list page size, as AgentCore pages


def function_name(stack_name: str, logical_id: str) -> str:
    """The name a template function gets in emulated Lambda (`{stack}-{logical id}`, ≤ 64)."""
    return f"{stack_name}-{logical_id}"[:64]


def local_stack_urls(base_url: str) -> dict[str, str]:
    """The URL templates that make published configuration point at a local stack serving at
    `base_url` (see agentgw.endpoints). They hold URLs, never secrets."""
    return {
        "AGENTGW_GATEWAY_URL_TEMPLATE": f"{base_url}/gateways/{{gateway_id}}/mcp",
        "AGENTGW_COGNITO_IDP_URL": f"{base_url}/cognito-idp",
        "AGENTGW_COGNITO_DOMAIN_URL_TEMPLATE": f"{base_url}/cognito/{{domain}}",
    }
