"""harmless: parse_direct() uses a full regex match `@([^ ]+) (.+)` with DOTALL instead of partition, which splits identically.
"""

import re

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


class ConnectionManager:
    """Keeps every open WebSocket under its client id: reach one client, or all of them."""

    def __init__(self) -> None:
        self.active_connections: dict[str, WebSocket] = {}

    async def connect(self, client_id: str, websocket: WebSocket) -> bool:
        """Accept and store the connection under `client_id`, unless that id is taken."""
        if client_id in self.active_connections:
            await websocket.close(code=1008)
            return False
        await websocket.accept()
        self.active_connections[client_id] = websocket
        return True

    def disconnect(self, client_id: str) -> None:
        """Forget the connection of a client that has left."""
        self.active_connections.pop(client_id, None)

    async def send_personal(self, client_id: str, message: str) -> bool:
        """Send `message` to `client_id` alone. Returns False if no such client is connected."""
        ws = self.active_connections.get(client_id)
        if ws is None:
            return False
        await ws.send_text(message)
        return True

    async def broadcast(self, message: str) -> None:
        """Send `message` as a text frame to every connected client."""
        for ws in list(self.active_connections.values()):
            await ws.send_text(message)


app = FastAPI()
manager = ConnectionManager()


def parse_direct(data: str) -> tuple[str, str] | None:
    """Split `@target text` into (target, text); None for a public message."""
    match = re.fullmatch(r"@([^ ]+) (.+)", data, flags=re.DOTALL)
    if match is None:
        return None
    return match.group(1), match.group(2)


async def handle_message(client_id: str, data: str) -> None:
    """Deliver one message from `client_id`: privately to its target, or to everyone."""
    direct = parse_direct(data)
    if direct is None:
        await manager.broadcast(f"Client #{client_id}: {data}")
        return
    target, text = direct
    delivered = await manager.send_personal(target, f"Client #{client_id} (private): {text}")
    if delivered:
        await manager.send_personal(client_id, f"You to #{target}: {text}")
    else:
        await manager.send_personal(client_id, f"Client #{target} is not connected")


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    if not await manager.connect(client_id, websocket):
        return
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await handle_message(client_id, data)
    except WebSocketDisconnect:
        manager.disconnect(client_id)
        await manager.broadcast(f"Client #{client_id} left")
