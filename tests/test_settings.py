from pathlib import Path

import pytest

from agentplaza.settings import Settings


def test_env_overrides_defaults_with_types() -> None:
    s = Settings.from_env(
        {"AGENTPLAZA_PORT": "9001", "AGENTPLAZA_RATE_LIMITS_ENABLED": "off", "OTHER": "x"}
    )
    assert s.port == 9001
    assert s.rate_limits_enabled is False


def test_toml_file_then_env(tmp_path: Path) -> None:
    config = tmp_path / "agentplaza.toml"
    config.write_text('port = 7000\nretention_days = 1.5\nbus_url = "memory://"\n')
    s = Settings.from_env({"AGENTPLAZA_CONFIG": str(config), "AGENTPLAZA_PORT": "7001"})
    assert (s.port, s.retention_days) == (7001, 1.5)


@pytest.mark.parametrize(
    "env", [{"AGENTPLAZA_PORT": "eighty"}, {"AGENTPLAZA_RATE_LIMITS_ENABLED": "perhaps"}]
)
def test_bad_values_are_refused_with_the_setting_name(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="setting"):
        Settings.from_env(env)


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=str(tmp_path))
    assert s.effective_database_url == f"sqlite:///{tmp_path.resolve()}/agentplaza.db"


def test_secrets_are_masked() -> None:
    s = Settings(database_url="postgresql://app:hunter2@db/agentplaza")
    assert "hunter2" not in str(s.describe())
