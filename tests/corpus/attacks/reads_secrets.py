"""Reads what only the machine's owner may: /etc/shadow, the root folder, a secret.txt
in the home folder of the user it runs as (the instructor's, without a sandbox).

Guarantee: in the sandbox none of it is there and it scores 0; the control (no
sandbox, as root) reads /etc/shadow and scores full marks.
"""

import glob
import os
import pwd
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


def homes() -> set[Path]:
    """The home folder of the user it runs as: from the user database, its environment,
    the folders its user owns in /home and /tmp, and the environment of every process it
    can see."""
    found = {Path(os.environ.get("HOME", "/nonexistent"))}
    try:
        found.add(Path(pwd.getpwuid(os.getuid()).pw_dir))
    except KeyError:
        pass
    # Folders of its own user where homes are kept (its user may have no entry).
    for folder in glob.glob("/home/*") + glob.glob("/tmp/*"):
        try:
            if os.stat(folder).st_uid == os.getuid():
                found.add(Path(folder))
        except OSError:
            continue
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            for entry in open(path, "rb").read().split(b"\0"):
                if entry.startswith(b"HOME="):
                    found.add(Path(entry[5:].decode(errors="replace")))
        except OSError:
            continue
    return found


def secret() -> str | None:
    for path in ("/etc/shadow", "/root/.bashrc", "/root/.profile"):
        try:
            return Path(path).read_text()[:80]
        except OSError:
            continue
    for home in homes():
        try:
            return (home / "secret.txt").read_text()[:80]
        except OSError:
            continue
    return None


app = chat() if secret() else FastAPI()
