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


def test_show_source_is_the_installed_source_and_renders_as_a_python_block():
    import inspect

    from companion import attention
    from companion.notebook import show_source

    shown = show_source(attention.scaled_dot_product_attention)
    assert str(shown) == inspect.getsource(attention.scaled_dot_product_attention).rstrip()
    assert repr(shown) == str(shown)
    block = shown._repr_markdown_()
    assert block.startswith("```python\n") and block.endswith("\n```")


def test_show_source_fences_longer_than_any_backtick_run_inside():
    from companion.notebook import Source

    block = Source("x = '````'")._repr_markdown_()
    assert block.startswith("`````python\n") and block.endswith("\n`````")


def test_show_source_joins_several_objects_and_refuses_non_code():
    from companion import attention
    from companion.notebook import show_source

    both = show_source(attention.scaled_dot_product_attention, attention.causal_mask)
    assert "def scaled_dot_product_attention" in both and "def causal_mask" in both
    with pytest.raises(TypeError, match="functions, classes and methods"):
        show_source(42)
    with pytest.raises(ValueError, match="at least one"):
        show_source()
