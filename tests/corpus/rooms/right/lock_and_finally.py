"""Guards the rooms with an asyncio.Lock and cleans up in a finally block.

expect: pass
"""

import asyncio

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[WebSocket, str]] = {}
        self.lock = asyncio.Lock()

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        async with self.lock:
            self.rooms.setdefault(room, {})[websocket] = client_id

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        members = self.rooms.get(room, {})
        members.pop(websocket, None)
        if not members:
            self.rooms.pop(room, None)

    async def broadcast(self, room: str, message: str) -> None:
        async with self.lock:
            targets = list(self.rooms.get(room, {}))
        for connection in targets:
            await connection.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        return {room: sorted(set(m.values())) for room, m in self.rooms.items() if m}


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{room}/{client_id}")
async def websocket_endpoint(websocket: WebSocket, room: str, client_id: str) -> None:
    await manager.connect(room, client_id, websocket)
    try:
        await manager.broadcast(room, f"Client #{client_id} joined")
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(room, f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        pass
    finally:
        manager.disconnect(room, websocket)
    await manager.broadcast(room, f"Client #{client_id} left")


@app.get("/rooms")
async def list_rooms() -> dict[str, list[str]]:
    return manager.snapshot()
