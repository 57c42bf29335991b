"""Writes a line of 100 000 nested brackets to every pipe it holds while it is imported:
the report pipe, on which the grader waits to hear whether the module imported, and the
witness's events. Read with `json.loads`, such a line raises RecursionError, which the
grader once took for a fault of its own and blamed on the kit.

Guarantee: the verdict blames the app ("the app wrote something unexpected to the
grader's pipe"), never the kit, and it scores 0.
"""

import os
import stat

from fastapi import FastAPI

NESTED = b"[" * 100_000 + b"\n"

for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    try:
        if fd > 2 and stat.S_ISFIFO(os.fstat(fd).st_mode):
            os.write(fd, NESTED)
    except OSError:
        pass

app = FastAPI()
