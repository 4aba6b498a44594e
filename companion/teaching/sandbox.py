"""Where a submission runs: its own process group, resource limits, and on Linux as root its own
network, process, mount and IPC namespaces with a read-only view of the machine (book/teaching.md).

As root with ``unshare`` and ``setpriv`` (util-linux), the submission sees: no network; only its
own processes (so it cannot signal the grader or a classmate's run, and every process it started
dies with it); the whole filesystem read-only except a private, size-limited ``/tmp``; a ``/dev``
with only ``null``, ``zero``, ``full``, ``random`` and ``urandom``; and no capabilities. Elsewhere
it gets the process group and the limits only (:func:`isolation` says which).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_SETUP = r"""set -e
mount --make-rprivate /
mkdir -p /tmp
mount -t tmpfs -o size=${SANDBOX_TMP_MB}m,mode=1777 sandbox-tmp /tmp
mkdir /tmp/.dev
for name in null zero full random urandom; do
  touch /tmp/.dev/$name; mount --bind /dev/$name /tmp/.dev/$name
done
mount -t tmpfs -o size=1m,mode=755 sandbox-dev /dev
for name in null zero full random urandom; do
  touch /dev/$name; mount --bind /tmp/.dev/$name /dev/$name
done
mkdir /dev/shm; mount -t tmpfs -o size=64m,mode=1777 sandbox-shm /dev/shm
mount -t proc proc /proc
for path in /proc/sys /proc/sysrq-trigger /proc/irq /proc/bus; do
  [ -e $path ] && mount --bind $path $path && mount -o remount,bind,ro $path
done
mount -t tmpfs -o ro,size=1k sandbox-sys /sys
mount -o remount,bind,ro /
mkdir /tmp/work; cd /tmp/work
exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
"""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's process (and each process it starts)."""

    memory_mb: int = 6144
    """Address space per process (``RLIMIT_AS``); torch alone reserves about 1.5 GB."""
    processes: int = 256
    """Processes and threads (``RLIMIT_NPROC``; ignored by the kernel for root, where the
    process namespace and the kill at the time limit bound them instead)."""
    file_mb: int = 64
    """Largest file it may write, output captured by the grader included (``RLIMIT_FSIZE``)."""
    cpu_s: int = 600
    """CPU seconds (``RLIMIT_CPU``); the grader's wall-clock limits act first."""
    tmp_mb: int = 256
    """Size of the private ``/tmp`` (namespaced runs only)."""


def isolation() -> str:
    """``"namespaces"`` where the full sandbox is available, else ``"process group"``."""
    if (sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("unshare")
            and shutil.which("setpriv")):
        probe = subprocess.run(["unshare", "--net", "--pid", "--mount", "--fork", "true"],
                               capture_output=True, check=False)
        if probe.returncode == 0:
            return "namespaces"
    return "process group"


_ISOLATION: str | None = None


def _isolation_cached() -> str:
    global _ISOLATION
    if _ISOLATION is None:
        _ISOLATION = isolation()
    return _ISOLATION


def _set_limits(limits: Limits) -> None:
    mb = 1024 * 1024
    for kind, value in ((resource.RLIMIT_AS, limits.memory_mb * mb),
                        (resource.RLIMIT_NPROC, limits.processes),
                        (resource.RLIMIT_FSIZE, limits.file_mb * mb),
                        (resource.RLIMIT_CPU, limits.cpu_s),
                        (resource.RLIMIT_CORE, 0)):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (value, value))


def child_env(repo_root: Path, home: str) -> dict[str, str]:
    """The whole environment of a submission: offline, one thread, no teacher's variables."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
            "PYTHONPATH": str(repo_root), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8", "LANG": "C.UTF-8", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": home, "HF_HOME": f"{home}/hf", "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def start(args: list[str], workdir: Path, repo_root: Path, limits: Limits, reply_fd: int,
          stderr: IO[bytes], isolate: bool = True) -> subprocess.Popen:
    """Start ``args`` (a Python command line) as a submission: its own session and process group,
    ``limits`` set before it starts, stdin a pipe for commands, ``reply_fd`` kept open and named
    in ``GRADER_REPLY_FD``."""
    namespaced = isolate and _isolation_cached() == "namespaces"
    if namespaced:
        command = ["unshare", "--net", "--pid", "--mount", "--ipc", "--uts", "--fork",
                   "--kill-child", "sh", "-c", _SETUP, "sandbox", *args]
        env = {**child_env(repo_root, "/tmp/work"), "SANDBOX_TMP_MB": str(limits.tmp_mb)}
    else:
        command, env = args, child_env(repo_root, str(workdir))

    env["GRADER_REPLY_FD"] = str(reply_fd)
    return subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=stderr, pass_fds=(reply_fd,),
                            preexec_fn=lambda: _set_limits(limits), start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """Kill the process group of a submission (and with its namespace, every process in it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    with contextlib.suppress(Exception):
        if process.stdin:
            process.stdin.close()
    process.wait()
