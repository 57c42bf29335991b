"""Keeps one flat list of (room, client id, socket) triples; rooms exist only implicitly.

expect: pass
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.members: list[tuple[str, str, WebSocket]] = []

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.members.append((room, client_id, websocket))

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        self.members = [m for m in self.members if m[2] is not websocket]

    async def broadcast(self, room: str, message: str) -> None:
        targets = [ws for r, _, ws in self.members if r == room]
        for connection in targets:
            await connection.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        listing: dict[str, set[str]] = {}
        for room, client_id, _ in self.members:
            listing.setdefault(room, set()).add(client_id)
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
