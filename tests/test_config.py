"""The profile switch: both values, the environment override, and bad values."""

from pathlib import Path

import pytest

from companion import config
from companion.notebook import skip_message


@pytest.fixture
def profile_file(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / "profile.yml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_default_profile_is_cpu_when_no_file(monkeypatch, tmp_path):
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    assert config.profile(tmp_path / "missing.yml") == "cpu"


@pytest.mark.parametrize("value", ["cpu", "gpu", "GPU", " cpu "])
def test_profile_file_sets_profile(monkeypatch, profile_file, value):
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    assert config.profile(profile_file(f"profile: '{value}'\n")) == value.strip().lower()


def test_environment_variable_overrides_file(monkeypatch, profile_file):
    path = profile_file("profile: cpu\n")
    monkeypatch.setenv(config.PROFILE_ENV, "gpu")
    assert config.profile(path) == "gpu"


def test_unknown_profile_names_the_allowed_values(monkeypatch, profile_file):
    monkeypatch.setenv(config.PROFILE_ENV, "tpu")
    with pytest.raises(config.ProfileError, match=r"'tpu'.*cpu, gpu"):
        config.profile()
    monkeypatch.delenv(config.PROFILE_ENV)
    with pytest.raises(config.ProfileError, match=r"'fast'.*profile.yml.*cpu, gpu"):
        config.profile(profile_file("profile: fast\n"))


def test_profile_file_must_be_a_mapping(monkeypatch, profile_file):
    monkeypatch.delenv(config.PROFILE_ENV, raising=False)
    with pytest.raises(config.ProfileError, match="mapping"):
        config.profile(profile_file("- cpu\n"))


def test_repository_profile_file_is_cpu():
    """The committed setting is the default every reader gets."""
    assert config.PROFILE_FILE.is_file()
    assert "profile: cpu" in config.PROFILE_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(("active", "expected"), [("cpu", 1), ("gpu", 2)])
def test_pick_chooses_size_by_profile(monkeypatch, active, expected):
    monkeypatch.setenv(config.PROFILE_ENV, active)
    assert config.pick(cpu=1, gpu=2) == expected


def test_device_is_cpu_under_cpu_profile(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "cpu")
    assert config.device() == "cpu"


def test_gpu_cells_skip_with_a_reason_under_cpu(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "cpu")
    message = skip_message("gpu")
    assert message is not None
    assert "gpu" in message and config.PROFILE_ENV in message


def test_gpu_cells_run_under_gpu(monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "gpu")
    assert skip_message("gpu") is None


def test_online_cells_are_opt_in(monkeypatch):
    monkeypatch.delenv(config.ONLINE_ENV, raising=False)
    assert skip_message("online") is not None
    monkeypatch.setenv(config.ONLINE_ENV, "1")
    assert skip_message("online") is None


def test_unknown_cell_kind_is_an_error():
    with pytest.raises(ValueError, match="'tpu'"):
        skip_message("tpu")
