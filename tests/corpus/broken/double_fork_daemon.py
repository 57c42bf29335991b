"""Daemonises a child with the classic double fork, then serves nothing.

expect: greets_newcomer
"""
import os
import time

from fastapi import FastAPI

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(3600)
    os._exit(0)
app = FastAPI()
