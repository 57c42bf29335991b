"""The mistake of broadcast/wrong/disconnect_twice.py (remove() raises on every
disconnect), with the process's standard error pointed at /dev/null so that no
traceback shows in its output, and uvicorn's own error log switched off.

Guarantee: the grader still sees the exception (it reports errors on a descriptor of
its own): the score is that of the same mistake unhidden.
"""

import logging
import os

os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
logging.getLogger("uvicorn.error").disabled = True

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
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
    finally:
        manager.disconnect(websocket)
