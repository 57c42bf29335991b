"""Binds every loopback port it can and holds them for a few seconds, so that no other
server, client or Redis could get one: if they shared its loopback.

Guarantee: a correct submission graded beside it in the same batch scores full marks,
as in a control run on its own.
"""

import resource
import socket
import time

from fastapi import FastAPI

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
try:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
except (ValueError, OSError):
    pass
held = []
for port in range(1024, 65536):
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        held.append(sock)
    except OSError:
        sock.close()
        if len(held) > 60000:
            break
time.sleep(4)
app = FastAPI()
