"""The site's download-all archive (``_ext/download_all.py``): what goes in, what stays out."""

import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import download_all  # noqa: E402

EXCLUDE = ["__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info"]


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    (root / "companion" / "__pycache__").mkdir(parents=True)
    (root / "companion" / "__init__.py").write_text("x = 1\n")
    (root / "companion" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    (root / "notebooks" / ".ipynb_checkpoints").mkdir(parents=True)
    (root / "notebooks" / "01.ipynb").write_text("{}")
    (root / "notebooks" / ".ipynb_checkpoints" / "01-checkpoint.ipynb").write_text("{}")
    (root / "Makefile").write_text("book:\n")
    (root / "secret.txt").write_text("not listed")
    return root


def test_archive_holds_the_listed_paths_under_one_folder_and_nothing_else(project, tmp_path):
    zip_path = tmp_path / "site" / "book.zip"
    archive = download_all.build_archive(project, ["Makefile", "companion", "notebooks"],
                                         EXCLUDE, zip_path, folder="book")
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        assert zf.read("book/companion/__init__.py") == b"x = 1\n"
    assert names == ["book/Makefile", "book/companion/__init__.py", "book/notebooks/01.ipynb"]
    assert archive.files == 3 and archive.bytes_in == len("book:\n") + len("x = 1\n") + 2
    assert not zip_path.with_name("book.zip.partial").exists()


def test_archive_is_byte_identical_when_nothing_changed(project, tmp_path):
    first = download_all.build_archive(project, ["companion"], EXCLUDE, tmp_path / "a.zip", "b")
    second = download_all.build_archive(project, ["companion"], EXCLUDE, tmp_path / "b.zip", "b")
    assert first.path.read_bytes() == second.path.read_bytes()


def test_a_listed_path_that_does_not_exist_is_named(project, tmp_path):
    with pytest.raises(FileNotFoundError, match="'requirements.txt'"):
        download_all.build_archive(project, ["requirements.txt"], EXCLUDE, tmp_path / "a.zip", "b")


def test_the_book_ships_what_the_two_commands_need():
    """Every path the Makefile's `make book` / `make test` read is in the configured list, and
    every listed path exists."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["sphinx"]["config"]
    include = config["download_all_include"]
    needed = {"Makefile", "requirements.txt", "pyproject.toml", "README.md", "profile.yml",
              "_config.yml", "_toc.yml", "book", "notebooks", "companion", "data", "tests",
              "scripts", "_ext", "_static"}
    assert needed <= set(include), sorted(needed - set(include))
    files = download_all.collect(ROOT, include, EXCLUDE)
    assert Path("notebooks/01_history.ipynb") in files
    assert not any(part in (".venv", "_build", ".git") for f in files for part in f.parts)
