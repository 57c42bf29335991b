"""Uses a defaultdict of lists, reading it with .get() so broadcasting never recreates a room.

expect: pass
"""

from collections import defaultdict

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.rooms: defaultdict[str, list[tuple[WebSocket, str]]] = defaultdict(list)

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.rooms[room].append((websocket, client_id))

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        self.rooms[room] = [(ws, cid) for ws, cid in self.rooms[room] if ws is not websocket]
        if not self.rooms[room]:
            self.rooms.pop(room)

    async def broadcast(self, room: str, message: str) -> None:
        for connection, _ in list(self.rooms.get(room, [])):
            await connection.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        return {room: sorted({cid for _, cid in pairs}) for room, pairs in self.rooms.items()}


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
