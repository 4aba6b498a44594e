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
    # runstats_file: another build's record, read only (the Chinese edition reads the English one)
    if app.config.runstats_file:
        return Path(app.config.runstats_file)
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
    if app.config.runstats_file or (not exec_data and record):
        return  # nothing measured here (execution off): keep what the last execution recorded
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


# The badge in the Chinese edition (scripts/i18n.py build sets language = zh_CN). The English
# text is the key, except for the long tooltips, whose English is in _TITLES_EN.
_LABELS_ZH = {
    "How this page was built": "本页的构建方式",
    "CPU run time": "CPU 运行时间",
    "Peak memory": "峰值内存",
    "Profile": "硬件配置",
    "Download notebook": "下载 notebook",
    "Download all (zip)": "下载全部（zip）",
    "Run it on your machine": "在本机运行",
    "n/a (cached)": "无（取自缓存）",
    "not executed": "未执行",
    "runtime-title": "构建时执行这个 notebook 的实际耗时",
    "peak-title": "notebook 内核的峰值常驻内存",
    "profile-title": "硬件配置（profile.yml 或 BOOK_PROFILE）",
    "notebook-title": "本章的 Jupyter notebook",
    "all-title": "运行本书所需的一切：notebook、配套 Python 包、数据和 Makefile",
    "run-title": "下载、两条命令，然后在本机的 JupyterLab 中打开本章",
}
_TITLES_EN = {
    "runtime-title": "Wall-clock time to execute this notebook during the build",
    "peak-title": "Peak resident memory of the notebook kernel",
    "profile-title": "The hardware profile (profile.yml or BOOK_PROFILE)",
    "notebook-title": "This chapter as a Jupyter notebook",
    "all-title": "Everything needed to run the book: notebooks, companion package, data, "
                 "Makefile",
    "run-title": "Download, two commands, then open this chapter in JupyterLab on your machine",
}


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
    zh = str(app.config.language or "").startswith("zh")
    text = _LABELS_ZH if zh else {**{key: key for key in _LABELS_ZH}, **_TITLES_EN}
    cached = text["n/a (cached)"]
    peak = f"{record['peak_mb']:,} MB" if record.get("peak_mb") else cached
    runtime = _fmt_runtime(record.get("runtime_s"))
    if zh:
        runtime = (text["not executed"] if record.get("runtime_s") is None
                   else runtime.replace(" min ", " 分 ").replace(" s", " 秒"))
    badge = (
        f'<div class="runstats-badge" role="note" aria-label="{text["How this page was built"]}">'
        f'<span class="runstats-item" title="{text["runtime-title"]}">'
        f'◷ {text["CPU run time"]}: <strong>{runtime}</strong></span>'
        f'<span class="runstats-item" title="{text["peak-title"]}">'
        f'▦ {text["Peak memory"]}: <strong>{peak}</strong></span>'
        f'<span class="runstats-item" title="{text["profile-title"]}">'
        f'⚙ {text["Profile"]}: <strong>{record.get("profile", "cpu")}</strong></span>'
        f'<a class="runstats-item" href="{download}" download="{notebook}" '
        f'title="{text["notebook-title"]}">⬇ {text["Download notebook"]}</a>'
        f'<a class="runstats-item" href="{root}{app.config.download_all_name}" '
        f'title="{text["all-title"]}">⬇ {text["Download all (zip)"]}</a>'
        f'<a class="runstats-item" href="{root}book/setup.html#get-the-code" '
        f'title="{text["run-title"]}">▶ {text["Run it on your machine"]}</a>'
        "</div>"
    )
    context["body"] = badge + context["body"]


def setup(app: Sphinx) -> dict:
    app.setup_extension("download_all")  # the badge links to its archive
    app.add_config_value("runstats_file", "", "env")
    app.connect("source-read", _on_source_read)
    app.connect("doctree-read", _on_doctree_read)
    app.connect("html-page-context", _on_page_context)
    # runstats.css sits in _static, which Jupyter Book adds to every page by itself.
    return {"version": "0.1", "parallel_read_safe": False, "parallel_write_safe": True}
