"""Keeps a set of sockets per room and a separate socket -> client id map for the listing.

expect: pass
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: dict[str, set[WebSocket]] = {}
        self.ids: dict[WebSocket, str] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        if room not in self.rooms:
            self.rooms[room] = set()
        self.rooms[room].add(websocket)
        self.ids[websocket] = client_id

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        self.rooms[room].discard(websocket)
        self.ids.pop(websocket, None)
        if not self.rooms[room]:
            del self.rooms[room]

    async def broadcast(self, room: str, message: str) -> None:
        if room not in self.rooms:
            return
        for connection in self.rooms[room].copy():
            await connection.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        listing = {}
        for room, sockets in self.rooms.items():
            listing[room] = sorted({self.ids[ws] for ws in sockets})
        return listing


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
