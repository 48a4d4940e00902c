"""The agent API: prompts answered by a Strands agent through the AgentCore Gateway.

One module per concern:

- `settings`: what the deployment configures (environment variables, never secrets).
- `credentials`: the published gateway configuration, the client secret and the OAuth token,
  each cached; the MCP transport's Bearer auth that refreshes the token once on a 401.
- `tool_loading`: the MCP session per invocation (on the invocation's event loop), the
  gateway tools as Strands tools, the cached tool list, search-first selection and
  model-safe tool name aliases.
- `conversations`: Strands' file / S3 session managers, written once per request.
- `models`: the model providers (`bedrock`, `openai`, `offline`).
- `offline`: the no-LLM provider (search picks the tool, the schema fills its arguments).
- `service`: request validation, the agent run under a deadline, the response.
- `runtime_app`: the same service as an AgentCore Runtime entrypoint.
"""
