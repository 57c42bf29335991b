"""The anchor of the fan-out benchmark: the kit's chat protocol, as fast as Python gets.

No FastAPI, no ASGI: a server written directly on the `websockets` library, which
encodes each message once and pushes the frame onto every connection synchronously with
`websockets.broadcast()`: no await per recipient and no backpressure, so a client that
stops reading never delays the others (its write buffer grows instead). It speaks exactly
the protocol of the exercises on `/ws/{client_id}`:

    on connect       "Client #{id} joined"  to everyone, the newcomer included
    on a message     "Client #{id}: {data}" to everyone, the sender included
    on disconnect    "Client #{id} left"    to everyone still there

Try it by hand with `.venv/bin/python -m bench.anchor --port 8001`; the benchmark starts
it with `--fd`, a listening socket it bound on 127.0.0.1 beforehand.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import socket
from http import HTTPStatus
from urllib.parse import unquote

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

ENDPOINT = re.compile(r"/ws/([^/?#]+)")
CONNECTIONS: set[ServerConnection] = set()


def client_id(request: Request) -> str | None:
    match = ENDPOINT.fullmatch(request.path.partition("?")[0])
    return unquote(match.group(1)) if match else None


def refuse_other_paths(connection: ServerConnection, request: Request) -> Response | None:
    if client_id(request) is None:
        return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
    return None


async def chat(connection: ServerConnection) -> None:
    assert connection.request is not None
    name = client_id(connection.request)
    CONNECTIONS.add(connection)
    broadcast(CONNECTIONS, f"Client #{name} joined")
    try:
        async for data in connection:
            if isinstance(data, str):
                broadcast(CONNECTIONS, f"Client #{name}: {data}")
    except ConnectionClosed:
        pass
    finally:
        CONNECTIONS.discard(connection)
        broadcast(CONNECTIONS, f"Client #{name} left")


async def main(sock: socket.socket) -> None:
    # A skipped recipient is logged as a warning; under load that logging would cost more
    # than the broadcast itself.
    logging.getLogger("websockets").setLevel(logging.ERROR)
    async with serve(
        chat, sock=sock, process_request=refuse_other_paths, compression=None
    ) as server:
        await server.serve_forever()


def listening_socket(args: argparse.Namespace) -> socket.socket:
    if args.fd is not None:
        return socket.socket(fileno=args.fd)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(512)
    return sock


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int, help="listen on 127.0.0.1:PORT")
    where.add_argument("--fd", type=int, help="serve an inherited listening socket")
    try:
        asyncio.run(main(listening_socket(parser.parse_args())))
    except KeyboardInterrupt:
        pass
