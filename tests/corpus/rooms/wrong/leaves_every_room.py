"""On disconnect, removes every connection with the leaver's id, in every room.

expect: same_id_in_two_rooms, same_id_twice_in_a_room
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, dict[WebSocket, str]] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.rooms.setdefault(room, {})[websocket] = client_id

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        client_id = self.rooms[room][websocket]
        for name, members in list(self.rooms.items()):
            for connection, member_id in list(members.items()):
                if member_id == client_id:
                    del members[connection]
            if not members:
                del self.rooms[name]

    async def broadcast(self, room: str, message: str) -> None:
        for connection in list(self.rooms.get(room, {})):
            await connection.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        return {room: sorted(set(members.values())) for room, members in self.rooms.items()}


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
