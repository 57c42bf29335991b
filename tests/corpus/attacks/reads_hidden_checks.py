"""Looks for the hidden checks (checks/hidden/broadcast.py) anywhere it can read.

Guarantee: in the sandbox it finds nothing and scores 0; the control finds them and
serves the chat (full marks).
"""

import glob
import os
import sys
from pathlib import Path

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


def chat() -> FastAPI:
    """The reference behaviour, served only when the attack worked."""
    chat_app, sockets = FastAPI(), []

    async def everyone(text: str) -> None:
        for socket in list(sockets):
            await socket.send_text(text)

    @chat_app.websocket("/ws/{client_id}")
    async def endpoint(websocket: WebSocket, client_id: str) -> None:
        await websocket.accept()
        sockets.append(websocket)
        await everyone(f"Client #{client_id} joined")
        try:
            while True:
                await everyone(f"Client #{client_id}: {await websocket.receive_text()}")
        except WebSocketDisconnect:
            sockets.remove(websocket)
            await everyone(f"Client #{client_id} left")

    return chat_app


def readable_hidden_checks() -> bool:
    roots = ["/work", "/root", "/home", "/srv", "/opt", "/autograder", "/tmp"]
    grader = sys.modules.get("grader")
    if grader is not None and getattr(grader, "__file__", None):
        roots.insert(0, str(Path(grader.__file__).resolve().parent.parent))
    for entry in glob.glob("/proc/[0-9]*/cwd"):
        try:
            roots.append(os.readlink(entry))
        except OSError:
            pass
    for root in roots:
        for pattern in ("checks/hidden/*.py", "*/checks/hidden/*.py", "*/*/checks/hidden/*.py"):
            for path in glob.glob(os.path.join(root, pattern)):
                try:
                    if "@check" in Path(path).read_text():
                        return True
                except OSError:
                    continue
    return False


app = chat() if readable_hidden_checks() else FastAPI()
