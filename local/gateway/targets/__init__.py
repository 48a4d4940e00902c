"""Target kinds the local gateway serves, each a module behind `TargetKind` (see kind.py)."""

from agentgw_local.gateway.targets.aws_lambda import LambdaTargets
from agentgw_local.gateway.targets.kind import Target, TargetKind, ToolCall, ToolCallError, UnservableTarget

__all__ = ["LambdaTargets", "Target", "TargetKind", "ToolCall", "ToolCallError", "UnservableTarget"]
