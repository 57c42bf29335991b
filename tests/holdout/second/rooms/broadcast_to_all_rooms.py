"""mistake: broadcast() loops over the members of every room, so clients in other rooms hear each room's joins, messages and leaves.
line: 34
fix: Loop over self.rooms.get(room, {}) only.
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    """Keeps the open WebSockets of every room, so that a message reaches one room only."""

    def __init__(self) -> None:
        # room name -> {connection: client id}; only rooms with clients are kept.
        self.rooms: dict[str, dict[WebSocket, str]] = {}

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        """Accept the handshake, then add the connection to `room`, creating the room."""
        await websocket.accept()
        if room not in self.rooms:
            self.rooms[room] = {}
        self.rooms[room][websocket] = client_id

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        """Remove the connection from `room`, and the room itself once it is empty."""
        members = self.rooms.get(room)
        if members is None:
            return
        members.pop(websocket, None)
        if not members:
            del self.rooms[room]

    async def broadcast(self, room: str, message: str) -> None:
        """Send `message` as a text frame to every connection in `room`, and nobody else."""
        for members in list(self.rooms.values()):
            for websocket in list(members):
                await websocket.send_text(message)

    def snapshot(self) -> dict[str, list[str]]:
        """Every room that has clients, with its client ids sorted, each id listed once."""
        result: dict[str, list[str]] = {}
        for room, members in self.rooms.items():
            if members:
                result[room] = sorted(set(members.values()))
        return result


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
    """Who is where: {room: [client ids, sorted]}, only rooms with clients."""
    return manager.snapshot()
