"""Starts detached helpers, then takes longer to import than the exercise's time bound.

Guarantee: the grading ends at the time bound with every check timed out, and none of
the helpers is running afterwards.
"""

import os
import subprocess
import time

from fastapi import FastAPI

subprocess.Popen(["sleep", "600"], start_new_session=True, env={})
if os.fork() == 0:
    os.setsid()
    os.environ.clear()
    time.sleep(600)
    os._exit(0)
time.sleep(30)
app = FastAPI()
