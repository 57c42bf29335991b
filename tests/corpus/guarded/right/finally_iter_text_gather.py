"""Reads with iter_text, cleans up in one `finally`, broadcasts with asyncio.gather.

expect: pass
"""

import asyncio
import re
import secrets

from fastapi import FastAPI, WebSocket, status

TOKENS: dict[str, str] = {"alice": "alice-7f3k9q", "bob": "bob-2m8x4z"}
MAX_CONNECTIONS = 100
MAX_MESSAGE_BYTES = 4096


def authorized(client_id: str, token: str | None) -> bool:
    if re.fullmatch(r"[A-Za-z0-9_-]{1,32}", client_id, flags=re.ASCII) is None:
        return False
    expected = TOKENS.get(client_id, "").encode()
    given = (token or "").encode()
    # Both sides are compared even for unknown ids, and an empty token never matches.
    return secrets.compare_digest(given, expected) and bool(expected)


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: list[WebSocket] = []

    def has_room(self) -> bool:
        return len(self.active_connections) < MAX_CONNECTIONS

    def add(self, websocket: WebSocket) -> None:
        self.active_connections.append(websocket)

    def disconnect(self, websocket: WebSocket) -> None:
        if websocket in self.active_connections:
            self.active_connections.remove(websocket)

    async def broadcast(self, message: str) -> None:
        await asyncio.gather(*(ws.send_text(message) for ws in list(self.active_connections)))


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(
    websocket: WebSocket, client_id: str, token: str | None = None
) -> None:
    if not authorized(client_id, token):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)
        return
    await websocket.accept()
    if not manager.has_room():
        await websocket.close(code=status.WS_1013_TRY_AGAIN_LATER, reason="server full")
        return
    manager.add(websocket)
    try:
        await manager.broadcast(f"Client #{client_id} joined")
        async for data in websocket.iter_text():
            if len(data.encode("utf-8")) > MAX_MESSAGE_BYTES:
                manager.disconnect(websocket)
                await websocket.close(code=status.WS_1009_MESSAGE_TOO_BIG, reason="too big")
                break
            await manager.broadcast(f"Client #{client_id}: {data}")
    finally:
        manager.disconnect(websocket)
        await manager.broadcast(f"Client #{client_id} left")
