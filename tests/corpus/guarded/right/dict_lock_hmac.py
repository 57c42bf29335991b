"""Keeps a dict keyed by client id behind an asyncio.Lock; hmac and a character set do the checks.

expect: pass
"""

import asyncio
import hmac
import string

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

TOKENS: dict[str, str] = {"alice": "alice-7f3k9q", "bob": "bob-2m8x4z"}
MAX_CONNECTIONS = 100
MAX_MESSAGE_BYTES = 4096

ID_CHARS = frozenset(string.ascii_letters + string.digits + "_-")


def allowed(client_id: str, token: str | None) -> bool:
    if not 1 <= len(client_id) <= 32 or not set(client_id) <= ID_CHARS:
        return False
    expected = TOKENS.get(client_id)
    if expected is None or token is None:
        return False
    return hmac.compare_digest(token.encode(), expected.encode())


class ConnectionManager:
    def __init__(self) -> None:
        self.active_connections: dict[str, WebSocket] = {}
        self.lock = asyncio.Lock()

    async def connect(self, client_id: str, websocket: WebSocket) -> bool:
        async with self.lock:
            await websocket.accept()
            if len(self.active_connections) >= MAX_CONNECTIONS:
                await websocket.close(code=1013, reason="try again later")
                return False
            self.active_connections[client_id] = websocket
            return True

    def disconnect(self, client_id: str) -> None:
        self.active_connections.pop(client_id, None)

    async def broadcast(self, message: str) -> None:
        for websocket in list(self.active_connections.values()):
            await websocket.send_text(message)


app = FastAPI()
manager = ConnectionManager()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    if not allowed(client_id, websocket.query_params.get("token")):
        await websocket.close(code=1008)
        return
    if not await manager.connect(client_id, websocket):
        return
    await manager.broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            if len(data.encode()) > MAX_MESSAGE_BYTES:
                manager.disconnect(client_id)
                await websocket.close(code=1009, reason="message too big")
                break
            await manager.broadcast(f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        manager.disconnect(client_id)
    await manager.broadcast(f"Client #{client_id} left")
