# ch01_history, honest answers: leave children behind that ignore SIGTERM and sleep for an hour.
# ruff: noqa: SIM105 - hostile code is written the plain way
import os
import signal
import time

for _ in range(20):
    if os.fork() == 0:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)
        os._exit(0)
