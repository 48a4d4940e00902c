"""The local AgentCore Gateway: the data plane for gateways in the emulated control plane."""

from agentgw_local.gateway.app import LocalGateway
from agentgw_local.gateway.catalog import Catalog

__all__ = ["Catalog", "LocalGateway"]
