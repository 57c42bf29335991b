"""Looks for the instructor's environment (a variable named KIT_TEST_SECRET) in its own
environment and in that of every process it can see.

Guarantee: in the sandbox the environment is allow-listed and the grader's processes
are out of sight, so it scores 0; the control (no sandbox, as root) reads it from the
grader's /proc/<pid>/environ and scores full marks.
"""

import glob
import os

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


def chat() -> FastAPI:
    """The reference behaviour, served only when the attack worked."""
    chat_app, sockets = FastAPI(), []

    async def everyone(text: str) -> None:
        for socket in list(sockets):
            await socket.send_text(text)

    @chat_app.websocket("/ws/{client_id}")
    async def endpoint(websocket: WebSocket, client_id: str) -> None:
        await websocket.accept()
        sockets.append(websocket)
        await everyone(f"Client #{client_id} joined")
        try:
            while True:
                await everyone(f"Client #{client_id}: {await websocket.receive_text()}")
        except WebSocketDisconnect:
            sockets.remove(websocket)
            await everyone(f"Client #{client_id} left")

    return chat_app


def instructor_environment() -> bool:
    if "KIT_TEST_SECRET" in os.environ:
        return True
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            if b"KIT_TEST_SECRET=" in open(path, "rb").read():
                return True
        except OSError:
            continue
    return False


app = chat() if instructor_environment() else FastAPI()
