"""Real WebSocket clients for checks: connect, send, and expect frames in order.

Every step is written to a shared transcript, so a failure can show the student the
script that led to it. Waiting is always for a message, bounded by a timeout; silence
is proven by sending a marker and seeing it arrive next, never by sleeping.
"""

from __future__ import annotations

import asyncio
import os
import socket
import urllib.error
import urllib.request

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.frames import CloseCode, Frame, Opcode

from grader import diagnosis
from grader.checks import Failure, Mismatch, Missing, ServerErrors
from grader.server import AppServer


# Scale every wait on a slow machine without touching the checks: GRADER_TIME_SCALE=3.
def _time_scale() -> float:
    try:
        scale = float(os.environ.get("GRADER_TIME_SCALE", "1"))
    except ValueError:
        return 1.0  # the command line refuses a bad value before the checks run
    return scale if scale > 0 else 1.0


TIME_SCALE = _time_scale()
WITHIN = 2.0 * TIME_SCALE
CONNECT_WITHIN = 3.0 * TIME_SCALE
MAX_FRAME = 4 << 20


REFUSALS = {
    403: "The server closed the connection before accepting it. Does the endpoint reach "
    "`await websocket.accept()`?",
    404: "No endpoint answers at this path: check the route in @app.websocket(...).",
    500: "The endpoint raised an error before accepting the connection: see what the server said.",
}


def show(frame: str | bytes) -> str:
    """A frame as the student should see it: quoted, or marked as binary."""
    if isinstance(frame, bytes):
        return f"a binary frame {frame[:80]!r}"
    return repr(frame) if len(frame) <= 200 else repr(frame[:200]) + f" … ({len(frame)} chars)"


def show_difference(expected: str, actual: str | bytes) -> tuple[str, str]:
    """Both frames, shown around their first difference when they are long."""
    if isinstance(actual, bytes) or max(len(expected), len(actual)) <= 200:
        return show(expected), show(actual)
    same = next(
        (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
        min(len(expected), len(actual)),
    )
    start = max(0, same - 40)

    def window(text: str) -> str:
        cut = repr(text[start : start + 120])
        return f"…{cut}… ({len(text)} chars; they differ from character {same + 1})"

    return window(expected), window(actual)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[-1]


class Transcript(list[str]):
    """The steps of one check, in order, as sentences."""


class Client:
    """One WebSocket connection, named after who is using it (`alice`)."""

    def __init__(self, name: str, ws: ClientConnection, transcript: Transcript) -> None:
        self.name = name
        self.ws = ws
        self.transcript = transcript

    async def send(self, text: str) -> None:
        self.transcript.append(f"{self.name} sent {show(text)}")
        try:
            await self.ws.send(text)
        except ConnectionClosed as exc:
            raise self._closed_failure(exc, f"send {show(text)}") from None

    async def send_at_once(self, texts: list[str]) -> None:
        """Send `texts` as text frames in one write: the server reads them all at once,
        as it would a burst from a busy client, and handles them back to back."""
        self.transcript.append(f"{self.name} sent {len(texts)} messages at once")
        frames = [Frame(Opcode.TEXT, text.encode()).serialize(mask=True) for text in texts]
        self.ws.transport.write(b"".join(frames))
        await asyncio.sleep(0)  # let the write go out before the check reads

    async def receive(self, within: float = WITHIN) -> str | bytes:
        """The next frame; Missing if none arrives in time."""
        try:
            frame = await asyncio.wait_for(self.ws.recv(), within)
        except TimeoutError:
            raise Missing(
                f"{self.name} waited for a frame", "a frame", f"nothing within {within:g} s"
            ) from None
        except ConnectionClosed as exc:
            raise self._closed_failure(exc, "receive a frame") from None
        self.transcript.append(f"{self.name} received {show(frame)}")
        return frame

    async def expect(self, text: str, *, within: float = WITHIN, help: str | None = None) -> None:
        """The next frame this client receives must be exactly `text`."""
        try:
            frame = await self.receive(within)
        except Missing:
            raise Missing(
                f"{self.name} should have received {show(text)}",
                show(text),
                f"nothing within {within:g} s",
                help=help,
            ) from None
        except Failure as exc:
            exc.expected = show(text)
            exc.help = help or exc.help  # the check's own advice is the more specific
            raise
        if frame != text:
            expected, actual = show_difference(text, frame)
            mismatch = Mismatch(
                f"{self.name} should have received {show(text)} next", expected, actual, help=help
            )
            mismatch.frames = (text, frame)
            raise mismatch

    async def expect_closed(self, code: int | None = None, *, within: float = WITHIN) -> str:
        """The server must close this connection (with `code`, if given) and send nothing first.

        Returns the close reason the server gave ("" for none).
        """
        wanted = "the connection closed" + (f" with code {code}" if code else "")
        try:
            frame = await asyncio.wait_for(self.ws.recv(), within)
        except TimeoutError:
            raise Missing(
                f"the server should have closed {self.name}'s connection",
                wanted,
                f"still open after {within:g} s",
            ) from None
        except ConnectionClosed as exc:
            got = exc.rcvd.code if exc.rcvd else CloseCode.ABNORMAL_CLOSURE
            self.transcript.append(f"{self.name}'s connection was closed with code {got}")
            if code is not None and got != code:
                raise Mismatch(
                    f"{self.name}'s connection was closed with the wrong code",
                    wanted,
                    f"closed with code {got}",
                ) from None
            return exc.rcvd.reason if exc.rcvd else ""
        raise Mismatch(
            f"the server should have closed {self.name}'s connection", wanted, show(frame)
        )

    async def close(self) -> None:
        """Close cleanly, with a close handshake, as a browser tab does."""
        self.transcript.append(f"{self.name} disconnected")
        await self.ws.close()

    def drop(self) -> None:
        """Vanish without a close handshake, as a crashed client or a lost network does."""
        self.transcript.append(f"{self.name}'s connection dropped (no close handshake)")
        self.ws.transport.abort()

    def _closed_failure(self, exc: ConnectionClosed, doing: str) -> Failure:
        if exc.sent and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
            self.transcript.append(f"{self.name} closed the connection: the frame was too big")
            return Failure(
                f"the server sent {self.name} a frame larger than {MAX_FRAME >> 20} MiB",
                help="Every frame this exercise sends is a short chat line.",
            )
        code = exc.rcvd.code if exc.rcvd else None
        how = f"closed it with code {code}" if code else "dropped it without a close handshake"
        self.transcript.append(f"{self.name}'s connection was closed by the server")
        return Failure(
            f"{self.name} tried to {doing}, but the server {how}",
            help="The server closes a connection when the endpoint returns or raises: "
            "see what the server said.",
        )


async def open_client(
    name: str,
    url: str,
    transcript: Transcript,
    *,
    within: float = CONNECT_WITHIN,
    reading: bool = True,
    where: str = "",
) -> Client:
    """Connect to `url`; a refusal or a silent server becomes a Failure that says so."""
    transcript.append(
        f"{name} connected to {path_of(url)}{where}" + ("" if reading else " (and never reads)")
    )
    options: dict = {}
    try:
        if not reading:
            options = {"sock": _tiny_buffer_socket(url), "max_queue": 1}
        ws = await asyncio.wait_for(
            connect(
                url,
                open_timeout=None,
                close_timeout=1,
                # Checks send at most 64 KiB; a server must not make the checks process
                # (which no job cap bounds) hold gigabytes.
                max_size=MAX_FRAME,
                ping_interval=None,
                # No permessage-deflate: checks push megabytes, and compressing them
                # would cost seconds of CPU on a busy machine and test nothing.
                compression=None,
                **options,
            ),
            within,
        )
    except TimeoutError:
        raise Failure(
            f"could not connect to {url} within {within:g} s",
            help="The server accepted the TCP connection but never answered the WebSocket "
            "handshake. Is the event loop blocked (time.sleep, an endless loop)?",
        ) from None
    except InvalidStatus as exc:
        status = exc.response.status_code
        refused = Failure(
            f"{name}'s connection to {path_of(url)} was refused with HTTP {status}",
            help=REFUSALS.get(status, "See what the server said."),
        )
        refused.path = path_of(url)
        raise refused from None
    except (InvalidHandshake, OSError, ConnectionClosed) as exc:
        raise Failure(f"could not connect to {url}: {exc}") from None
    return Client(name, ws, transcript)


def _tiny_buffer_socket(url: str) -> socket.socket:
    host, port = url.split("/")[2].split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.setblocking(False)
    return sock


async def expect_refused(url: str, transcript: Transcript, status: int = 403) -> None:
    """The server must reject the handshake at `url` with HTTP `status`."""
    path = path_of(url)
    transcript.append(f"a client tried to connect to {path}")
    try:
        ws = await asyncio.wait_for(connect(url, open_timeout=None), CONNECT_WITHIN)
    except InvalidStatus as exc:
        got = exc.response.status_code
        if got != status:
            raise Mismatch(
                f"the handshake at {path} was refused with the wrong status",
                f"HTTP {status}",
                f"HTTP {got}",
            ) from None
        transcript.append(f"the handshake was refused with HTTP {got}")
        return
    except TimeoutError:
        raise Missing(
            f"the handshake at {path} should have been refused",
            f"HTTP {status}",
            f"no answer within {CONNECT_WITHIN:g} s",
        ) from None
    except (InvalidHandshake, OSError, ConnectionClosed) as exc:  # after TimeoutError, an OSError
        raise Failure(f"could not connect to {path}: {exc}") from None
    await ws.close()
    raise Mismatch(
        f"the handshake at {path} should have been refused",
        f"HTTP {status}",
        "the connection was accepted",
    )


class LiveServer:
    """The student's app, running, as a check sees it: connect clients, read its output."""

    def __init__(
        self, app: AppServer, transcript: Transcript | None = None, label: str | None = None
    ) -> None:
        self.app = app
        self.transcript = Transcript() if transcript is None else transcript
        self.label = label
        self.clients: list[Client] = []

    def url(self, path: str) -> str:
        return self.app.url(path)

    async def connect(self, path: str, name: str | None = None, *, reading: bool = True) -> Client:
        """Open a client on `path`, named after its last segment unless `name` is given.

        `reading=False` makes a client that never reads: its tiny receive buffer fills
        after a few kilobytes, and from then on the server's sends to it block.
        """
        name = name or path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        where = f" on server {self.label}" if self.label else ""
        client = await open_client(
            name, self.url(path), self.transcript, reading=reading, where=where
        )
        self.clients.append(client)
        return client

    async def expect_refused(self, path: str, status: int = 403) -> None:
        await expect_refused(self.url(path), self.transcript, status)

    async def get(self, path: str) -> tuple[int, str]:
        """An HTTP GET on the server: (status, body)."""
        self.transcript.append(f"GET {path}")

        def fetch() -> tuple[int, str]:
            try:
                with urllib.request.urlopen(self.app.url(path, "http"), timeout=WITHIN) as resp:
                    return resp.status, resp.read().decode(errors="replace")
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode(errors="replace")
            except OSError as exc:
                raise Failure(f"GET {path} failed: {exc}") from None

        status, body = await asyncio.to_thread(fetch)
        self.transcript.append(f"GET {path} answered {status} {show(body)}")
        return status, body

    async def shutdown(self, within: float = 5.0) -> bool:
        """Ask the server to stop (SIGTERM, as a deploy does); whether it exited in time."""
        self.transcript.append(
            f"server {self.label} was told to stop" if self.label else "the server was told to stop"
        )
        return await asyncio.to_thread(self.app.terminate, within)

    def output(self) -> str:
        """Everything the server has printed or logged so far."""
        return self.app.log()

    def expect_no_errors(self, during: str = "", *, help: str | None = None) -> None:  # noqa: A002
        """The server must have logged no unhandled exception so far; `during` says
        what it was doing ("while Redis was down")."""
        if diagnosis.has_errors(self.output()):
            who = f"server {self.label}" if self.label else "the server"
            raise ServerErrors(
                f"{who} logged an unhandled exception" + (f" {during}" if during else ""),
                help=help,
            )

    def abort_clients(self) -> None:
        """Drop every connection at once; the server is about to be killed anyway."""
        for client in self.clients:
            client.ws.transport.abort()
