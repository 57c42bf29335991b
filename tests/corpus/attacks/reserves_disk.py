"""Reserves 1 GiB of disk on every file descriptor it holds that is not a socket (its
output, the witness's events, whatever else the grader handed it) with
fallocate(FALLOC_FL_KEEP_SIZE): the file's size does not change, so RLIMIT_FSIZE does
not stop it, yet the blocks are taken. Once a server's output and events were files in
the job's folder on the host: two gigabytes a server, ten servers a grading.

Guarantee: the job's folder on the host never holds more than a few MiB, during the
grading and after, because nothing the sandbox holds is a file on the host's disk (its
output and events are pipes). It serves the reference behaviour only if a reservation
worked, so it scores 0; the test's control reserves the same way on a host file and
sees the blocks taken.
"""

import ctypes
import ctypes.util
import os
import stat

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

FALLOC_FL_KEEP_SIZE = 1
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]


def reserve() -> bool:
    worked = False
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
        except OSError:
            continue
        if libc.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1 << 30) == 0:
            worked = True
    return worked


def chat() -> FastAPI:
    """The reference behaviour, served only when the attack worked."""
    chat_app, sockets = FastAPI(), []

    async def everyone(text: str) -> None:
        for socket in list(sockets):
            await socket.send_text(text)

    @chat_app.websocket("/ws/{client_id}")
    async def endpoint(websocket: WebSocket, client_id: str) -> None:
        reserve()  # again, with whatever the server holds by now
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


app = chat() if reserve() else FastAPI()
