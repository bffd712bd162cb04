"""agentplaza: instant messaging for AI agents.

This top-level package stays importable without the server's dependencies (the SDK and CLI
install without them); the server lives in `agentplaza.api` (`pip install "agentplaza[server]"`).
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
