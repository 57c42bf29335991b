"""Gives each client an asyncio.Queue drained in order by its own writer task.

expect: pass
"""

import asyncio

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: dict[str, WebSocket] = {}
        self.queues: dict[str, asyncio.Queue[str]] = {}
        self.writers: dict[str, asyncio.Task[None]] = {}

    async def connect(self, client_id: str, websocket: WebSocket) -> bool:
        if client_id in self.active_connections:
            await websocket.close(code=1008)
            return False
        await websocket.accept()
        self.active_connections[client_id] = websocket
        self.queues[client_id] = asyncio.Queue()
        self.writers[client_id] = asyncio.create_task(self._write(client_id, websocket))
        return True

    async def _write(self, client_id: str, websocket: WebSocket) -> None:
        queue = self.queues[client_id]
        try:
            while True:
                await websocket.send_text(await queue.get())
        except WebSocketDisconnect:
            pass

    def disconnect(self, client_id: str) -> None:
        del self.active_connections[client_id]
        del self.queues[client_id]
        self.writers.pop(client_id).cancel()

    async def send_personal(self, client_id: str, message: str) -> bool:
        queue = self.queues.get(client_id)
        if queue is None:
            return False
        queue.put_nowait(message)
        return True

    async def broadcast(self, message: str) -> None:
        for queue in self.queues.values():
            queue.put_nowait(message)


app = FastAPI()
manager = ConnectionManager()


def parse_direct(data: str) -> tuple[str, str] | None:
    if not data.startswith("@"):
        return None
    target, _, text = data[1:].partition(" ")
    if not target or not text:
        return None
    return target, text


async def handle_message(client_id: str, data: str) -> None:
    direct = parse_direct(data)
    if direct is None:
        await manager.broadcast(f"Client #{client_id}: {data}")
        return
    target, text = direct
    if await manager.send_personal(target, f"Client #{client_id} (private): {text}"):
        await manager.send_personal(client_id, f"You to #{target}: {text}")
    else:
        await manager.send_personal(client_id, f"Client #{target} is not connected")


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    if not await manager.connect(client_id, websocket):
        return
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await handle_message(client_id, data)
    except WebSocketDisconnect:
        manager.disconnect(client_id)
        await manager.broadcast(f"Client #{client_id} left")
