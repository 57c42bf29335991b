"""Gives each connection a queue drained in order by its own writer task.

expect: pass
"""

import asyncio

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class Member:
    def __init__(self, client_id: str, websocket: WebSocket) -> None:
        self.client_id = client_id
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.writer = asyncio.create_task(self._write(websocket))

    async def _write(self, websocket: WebSocket) -> None:
        try:
            while True:
                await websocket.send_text(await self.queue.get())
        except WebSocketDisconnect:
            pass


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[WebSocket, Member]] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.rooms.setdefault(room, {})[websocket] = Member(client_id, websocket)

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        self.rooms[room].pop(websocket).writer.cancel()
        if not self.rooms[room]:
            del self.rooms[room]

    async def broadcast(self, room: str, message: str) -> None:
        for member in self.rooms.get(room, {}).values():
            member.queue.put_nowait(message)

    def snapshot(self) -> dict[str, list[str]]:
        return {
            room: sorted({m.client_id for m in members.values()})
            for room, members in self.rooms.items()
        }


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
