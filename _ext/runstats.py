"""A Sphinx extension: a badge on every chapter page with its measured run time and peak memory.

Nothing on the badge is typed in. While Sphinx reads a notebook, myst-nb executes it in a kernel
(a child process of the build); a background thread samples the peak resident memory of that
child (``VmHWM`` in ``/proc/<pid>/status``, the kernel's own high-water mark). The run time is
myst-nb's execution record (from jupyter-cache, so it survives cached rebuilds); the peak memory
of a cached notebook is read back from ``_build/runstats.json``, written when it last ran. The
badge also names the profile the page was built with and links to the notebook, to the
download-all archive (``download_all.py``) and to the setup page's instructions for running a
chapter locally; it never links to a server the reader may not have.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psutil
from sphinx.application import Sphinx

from companion.config import profile

_STATS_FILE = "runstats.json"


class _PeakMonitor:
    """Samples the largest VmHWM among the build's child processes until stopped."""

    def __init__(self, interval: float = 0.2):
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @staticmethod
    def _hwm_kb(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            for child in me.children(recursive=True):
                self.peak_kb = max(self.peak_kb, self._hwm_kb(child.pid))
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


def _stats_path(app: Sphinx) -> Path:
    return Path(app.outdir).parent / _STATS_FILE


def _load(app: Sphinx) -> dict:
    try:
        return json.loads(_stats_path(app).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if str(app.env.doc2path(docname)).endswith(".ipynb"):
        app.env.runstats_monitor = (docname, _PeakMonitor(), time.perf_counter())


def _on_doctree_read(app: Sphinx, doctree) -> None:
    from myst_nb.sphinx_ import NbMetadataCollector

    docname = app.env.docname
    current = getattr(app.env, "runstats_monitor", None)
    if current is None or current[0] != docname:
        return
    app.env.runstats_monitor = None
    peak_mb = current[1].stop()
    exec_data = NbMetadataCollector.get_exec_data(app.env, docname) or {}
    stats = _load(app)
    record = stats.get(docname, {})
    executed_now = bool(exec_data) and exec_data.get("method") == "cache" and peak_mb > 0
    if executed_now or not record:
        record = {"peak_mb": round(peak_mb), "mtime": exec_data.get("mtime")}
    record.update(runtime_s=exec_data.get("runtime"), profile=profile())
    stats[docname] = record
    path = _stats_path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(stats, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(path)


def _fmt_runtime(seconds: float | None) -> str:
    if seconds is None:
        return "not executed"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"


def _on_page_context(app: Sphinx, pagename: str, templatename: str, context: dict,
                     doctree) -> None:
    record = _load(app).get(pagename)
    if not record or "body" not in context:
        return
    notebook = pagename.split("/")[-1] + ".ipynb"
    depth = pagename.count("/")
    root = "../" * depth
    download = f"{root}_sources/{pagename}.ipynb"
    peak = f"{record['peak_mb']:,} MB" if record.get("peak_mb") else "n/a (cached)"
    badge = (
        '<div class="runstats-badge" role="note" aria-label="How this page was built">'
        f'<span class="runstats-item" title="Wall-clock time to execute this notebook during the '
        f'build">◷ CPU run time: <strong>{_fmt_runtime(record.get("runtime_s"))}</strong></span>'
        f'<span class="runstats-item" title="Peak resident memory of the notebook kernel">'
        f'▦ Peak memory: <strong>{peak}</strong></span>'
        f'<span class="runstats-item" title="The hardware profile (profile.yml or BOOK_PROFILE)">'
        f'⚙ Profile: <strong>{record.get("profile", "cpu")}</strong></span>'
        f'<a class="runstats-item" href="{download}" download="{notebook}" '
        f'title="This chapter as a Jupyter notebook">⬇ Download notebook</a>'
        f'<a class="runstats-item" href="{root}{app.config.download_all_name}" '
        f'title="Everything needed to run the book: notebooks, companion package, data, '
        f'Makefile">⬇ Download all (zip)</a>'
        f'<a class="runstats-item" href="{root}book/setup.html#get-the-code" '
        f'title="Download, two commands, then open this chapter in JupyterLab on your machine">'
        f'▶ Run it on your machine</a>'
        "</div>"
    )
    context["body"] = badge + context["body"]


def setup(app: Sphinx) -> dict:
    app.setup_extension("download_all")  # the badge links to its archive
    app.connect("source-read", _on_source_read)
    app.connect("doctree-read", _on_doctree_read)
    app.connect("html-page-context", _on_page_context)
    # runstats.css sits in _static, which Jupyter Book adds to every page by itself.
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}
