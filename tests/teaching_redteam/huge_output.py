# ch01_history, honest answers: print 200 MB and try to fill the disk.
# ruff: noqa: SIM105 - hostile code is written the plain way
import sys

chunk = "x" * (1 << 20)
for _ in range(100):
    print(chunk)
    sys.stderr.write(chunk)
with open("filler.bin", "wb") as f:
    for _ in range(1024):
        f.write(b"\0" * (1 << 20))
