"""The agent API: prompts answered by a Strands agent through the AgentCore Gateway.

One module per concern:

- `settings`: what the deployment configures (environment variables, never secrets).
- `request`: the request body, validated (a 400 says what is wrong).
- `service`: `AgentService`, one request from body to reply; what it uses is passed in.
- `credentials`: the published gateway configuration, the client secret, API keys and the
  OAuth token, each cached (`GatewayCredentials`).
- `invocation`: the worker thread, the deadline and the MCP session around the agent run.
- `gateway_session`: the MCP session per invocation (on the invocation's event loop), with
  the cached handshake per gateway.
- `tool_selection`: the cached tool list, search-first selection, model-safe tool names.
- `gateway_tools`: a gateway tool as a Strands tool.
- `agent_run`: the tools, the model and the Strands agent loop of one request.
- `tool_trace`: the tool calls the reply reports.
- `replies`: the status and body for each way a request can end.
- `conversations`, `conversation_store`: Strands' file / S3 session managers, written once per
  request, and which one a deployment uses.
- `models`: the model providers (`bedrock`, `openai`, `offline`, and any passed in).
- `offline`: the no-LLM provider (search picks the tool, the schema fills its arguments).

The AgentCore Runtime app serving the same service is `agentgw_runtime` (outside the layer).
"""
