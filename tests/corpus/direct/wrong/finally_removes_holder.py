"""Cleans up in a finally block that also runs for a refused duplicate, removing the holder.

expect: duplicate_leaves_holder_untouched
"""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: dict[str, WebSocket] = {}

    async def connect(self, client_id: str, websocket: WebSocket) -> bool:
        if client_id in self.active_connections:
            await websocket.close(code=1008)
            return False
        await websocket.accept()
        self.active_connections[client_id] = websocket
        return True

    def disconnect(self, client_id: str) -> None:
        del self.active_connections[client_id]

    async def send_personal(self, client_id: str, message: str) -> bool:
        websocket = self.active_connections.get(client_id)
        if websocket is None:
            return False
        await websocket.send_text(message)
        return True

    async def broadcast(self, message: str) -> None:
        for websocket in list(self.active_connections.values()):
            await websocket.send_text(message)


app = FastAPI()
manager = ConnectionManager()


def parse_direct(data: str) -> tuple[str, str] | None:
    if not data.startswith("@"):
        return None
    target, _, text = data[1:].partition(" ")
    if not target or not text:
        return None
    return target, text


async def handle_message(client_id: str, data: str) -> None:
    direct = parse_direct(data)
    if direct is None:
        await manager.broadcast(f"Client #{client_id}: {data}")
        return
    target, text = direct
    if await manager.send_personal(target, f"Client #{client_id} (private): {text}"):
        await manager.send_personal(client_id, f"You to #{target}: {text}")
    else:
        await manager.send_personal(client_id, f"Client #{target} is not connected")


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    try:
        if not await manager.connect(client_id, websocket):
            return
        await manager.broadcast(f"Client #{client_id} joined")
        while True:
            data = await websocket.receive_text()
            await handle_message(client_id, data)
    except WebSocketDisconnect:
        pass
    finally:
        manager.active_connections.pop(client_id, None)
        await manager.broadcast(f"Client #{client_id} left")
