"""A lean WebSocket client for the load generator: one asyncio Protocol, no library.

The benchmark wants the load generator to cost far less than any server it measures, so
a client here does the least RFC 6455 allows: a plain HTTP/1.1 upgrade (no extensions,
so no compression is negotiated with any server), unmasked server frames parsed straight
out of the receive buffer, and client frames masked with an all-zero key (a valid key
that makes masking a no-op, so a payload is sent without an XOR pass in Python).
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
from collections.abc import Callable

TEXT, CLOSE, PING = 0x1, 0x8, 0x9


class HandshakeError(Exception):
    """The server refused or broke the WebSocket handshake; the message says how."""


class Client(asyncio.Protocol):
    """One WebSocket connection; every complete text message is passed to `on_text`."""

    def __init__(self, host: str, path: str, on_text: Callable[[Client, bytes], None]) -> None:
        self.host = host
        self.path = path
        self.on_text = on_text
        self.on_lost: Callable[[Client], None] | None = None
        """Called when an open connection ends, unless we closed it ourselves."""
        self.close_code: int | None = None
        self.close_reason = ""
        self._closing = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._upgraded = False
        self._fragments: list[bytes] = []
        # Free for the owner to use: the load generator keeps its counters here.
        self.received = 0
        self.synced = False
        self.echo: asyncio.Event | None = None
        self.echo_prefix = b""
        self.home = -1  # with several server processes: its process's letter, as a byte
        self.witness = False
        self.awaiting: set[int] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeError("the server closed the connection"))
        elif self._upgraded and not self._closing and self.on_lost is not None:
            self.on_lost(self)

    def describe_close(self) -> str:
        """How the server ended the connection, in words."""
        if self.close_code is None:
            return "without a close frame"
        reason = f" {self.close_reason!r}" if self.close_reason else ""
        return f"with close code {self.close_code}{reason}"

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self._buffer[: self._buffer.find(b"\r\n")]).decode("latin-1")
            if not status.startswith("HTTP/1.1 101"):
                self.opened.set_exception(HandshakeError(f"handshake refused ({status})"))
                assert self.transport is not None
                self.transport.close()
                return
            del self._buffer[: end + 4]
            self._upgraded = True
            self.opened.set_result(None)
        self._parse()

    def _parse(self) -> None:
        buf = self._buffer
        pos, size = 0, len(buf)
        while size - pos >= 2:
            first, length, head = buf[pos], buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + head + length
            if end > size:
                break
            self._frame(first, bytes(buf[pos + head : end]))
            pos = end
        del buf[:pos]

    def _frame(self, first: int, payload: bytes) -> None:
        opcode = first & 0x0F
        if opcode in (TEXT, 0x2, 0x0):  # text, binary, or a continuation of either
            self._fragments.append(payload)
            if first & 0x80:  # FIN: the message is complete
                message = b"".join(self._fragments)
                self._fragments.clear()
                self.on_text(self, message)
        elif opcode == PING:
            self._send(0xA, payload)
        elif opcode == CLOSE:
            if len(payload) >= 2:
                self.close_code = int.from_bytes(payload[:2], "big")
                self.close_reason = payload[2:].decode("utf-8", "replace")
            self._send(CLOSE, payload[:2])
            assert self.transport is not None
            self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            header = bytes((0x80 | opcode, 0x80 | length))
        elif length < 1 << 16:
            header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
        assert self.transport is not None
        self.transport.write(header + b"\0\0\0\0" + payload)  # the zero mask key

    def send_text(self, payload: bytes) -> None:
        self._send(TEXT, payload)

    def close(self) -> None:
        self._closing = True
        if self.transport is not None:
            self.transport.close()


async def connect(
    host: str,
    port: int,
    path: str,
    on_text: Callable[[Client, bytes], None],
    timeout: float,
    rcvbuf: int | None = None,
) -> Client:
    """Open a WebSocket and complete its handshake; raise HandshakeError, OSError, Timeout."""
    loop = asyncio.get_running_loop()
    # IPPROTO_TCP, not 0: only then does asyncio set TCP_NODELAY (no Nagle delays).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setblocking(False)
    if rcvbuf is not None:  # set before connecting, so the window starts small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    client: Client | None = None
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (host, port))
            _, client = await loop.create_connection(lambda: Client(host, path, on_text), sock=sock)
            await client.opened
    except BaseException:
        if client is None:
            sock.close()
        else:  # the transport owns the socket now
            client.close()
        raise
    return client
