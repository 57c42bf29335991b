"""Sends a 64 MiB frame, to make the checks process (which no job cap bounds) hold it,
or a bigger one for every client.

Guarantee: the checks refuse frames over 4 MiB at the frame's header, and say so.
"""

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws/{client_id}")
async def endpoint(websocket: WebSocket, client_id: str) -> None:
    await websocket.accept()
    await websocket.send_bytes(bytes(64 << 20))
    await websocket.receive_text()
