"""The model clients' tests: the scripted model server (tests/llmfake.py) as a fixture."""

from tests.llmfake import fake_llm  # noqa: F401
