"""Every setting and every error code is documented."""

from dataclasses import fields
from pathlib import Path

import pytest

from agentplaza.domain.errors import ErrorCode
from agentplaza.settings import Settings

DOCS = Path(__file__).parent.parent / "docs"


@pytest.mark.parametrize("name", [f.name for f in fields(Settings)])
def test_setting_is_documented(name: str) -> None:
    assert f"| `{name}` |" in (DOCS / "settings.md").read_text()


@pytest.mark.parametrize("code", [c.value for c in ErrorCode])
def test_error_code_is_documented(code: str) -> None:
    assert f"| `{code}` |" in (DOCS / "errors.md").read_text()
