"""Keys clients by id, as in direct; forgets an id only while it still maps to the same socket.

expect: pass
"""

import asyncio
import contextlib

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

QUEUE_SIZE = 100


class ConnectionManager:
    def __init__(self) -> None:
        self.sockets: dict[str, WebSocket] = {}
        self.outboxes: dict[str, asyncio.Queue[str]] = {}
        self.writers: dict[str, asyncio.Task[None]] = {}
        self.closing: set[asyncio.Task[None]] = set()

    async def connect(self, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.sockets[client_id] = websocket
        self.outboxes[client_id] = asyncio.Queue(QUEUE_SIZE)
        self.writers[client_id] = asyncio.create_task(
            self._write(websocket, self.outboxes[client_id])
        )

    def disconnect(self, client_id: str, websocket: WebSocket) -> bool:
        if self.sockets.get(client_id) is not websocket:
            return False  # gone already, or the id belongs to a newer connection now
        del self.sockets[client_id]
        del self.outboxes[client_id]
        self.writers.pop(client_id).cancel()
        return True

    async def broadcast(self, message: str) -> None:
        full = []
        for client_id, outbox in list(self.outboxes.items()):
            try:
                outbox.put_nowait(message)
            except asyncio.QueueFull:
                full.append((client_id, self.sockets[client_id]))
        for client_id, websocket in full:
            if self.disconnect(client_id, websocket):
                task = asyncio.create_task(self._close(websocket))
                self.closing.add(task)
                task.add_done_callback(self.closing.discard)
                await self.broadcast(f"Client #{client_id} left")

    @staticmethod
    async def _write(websocket: WebSocket, outbox: asyncio.Queue[str]) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.send_text(await outbox.get())

    @staticmethod
    async def _close(websocket: WebSocket) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            await websocket.close(code=1008)


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await manager.connect(client_id, websocket)
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        if manager.disconnect(client_id, websocket):
            await manager.broadcast(f"Client #{client_id} left")
