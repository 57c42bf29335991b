"""snapshot() lists each room's connections, not their ids (the keys of the room's dict,
where the ids are its values): what GET /rooms's handler returns does not fit its declared
type, FastAPI raises ResponseValidationError after the handler returned, and the client
gets HTTP 500.

expect: lists_rooms
says: What list_rooms() returned at
says: line 56 (`return manager.snapshot()`)
says: not a WebSocket
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[WebSocket, str]] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.rooms.setdefault(room, {})[websocket] = client_id

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        members = self.rooms[room]
        del members[websocket]
        if not members:
            del self.rooms[room]

    async def broadcast(self, room: str, message: str) -> None:
        for connection in list(self.rooms.get(room, {})):
            await connection.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        return {room: list(members) for room, members in self.rooms.items()}


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
