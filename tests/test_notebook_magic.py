"""The %%gpu cell magic inside a real IPython shell: skipped visibly, or run."""

import pytest
from IPython.core.interactiveshell import InteractiveShell

from companion import config


@pytest.fixture(scope="module")
def shell():
    ip = InteractiveShell.instance()  # the session's shell, if another test made one already
    ip.run_line_magic("load_ext", "companion.notebook")
    return ip


def test_gpu_cell_is_skipped_and_says_why(shell, monkeypatch, capsys):
    monkeypatch.setenv(config.PROFILE_ENV, "cpu")
    shell.user_ns.pop("ran_on_gpu", None)
    shell.run_cell_magic("gpu", "", "ran_on_gpu = True")
    assert "ran_on_gpu" not in shell.user_ns
    assert "[skipped]" in capsys.readouterr().out


def test_gpu_cell_runs_under_gpu_profile(shell, monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "gpu")
    shell.run_cell_magic("gpu", "", "ran_on_gpu = 6 * 7")
    assert shell.user_ns["ran_on_gpu"] == 42


def test_errors_inside_a_running_gpu_cell_propagate(shell, monkeypatch):
    monkeypatch.setenv(config.PROFILE_ENV, "gpu")
    with pytest.raises(ZeroDivisionError):
        shell.run_cell_magic("gpu", "", "1 / 0")
