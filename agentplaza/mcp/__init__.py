"""The agentim tools as an MCP server (`agentplaza mcp`); needs the `mcp` extra."""
