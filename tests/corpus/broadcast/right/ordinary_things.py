"""The reference solution, plus the ordinary things a program does at import: resolve
its own host name, write temporary files, log to a file and keep a SQLite database in
its working folder, run a subprocess and a thread, read a time zone. An honest student
must never be failed by the sandbox for any of them.

expect: pass
"""

import asyncio
import logging
import socket
import sqlite3
import subprocess
import sys
import tempfile
from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

socket.gethostbyname(socket.gethostname())
with tempfile.NamedTemporaryFile("w") as scratch:
    scratch.write("notes")
logging.basicConfig(filename="chat.log", level=logging.INFO)
logging.getLogger("chat").info("starting at %s", datetime.now(ZoneInfo("Europe/Paris")))
sqlite3.connect("chat.db").execute("create table if not exists messages (text)")
assert subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True).stdout
assert asyncio.run(asyncio.to_thread(lambda: 42)) == 42


class ConnectionManager:
    """Keeps track of every open WebSocket so that one message can reach them all."""

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
