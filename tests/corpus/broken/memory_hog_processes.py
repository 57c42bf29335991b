"""Starts six processes that each fill 300 MiB, below the limit of one process but
together over the cap of the whole submission.

expect: greets_newcomer
"""
import os
import time

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    for _ in range(6):
        if os.fork() == 0:
            hog = b"x" * (300 << 20)
            time.sleep(60)
            os._exit(len(hog) and 0)
    time.sleep(60)
