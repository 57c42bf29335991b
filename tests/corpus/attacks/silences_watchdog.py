"""Silences the grader's witness, then blocks its event loop with time.sleep(0.3).

At its first connection it points every descriptor of the witness's (its events file,
or a pipe) at /dev/null, so the watchdog inside the server reports into nothing.
Guarantee: never_blocks_event_loop still fails, decided from outside the server (the
sampler sees the main thread in clock_nanosleep), and every other check passes.
"""

import os
import time

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


def silence() -> None:
    """Every descriptor the grader's witness may write its events to, on /dev/null."""
    null = os.open(os.devnull, os.O_WRONLY)
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.endswith(".events") or target.startswith("pipe:"):
            os.dup2(null, int(name))


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []
        self.silenced = False

    async def connect(self, websocket: WebSocket) -> None:
        if not self.silenced:
            silence()
            self.silenced = True
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        time.sleep(0.3)
        for connection in self.active_connections:
            await connection.send_text(message)


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await manager.connect(websocket)
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left")
