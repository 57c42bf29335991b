"""Writes a file in /dev, a memory-backed folder that a sandbox's /dev is made of
(unsized: a job could fill the machine's memory with it, file by file, each under the
output cap), and takes it away again.

Guarantee: in the sandbox /dev is read-only, so it scores 0; the control (no sandbox, as
root) writes to the host's /dev and scores full marks.
"""

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


def wrote_to_dev() -> bool:
    path = f"/dev/grader-attack-{os.getpid()}"
    try:
        with open(path, "wb") as file:
            file.write(b"x" * 4096)
    except OSError:
        return False
    os.unlink(path)
    return True


app = chat() if wrote_to_dev() else FastAPI()
