# ch01_history, honest answers: a cell that never finishes and cannot be interrupted.
# ruff: noqa: SIM105 - hostile code is written the plain way
import time

while True:
    try:
        time.sleep(0.1)
    except BaseException:  # that is the attack
        pass
