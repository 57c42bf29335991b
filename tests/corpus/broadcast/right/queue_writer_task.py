"""Gives each client an asyncio.Queue drained in order by its own writer task.

expect: pass
"""

import asyncio

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: dict[WebSocket, asyncio.Queue[str]] = {}
        self.writers: dict[WebSocket, asyncio.Task[None]] = {}

    async def connect(self, websocket: WebSocket) -> None:
        await websocket.accept()
        queue: asyncio.Queue[str] = asyncio.Queue()
        self.active_connections[websocket] = queue
        self.writers[websocket] = asyncio.create_task(self._write(websocket, queue))

    def disconnect(self, websocket: WebSocket) -> None:
        del self.active_connections[websocket]
        self.writers.pop(websocket).cancel()

    async def broadcast(self, message: str) -> None:
        for queue in self.active_connections.values():
            queue.put_nowait(message)

    @staticmethod
    async def _write(websocket: WebSocket, queue: asyncio.Queue[str]) -> None:
        try:
            while True:
                await websocket.send_text(await queue.get())
        except WebSocketDisconnect:
            pass


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
