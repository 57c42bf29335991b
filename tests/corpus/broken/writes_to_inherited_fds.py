"""Writes garbage to every file descriptor it inherited, hoping to reach the grader's files.

expect: error unexpected to the grader's pipe
"""
import os

for fd in range(3, 256):
    try:
        os.write(fd, b"not json\n")
    except OSError:
        pass

from fastapi import FastAPI

app = FastAPI()
