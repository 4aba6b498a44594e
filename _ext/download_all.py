"""A Sphinx extension: one archive with everything a reader needs to run the book, in the site.

There is no public repository to clone, so the built site carries the project itself: after an
HTML build, the paths listed in ``download_all_include`` (``_config.yml``) are zipped into
``download_all_name`` at the site root, under one top-level folder. The setup page links to it
("Get the code"), and so does the badge on every chapter. Caches and build products
(``download_all_exclude``) are left out. The archive is deterministic: sorted entries, a fixed
timestamp, so an unchanged project gives a byte-identical file.
"""

from __future__ import annotations

import fnmatch
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold


@dataclass(frozen=True)
class Archive:
    path: Path
    files: int
    bytes_in: int


def _excluded(relative: Path, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(part, pattern) for part in relative.parts for pattern in patterns)


def collect(root: Path, include: list[str], exclude: list[str]) -> list[Path]:
    """The files to ship, relative to ``root``, sorted. A missing included path is an error."""
    files: list[Path] = []
    for name in include:
        path = root / name
        if not path.exists():
            raise FileNotFoundError(
                f"download_all_include names {name!r}, which is not in {root.name}/")
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [p.relative_to(root) for p in candidates
                  if not _excluded(p.relative_to(root), exclude)]
    return sorted(set(files))


def build_archive(root: Path, include: list[str], exclude: list[str], destination: Path,
                  folder: str) -> Archive:
    """Zip ``include`` (minus ``exclude``) from ``root`` into ``destination`` under ``folder/``."""
    files = collect(root, include, exclude)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    size = 0
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for relative in files:
            data = (root / relative).read_bytes()
            size += len(data)
            info = zipfile.ZipInfo(f"{folder}/{relative.as_posix()}", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    partial.replace(destination)  # never a half-written archive in the site
    return Archive(destination, len(files), size)


def _on_build_finished(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    name = app.config.download_all_name
    source = app.config.download_all_source
    if source and Path(source).is_file():  # another edition's archive of the same project
        destination = Path(app.outdir) / name
        partial = destination.with_name(destination.name + ".partial")
        shutil.copyfile(source, partial)
        partial.replace(destination)
        logger.info(f"download-all archive: {name}, copied from {source}")
        return
    archive = build_archive(Path(app.srcdir), list(app.config.download_all_include),
                            list(app.config.download_all_exclude), Path(app.outdir) / name,
                            folder=Path(name).stem)
    logger.info(f"download-all archive: {name}, {archive.files} files, "
                f"{archive.path.stat().st_size / 2**20:.1f} MiB")


def setup(app: Sphinx) -> dict:
    app.add_config_value("download_all_name", "from-attention-to-agents.zip", "html")
    app.add_config_value("download_all_include", [], "html")
    # an archive already built (the English edition's, for the Chinese one) to copy, not re-zip
    app.add_config_value("download_all_source", "", "html")
    app.add_config_value("download_all_exclude",
                         ["__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info",
                          "*.mo"], "html")
    app.connect("build-finished", _on_build_finished)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
