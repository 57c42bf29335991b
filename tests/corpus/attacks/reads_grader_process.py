"""Reads the memory of the grader's own processes (the one that holds the results
channel's key, and the checks process), as a submission graded without the sandbox by
the same ordinary user could try: /proc/<pid>/mem of a process of the same user.

Guarantee: the grader's processes refuse it (they are not dumpable), so even with
--no-sandbox it scores 0 for an ordinary user; as root nothing is out of reach, which
README says.
"""

import glob
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


def read_a_grader_process() -> bool:
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        folder = Path(cmdline).parent
        try:
            words = Path(cmdline).read_bytes().split(b"\0")
            if b"grader" not in words and b"grader.plugin" not in words:
                continue
            start = int((folder / "maps").read_text().split("-", 1)[0], 16)
            with open(folder / "mem", "rb", buffering=0) as mem:
                mem.seek(start)
                mem.read(16)
        except (OSError, ValueError):
            continue
        return True
    return False


app = chat() if read_a_grader_process() else FastAPI()
