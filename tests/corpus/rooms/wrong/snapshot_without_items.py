"""snapshot() loops over the rooms without .items(): each room's name is unpacked as
(room, members), so GET /rooms raises ValueError inside the server once a room exists
(with no room it answers {}), and the client gets HTTP 500.

expect: lists_rooms
says: ValueError: too many values to unpack
says: line 33
says: while answering GET /rooms
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
        return {room: sorted(set(members.values())) for room, members in self.rooms}


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
