"""Members live in one flat list that disconnect() edits in place while broadcast()
loops over it: a member that leaves while a send waits shifts the list, and the loop
silently skips the member after the one it waited for.

expect: only broadcast_survives_a_leave
says: a list skips a member
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.members: list[tuple[str, str, WebSocket]] = []

    async def connect(self, room: str, client_id: str, websocket: WebSocket) -> None:
        await websocket.accept()
        self.members.append((room, client_id, websocket))

    def disconnect(self, room: str, websocket: WebSocket) -> None:
        for member in self.members:
            if member[2] is websocket:
                self.members.remove(member)
                return

    async def broadcast(self, room: str, message: str) -> None:
        for member_room, _, connection in self.members:
            if member_room == room:
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
