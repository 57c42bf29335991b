"""Leaves files named kit-litter-* in every shared temporary folder (/tmp, /var/tmp,
/dev/shm), in its working folder and in its home, and otherwise behaves correctly.

Guarantee: in the sandbox nothing of it is left on the machine after grading; the
control (no sandbox) leaves files in /tmp, /var/tmp and /dev/shm.
"""

import os
from pathlib import Path

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


for folder in ("/tmp", "/var/tmp", "/dev/shm", os.getcwd(), os.path.expanduser("~")):
    try:
        (Path(folder) / f"kit-litter-{os.getpid()}").write_text("left behind")
    except OSError:
        pass

app = chat()
