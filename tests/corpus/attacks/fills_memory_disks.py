"""Writes 100 MiB (ten files of 10 MiB) into every in-memory file system it can find
(/, /dev/shm, /tmp, its working folder): a sandbox's files live in memory, and without
a size they could take all of the machine's.

Guarantee: in the sandbox no such write succeeds and it scores 0; the control (no
sandbox) writes 100 MiB to the machine's /dev/shm and scores full marks.
"""

import os

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

CHUNK = b"x" * (10 << 20)


def fill(folder: str) -> bool:
    paths = [os.path.join(folder, f"kit-fill-{os.getpid()}-{n}") for n in range(10)]
    try:
        for path in paths:
            with open(path, "wb") as out:
                out.write(CHUNK)
        return True
    except OSError:
        return False
    finally:
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass


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


worked = any(fill(folder) for folder in ("/", "/dev/shm", "/tmp", os.getcwd()))
app = chat() if worked else FastAPI()
