"""Sends to a room's members concurrently with asyncio.gather, and counts ids with a Counter.

expect: pass
"""

import asyncio
from collections import Counter

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[int, WebSocket]] = {}
        self.names: dict[str, Counter[str]] = {}
        self.id_of: dict[int, str] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.rooms.setdefault(room, {})[id(websocket)] = websocket
        self.names.setdefault(room, Counter())[client_id] += 1
        self.id_of[id(websocket)] = client_id

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        del self.rooms[room][id(websocket)]
        client_id = self.id_of.pop(id(websocket))
        self.names[room][client_id] -= 1
        if self.names[room][client_id] == 0:
            del self.names[room][client_id]
        if not self.rooms[room]:
            del self.rooms[room]
            del self.names[room]

    async def broadcast(self, room: str, message: str) -> None:
        members = list(self.rooms.get(room, {}).values())
        await asyncio.gather(*(ws.send_text(message) for ws in members))

    def snapshot(self) -> dict[str, list[str]]:
        return {room: sorted(names) for room, names in self.names.items()}


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{room}/{client_id}")
async def websocket_endpoint(websocket: WebSocket, room: str, client_id: str) -> None:
    await manager.connect(room, client_id, websocket)
    await manager.broadcast(room, f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await manager.broadcast(room, f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        manager.disconnect(room, websocket)
        await manager.broadcast(room, f"Client #{client_id} left")


@app.get("/rooms")
async def list_rooms() -> dict[str, list[str]]:
    return manager.snapshot()
