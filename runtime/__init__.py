"""The agent service as an Amazon Bedrock AgentCore Runtime app (`agentgw_runtime.app`).

A container image, not the Lambda layer: it needs `bedrock-agentcore` (the `runtime` extra).
Run it with `python -m agentgw_runtime [--port 8080]`.
"""
