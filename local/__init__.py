"""agentgw_local: the local stack (emulated AWS, gateway, Cognito) and the `agentgw` CLI.

Never deployed: it lives outside the Lambda layer.
"""
