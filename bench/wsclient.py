"""A lean WebSocket client for the load generator: one asyncio Protocol, no library.

Why it exists rather than a `websockets` client: the load must cost far less than any
server it measures, and this one takes the least CPU per delivered message. Measured side
by side (`python -m bench.loadclient_cost`: 50 clients, 5 rounds, 2 cores, 2026-11-30):
websockets' sans-I/O protocol under a bare asyncio Protocol took 1.35x its CPU, the
library's asyncio client 1.6x, its sync client 3.5x, with no overlap between the
ranges. It does the least RFC 6455 allows: a plain HTTP/1.1 upgrade (no extensions, so
no compression is negotiated with any server) whose response is checked as section 4.1
requires (101, Upgrade, Connection, Sec-WebSocket-Accept), unmasked server frames
parsed straight out of the receive buffer, and client frames masked with an all-zero
key (a valid key that makes masking a no-op, so a payload is sent without an XOR pass).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
from collections.abc import Callable

TEXT, CLOSE, PING = 0x1, 0x8, 0x9
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept a server must answer `key` with (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def handshake_problem(response: bytes, key: str) -> str | None:
    """Why `response` (status line and headers) does not accept the upgrade asked with
    `key`, or None: RFC 6455 section 4.1 says the client must then fail the connection."""
    status, *lines = response.decode("latin-1").split("\r\n")
    if not status.startswith("HTTP/1.1 101"):
        return f"handshake refused ({status})"
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        return f"the 101 response upgrades to {headers.get('upgrade')!r}, not websocket"
    if "upgrade" not in headers.get("connection", "").lower():
        return "the 101 response has no `Connection: Upgrade`"
    if headers.get("sec-websocket-accept") != accept_key(key):
        return "the 101 response's Sec-WebSocket-Accept does not match the key sent"
    for extra in ("sec-websocket-extensions", "sec-websocket-protocol"):
        if extra in headers:  # we asked for none: RFC 6455 section 4.1, items 5 and 6
            return f"the server chose a {extra.title()} the client did not ask for"
    return None


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
        self._key = base64.b64encode(os.urandom(16)).decode()
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
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key}\r\n"
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
            problem = handshake_problem(bytes(self._buffer[:end]), self._key)
            if problem is not None:
                self.opened.set_exception(HandshakeError(problem))
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
