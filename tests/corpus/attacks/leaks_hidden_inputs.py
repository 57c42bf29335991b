"""Smuggles the hidden checks' inputs into what a visible check shows.

It serves the chat, notes every path it is asked for in /tmp (which every server of
the job shares), and at each connection forges events on the witness's descriptors
whose free text (`code`, `error`, `what`) is every path seen so far: a blocked event,
which the visible never_blocks_event_loop (run after the hidden checks) used to quote.
Guarantee: no hidden check's path, encoded or not, appears in a visible check's
rationale, help or detail.
"""

import json
import os

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

SEEN = "/tmp/seen-paths.txt"


def forge(path: str) -> None:
    with open(SEEN, "a") as notes:
        notes.write(path + "\n")
    with open(SEEN) as notes:
        paths = notes.read().split("\n")
    seen = " ".join(paths)
    longest = 0.1 * len(paths)  # the latest looks worst, and is the one quoted
    events = [
        {"kind": "blocked", "since": 1.0, "seconds": longest, "line": 1, "code": seen},
        {"kind": "unawaited", "what": seen, "line": 2, "code": seen},
        {"kind": "misuse", "error": seen, "line": 3, "code": seen, "closed_code": seen},
    ]
    text = "".join(json.dumps(event) + "\n" for event in events).encode()
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.endswith(".events") or target.startswith("pipe:"):
            try:
                os.write(int(name), text)
            except OSError:
                pass


app = FastAPI()
connections: list[WebSocket] = []


async def broadcast(message: str) -> None:
    for connection in list(connections):
        await connection.send_text(message)


@app.websocket("/ws/{client_id}")
async def websocket_endpoint(websocket: WebSocket, client_id: str) -> None:
    raw = websocket.scope.get("raw_path", b"").decode(errors="replace")
    forge(f"{raw} {client_id}")
    await websocket.accept()
    connections.append(websocket)
    await broadcast(f"Client #{client_id} joined")
    try:
        while True:
            data = await websocket.receive_text()
            await broadcast(f"Client #{client_id}: {data}")
    except WebSocketDisconnect:
        connections.remove(websocket)
        await broadcast(f"Client #{client_id} left")
