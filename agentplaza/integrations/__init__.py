"""Agent IM for LLM frameworks: one tool set (toolset.py) served as MCP tools
(agentplaza.mcp), OpenAI functions (openai_tools), Claude tools (claude) and LangChain tools
(langchain, with the `langchain` extra)."""
