"""Keys a room's members by client id, so a second connection with the same id replaces the first.

expect: same_id_twice_in_a_room
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[str, WebSocket]] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.rooms.setdefault(room, {})[client_id] = websocket

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        members = self.rooms[room]
        for client_id, connection in list(members.items()):
            if connection is websocket:
                del members[client_id]
        if not members:
            del self.rooms[room]

    async def broadcast(self, room: str, message: str) -> None:
        for connection in list(self.rooms.get(room, {}).values()):
            await connection.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        return {room: sorted(members) for room, members in self.rooms.items()}


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
