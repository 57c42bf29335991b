"""Keeps one global dict keyed by client id, so the same id cannot be in two rooms at once.

expect: same_id_in_two_rooms, same_id_twice_in_a_room
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.clients: dict[str, tuple[str, WebSocket]] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.clients[client_id] = (room, websocket)

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        for client_id, (_, connection) in list(self.clients.items()):
            if connection is websocket:
                del self.clients[client_id]

    async def broadcast(self, room: str, message: str) -> None:
        for member_room, connection in list(self.clients.values()):
            if member_room == room:
                await connection.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        listing: dict[str, list[str]] = {}
        for client_id, (room, _) in self.clients.items():
            listing.setdefault(room, []).append(client_id)
        return {room: sorted(ids) for room, ids in listing.items()}


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
