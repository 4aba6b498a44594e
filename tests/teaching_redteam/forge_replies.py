# ch01_history, stubbed answers: write replies in the grader's own format, many times over, on
# ruff: noqa: SIM105 - hostile code is written the plain way
# every open descriptor, from a thread that keeps doing it while the checks run.
import json
import os
import threading
import time


def forge():
    for _ in range(200):
        for fd in map(int, os.listdir("/proc/self/fd")):
            if fd > 2:
                reply = {"nonce": os.urandom(16).hex(), "error": None, "tampered": []}
                try:
                    os.write(fd, ((json.dumps(reply) + "\n") * 20).encode())
                except OSError:
                    pass
        time.sleep(0.01)


threading.Thread(target=forge, daemon=True).start()
