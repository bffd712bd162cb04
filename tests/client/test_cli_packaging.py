"""`pip install agentplaza` is the client: the wheel's base requirements hold no server
dependency, and the client modules import and run with the server's libraries unimportable."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = {
    "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "asyncpg", "psycopg", "redis",
    "nats", "argon2", "prometheus_client", "orjson", "mcp", "langchain_core", "openai",
    "anthropic", "multipart",
}  # fmt: skip
BASE_ALLOWED = {"httpx", "typer", "rich", "sniffio", "websockets", "cryptography"}

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys
    BLOCKED = {blocked!r}
    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked for this test: {{name}}", name=name)
            return None
    sys.meta_path.insert(0, Blocker())
    """
).format(blocked=sorted(SERVER_PACKAGES))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(fresh venv, its site-packages) with only the agentplaza wheel installed."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(work), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = work.glob("agentplaza-*.whl")
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=False)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install",
         "--no-deps", "--no-index", "-q", str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    (site,) = env_dir.glob("lib/python*/site-packages")
    return env_dir, site


def test_base_requirements_are_client_only(installed: tuple[Path, Path]) -> None:
    env_dir, _ = installed
    out = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c",
         "import importlib.metadata as m; print('\\n'.join(m.requires('agentplaza')))"],
        check=True, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    base = {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in out if "extra ==" not in r}
    assert base and base <= BASE_ALLOWED, base
    extras = {m.group(1) for r in out if (m := re.search(r"extra == [\"'](\w+)", r))}
    assert {"server", "mcp", "langchain"} <= extras
    assert (env_dir / "bin" / "agentplaza").exists()


def test_client_modules_work_without_server_libraries(installed: tuple[Path, Path]) -> None:
    _, site = installed
    script = BLOCKER + textwrap.dedent(
        f"""
        import agentplaza, agentplaza.cli, agentplaza.sdk
        import agentplaza.integrations.openai_tools, agentplaza.integrations.claude
        assert agentplaza.__file__.startswith({str(site)!r}), agentplaza.__file__
        try:
            import agentplaza.integrations.langchain
        except ImportError as exc:
            assert 'pip install "agentplaza[langchain]"' in str(exc), exc
        else:
            raise AssertionError("langchain-core should be unimportable here")
        from agentplaza.cli import main
        sys.argv = ["agentplaza", *sys.argv[1:]]
        main()
        """
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(site), "HOME": str(site.parent), "PATH": "/usr/bin:/bin"},
            cwd=site.parent,  # not the checkout: `-c` puts the cwd first on sys.path
            timeout=60,
        )

    helped = run("--help")
    assert helped.returncode == 0, helped.stderr
    assert "register" in helped.stdout
    # Commands that need what is not installed say which extra, in one line.
    serve = run("serve")
    assert serve.returncode == 2 and "agentplaza[server]" in serve.stderr
    assert len(serve.stderr.strip().splitlines()) == 1
    mcp = run("mcp")
    assert mcp.returncode == 2 and "agentplaza[mcp]" in mcp.stderr
    assert "Traceback" not in serve.stderr + mcp.stderr
