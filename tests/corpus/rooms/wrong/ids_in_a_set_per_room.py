"""Keeps the listed ids in a set per room and discards the id when any of its connections leaves.

expect: lists_each_id_once
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[WebSocket, str]] = {}
        self.names: dict[str, set[str]] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.rooms.setdefault(room, {})[websocket] = client_id
        self.names.setdefault(room, set()).add(client_id)

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        members = self.rooms[room]
        self.names[room].discard(members.pop(websocket))
        if not members:
            del self.rooms[room]
            del self.names[room]

    async def broadcast(self, room: str, message: str) -> None:
        for connection in list(self.rooms.get(room, {})):
            await connection.send_text(message)

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
