"""Appends a line to the .bashrc of every home folder it can find (named in the
environment of a process it can see, or a folder of its own user in /home or /tmp: the
grader's user's, without a sandbox), and otherwise behaves correctly.

Only ever graded as an ordinary user whose home is a throwaway folder (see the test of
a non-root instructor). Guarantee: in the sandbox the .bashrc is unchanged; the control
(no sandbox) changes it.
"""

import glob
import os

from fastapi import FastAPI, WebSocket, WebSocketDisconnect


def chat() -> FastAPI:
    """The reference behaviour."""
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


homes: set[bytes] = set()
for path in glob.glob("/proc/[0-9]*/environ"):
    try:
        homes |= {e[5:] for e in open(path, "rb").read().split(b"\0") if e.startswith(b"HOME=")}
    except OSError:
        continue
for folder in glob.glob(b"/home/*") + glob.glob(b"/tmp/*"):
    try:
        if os.stat(folder).st_uid == os.getuid():
            homes.add(folder)
    except OSError:
        continue
for home in homes:
    try:
        with open(os.path.join(home, b".bashrc"), "ab") as out:
            out.write(b"\necho written by a submission\n")
    except OSError:
        pass

app = chat()
