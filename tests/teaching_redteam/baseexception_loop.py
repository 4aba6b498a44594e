# ch01_history, honest answers except family_share, which never returns and swallows every
# ruff: noqa: SIM105 - hostile code is written the plain way
# exception, the grader's own timeouts included.
import time


def family_share(df, since):
    while True:
        try:
            time.sleep(0.1)
        except BaseException:  # that is the attack
            pass
